#include "server/resp_server.h"

#include <algorithm>
#include <array>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <optional>

#include "server/listener.h"

namespace geodatastore::server {

namespace net = boost::asio;
using tcp = net::ip::tcp;

// Connections with fewer pending writes than this join a group commit.
constexpr size_t kGroupBelow = 8;

class RespServer::Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(tcp::socket socket, RespServer* server)
      : socket_(std::move(socket)), server_(server), client_(server->handler_->NewClient()) {
    ++server_->open_connections_;
    Touch();
  }
  ~Connection() {
    --server_->open_connections_;
    server_->buffered_bytes_ -= in_.size();
  }

  void Start() {
    net::dispatch(socket_.get_executor(), [self = shared_from_this()] {
      if (self->server_->options_.tls == nullptr) return self->Read();
      self->context_ = self->server_->options_.tls->Current();
      self->tls_.emplace(self->socket_, *self->context_);
      self->tls_->async_handshake(net::ssl::stream_base::server,
                                  [self](boost::system::error_code ec) {
                                    if (!ec) return self->Read();
                                    if (self->server_->options_.on_handshake_failure)
                                      self->server_->options_.on_handshake_failure();
                                    self->Close();
                                  });
    });
  }

  // Answers and closes (over the connection cap).
  void Refuse(std::string reply) {
    out_ = std::move(reply);
    net::async_write(
        socket_, net::buffer(out_),
        [self = shared_from_this()](boost::system::error_code, size_t) { self->Close(); });
  }

  // Closes the connection if it has been idle since before cutoff (from the sweep).
  void CloseIfIdleSince(std::chrono::steady_clock::time_point cutoff) {
    net::post(socket_.get_executor(), [self = shared_from_this(), cutoff] {
      if (self->last_active_ < cutoff) self->Close();
    });
  }

 private:
  void Touch() { last_active_ = std::chrono::steady_clock::now(); }

  void Close() {
    boost::system::error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
  }

  void Read() {
    auto on_read = [self = shared_from_this()](boost::system::error_code ec, size_t n) {
      self->OnRead(ec, n);
    };
    if (tls_) {
      tls_->async_read_some(net::buffer(chunk_), std::move(on_read));
    } else {
      socket_.async_read_some(net::buffer(chunk_), std::move(on_read));
    }
  }

  void OnRead(boost::system::error_code ec, size_t n) {
    if (ec) return;  // closed by the client, or the server stops
    Touch();
    const RespServer::Options& o = server_->options_;
    if (server_->buffered_bytes_ + n > o.max_buffered_bytes) {
      std::string out;
      resp::AppendError(&out, "ERR server buffers for incomplete commands are full");
      return Send(std::move(out), false);
    }
    in_.append(chunk_.data(), n);
    server_->buffered_bytes_ += n;
    commands_.clear();
    resp::ParserLimits limits;
    limits.max_bulk_bytes = o.max_request_bytes;
    auto used = resp::Parse(in_, &commands_, limits);
    std::string out;
    if (!used.ok()) {
      // Not RESP: answer what came before, then say why and close (as Redis does).
      server_->handler_->Execute(commands_, &client_, &out);
      resp::AppendError(&out, "ERR " + used.status().message());
      Consume(in_.size());
      return Send(std::move(out), false);
    }
    Consume(*used);
    if (in_.size() > o.max_request_bytes + 1024) {
      resp::AppendError(&out, "ERR Protocol error: request over the size limit");
      return Send(std::move(out), false);
    }
    if (commands_.empty()) return Read();
    RespHandler::Pipeline pipeline = server_->handler_->Begin(commands_, &client_);
    // A pipeline of several writes is a batch already: grouping it with others only makes
    // every reply wait for the largest (measured with redis-benchmark -P 16: 115k SET/s
    // alone, 104k grouped).
    if (pipeline.pending.size() >= kGroupBelow) server_->handler_->Apply({&pipeline});
    if (pipeline.pending.empty()) {
      const bool keep_open = RespHandler::Finish(pipeline, &out);
      return Send(std::move(out), keep_open);
    }
    server_->Enqueue(shared_from_this(), std::move(pipeline));
  }

  // Drops the first n bytes of in_, and gives a large buffer back once it is drained.
  void Consume(size_t n) {
    in_.erase(0, n);
    server_->buffered_bytes_ -= n;
    if (in_.empty() && in_.capacity() > 2 * chunk_.size()) std::string().swap(in_);
  }

  void AfterSend(bool keep_open) {
    if (keep_open && !server_->stopping_) return Read();
    if (tls_) {
      tls_->async_shutdown(
          [self = shared_from_this()](boost::system::error_code) { self->Close(); });
      return;
    }
    Close();
  }

 public:
  // Writes out, then reads on (or closes).
  void Send(std::string out, bool keep_open) {
    if (out.empty()) return keep_open ? Read() : void();
    if (tls_) {
      out_ = std::move(out);
      net::async_write(
          *tls_, net::buffer(out_),
          [self = shared_from_this(), keep_open](boost::system::error_code ec, size_t) {
            if (!ec) self->AfterSend(keep_open);
          });
      return;
    }
    // Replies are small and the socket's buffer is usually free: write at once, without a
    // round through the reactor, and wait for the socket only for what did not fit.
    boost::system::error_code wec;
    socket_.non_blocking(true, wec);
    size_t written = 0;
    if (!wec) written = socket_.write_some(net::buffer(out), wec);
    if (wec && wec != net::error::would_block && wec != net::error::try_again) return;
    if (written == out.size()) return AfterSend(keep_open);
    out_ = out.substr(written);
    net::async_write(socket_, net::buffer(out_),
                     [self = shared_from_this(), keep_open](boost::system::error_code ec, size_t) {
                       if (!ec) self->AfterSend(keep_open);
                     });
  }

 private:
  tcp::socket socket_;
  std::shared_ptr<net::ssl::context> context_;         // with TLS: kept alive with its stream
  std::optional<net::ssl::stream<tcp::socket&>> tls_;  // with TLS
  RespServer* const server_;
  RespHandler::Client client_;
  std::chrono::steady_clock::time_point last_active_;  // on the connection's strand
  std::array<char, 64 * 1024> chunk_;
  std::string in_;  // received, not yet a complete command
  std::string out_;
  std::vector<resp::Command> commands_;
};

void RespServer::Enqueue(std::shared_ptr<Connection> connection, RespHandler::Pipeline pipeline) {
  std::lock_guard<std::mutex> lock(group_mu_);
  group_.push_back({std::move(connection), std::move(pipeline)});
  if (commit_posted_) return;
  commit_posted_ = true;
  // Behind the handlers already queued: the connections whose requests arrived with this
  // one join its batch.
  net::post(io_, [this] { CommitGroup(); });
}

void RespServer::CommitGroup() {
  std::vector<Queued> group;
  {
    std::lock_guard<std::mutex> lock(group_mu_);
    group.swap(group_);
    commit_posted_ = false;
  }
  std::vector<RespHandler::Pipeline*> pipelines;
  for (Queued& q : group) pipelines.push_back(&q.pipeline);
  handler_->Apply(pipelines);
  for (Queued& q : group) {
    std::string out;
    const bool keep_open = RespHandler::Finish(q.pipeline, &out);
    q.connection->Send(std::move(out), keep_open);
  }
}

RespServer::RespServer(RespHandler* handler, Options options)
    : acceptor_(net::make_strand(io_)), options_(std::move(options)), handler_(handler) {}

RespServer::~RespServer() { Stop(); }

void RespServer::Accept(tcp::socket socket) {
  auto connection = std::make_shared<Connection>(std::move(socket), this);
  if (open_connections_.load() > options_.max_connections) {
    // As Redis; over TLS the client sees the connection close.
    if (options_.tls == nullptr) connection->Refuse("-ERR max number of clients reached\r\n");
    return;
  }
  if (options_.idle_timeout.count() > 0) {
    std::lock_guard<std::mutex> lock(connections_mu_);
    connections_.insert(connection);
  }
  connection->Start();
}

void RespServer::SweepIdle() {
  sweep_->expires_after(std::chrono::seconds(1));
  sweep_->async_wait([this](boost::system::error_code ec) {
    if (ec || stopping_) return;
    const auto cutoff = std::chrono::steady_clock::now() - options_.idle_timeout;
    std::vector<std::shared_ptr<Connection>> live;
    {
      std::lock_guard<std::mutex> lock(connections_mu_);
      for (auto it = connections_.begin(); it != connections_.end();) {
        if (auto c = it->lock()) {
          live.push_back(std::move(c));
          ++it;
        } else {
          it = connections_.erase(it);
        }
      }
    }
    for (auto& c : live) c->CloseIfIdleSince(cutoff);
    SweepIdle();
  });
}

Status RespServer::Start(const std::string& host, uint16_t port) {
  GDS_ASSIGN_OR_RETURN(port_, Listen(acceptor_, host, port));
  AcceptLoop(
      acceptor_, io_, [this](tcp::socket socket) { Accept(std::move(socket)); },
      [this] { return stopping_.load(); });
  if (options_.idle_timeout.count() > 0) {
    sweep_ = std::make_unique<net::steady_timer>(io_);
    SweepIdle();
  }
  for (unsigned i = 0; i < std::max(1u, options_.threads); ++i)
    threads_.emplace_back([this] { io_.run(); });
  return Status::Ok();
}

void RespServer::Stop() {
  if (stopping_.exchange(true)) return;
  net::post(acceptor_.get_executor(), [this] {
    boost::system::error_code ignored;
    acceptor_.close(ignored);
  });
  io_.stop();
  for (std::thread& t : threads_) t.join();
  threads_.clear();
}

}  // namespace geodatastore::server
