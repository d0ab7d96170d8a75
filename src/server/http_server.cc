#include "server/http_server.h"

#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/version.hpp>

#include "server/listener.h"

namespace geodatastore::server {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

using PlainStream = beast::tcp_stream;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

// One connection: (handshake,) read a request, answer it, repeat while kept alive.
template <typename Stream>
class HttpServer::Session : public std::enable_shared_from_this<Session<Stream>> {
 public:
  // context: the TLS context the stream was made with (kept alive with it), or null.
  template <typename... Args>
  Session(HttpServer* server, std::shared_ptr<net::ssl::context> context, Args&&... args)
      : context_(std::move(context)), stream_(std::forward<Args>(args)...), server_(server) {
    ++server_->open_connections_;
  }
  ~Session() { --server_->open_connections_; }

  void Start() {
    net::dispatch(stream_.get_executor(), [self = this->shared_from_this()] {
      if constexpr (std::is_same_v<Stream, TlsStream>) {
        beast::get_lowest_layer(self->stream_).expires_after(std::chrono::seconds(10));
        self->stream_.async_handshake(net::ssl::stream_base::server, [self](beast::error_code ec) {
          if (ec) {
            if (self->server_->options_.on_handshake_failure)
              self->server_->options_.on_handshake_failure();
            return self->Close();
          }
          self->Read();
        });
      } else {
        self->Read();
      }
    });
  }

  // Answers 503 at once and closes (over the connection cap).
  void Refuse() {
    response_ = {};
    response_.result(http::status::service_unavailable);
    response_.set(http::field::content_type, "application/json");
    response_.body() = R"({"error":"too many connections","code":"unavailable"})";
    response_.keep_alive(false);
    ++server_->in_flight_;
    Write();
  }

 private:
  void Read() {
    parser_.emplace();
    parser_->body_limit(server_->options_.max_body_bytes);
    parser_->header_limit(16 * 1024);
    beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(60));
    http::async_read(
        stream_, buffer_, *parser_,
        [self = this->shared_from_this()](beast::error_code ec, size_t) { self->OnRead(ec); });
  }

  void OnRead(beast::error_code ec) {
    if (ec == http::error::end_of_stream || ec == beast::error::timeout ||
        ec == net::error::operation_aborted || ec == net::ssl::error::stream_truncated) {
      return Close();
    }
    response_ = {};
    ++server_->in_flight_;
    if (ec == http::error::body_limit) {
      response_.result(http::status::payload_too_large);
      response_.set(http::field::content_type, "application/json");
      response_.body() = R"({"error":"request body over the limit","code":"payload_too_large"})";
      response_.keep_alive(false);
    } else if (ec) {
      response_.result(http::status::bad_request);
      response_.set(http::field::content_type, "application/json");
      response_.body() = R"({"error":"malformed HTTP request","code":"bad_request"})";
      response_.keep_alive(false);
    } else {
      const HttpRequest& request = parser_->get();
      response_.version(request.version());
      response_.keep_alive(request.keep_alive() && !server_->stopping_);
      return Handle(request);
    }
    Write();
  }

  // Whoever comes second — the handler returning or done — writes the answer: at once when
  // the handler answered before returning, else on the connection's strand.
  void Handle(const HttpRequest& request) {
    answer_ = kHandling;
    server_->handler_(request, response_, [self = this->shared_from_this()] {
      int handling = kHandling;
      if (self->answer_.compare_exchange_strong(handling, kAnswered)) return;
      net::post(self->stream_.get_executor(), [self] { self->Write(); });
    });
    int handling = kHandling;
    if (!answer_.compare_exchange_strong(handling, kReturned)) Write();
  }

  void Write() {
    response_.set(http::field::server, "geodatastore");
    response_.prepare_payload();
    http::async_write(
        stream_, response_,
        [self = this->shared_from_this()](beast::error_code ec, size_t) { self->OnWrite(ec); });
  }

  void OnWrite(beast::error_code ec) {
    --server_->in_flight_;
    if (ec || !response_.keep_alive()) return Close();
    Read();
  }

  void Close() {
    beast::error_code ignored;
    beast::get_lowest_layer(stream_).socket().shutdown(tcp::socket::shutdown_send, ignored);
  }

  std::shared_ptr<net::ssl::context> context_;
  Stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  HttpResponse response_;
  HttpServer* server_;
  enum : int { kHandling, kAnswered, kReturned };
  std::atomic<int> answer_{kHandling};
};

HttpServer::HttpServer(net::io_context& io, Options options, Handler handler)
    : io_(io),
      acceptor_(net::make_strand(io)),
      options_(std::move(options)),
      handler_(std::move(handler)) {}

HttpServer::~HttpServer() = default;

void HttpServer::Accept(tcp::socket socket) {
  const bool over = open_connections_.load() >= options_.max_connections;
  if (options_.tls != nullptr && !over) {
    std::shared_ptr<net::ssl::context> context = options_.tls->Current();
    net::ssl::context& ref = *context;
    std::make_shared<Session<TlsStream>>(this, std::move(context), std::move(socket), ref)->Start();
    return;
  }
  auto session = std::make_shared<Session<PlainStream>>(this, nullptr, std::move(socket));
  if (over) {
    // Over TLS the refusal cannot be read without a handshake: just close.
    if (options_.tls == nullptr) session->Refuse();
    return;
  }
  session->Start();
}

Status HttpServer::Start(const std::string& host, uint16_t port) {
  GDS_ASSIGN_OR_RETURN(port_, Listen(acceptor_, host, port));
  AcceptLoop(
      acceptor_, io_, [this](tcp::socket socket) { Accept(std::move(socket)); },
      [this] { return stopping_.load(); });
  return Status::Ok();
}

void HttpServer::Stop() {
  stopping_ = true;
  net::post(acceptor_.get_executor(), [this] {
    beast::error_code ignored;
    acceptor_.close(ignored);
  });
}

}  // namespace geodatastore::server
