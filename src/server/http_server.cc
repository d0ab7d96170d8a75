#include "server/http_server.h"

#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/version.hpp>

#include "server/listener.h"

namespace geodatastore::server {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

class HttpServer::Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, HttpServer* server) : stream_(std::move(socket)), server_(server) {
    ++server_->open_connections_;
  }
  ~Session() { --server_->open_connections_; }

  void Start() {
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->Read(); });
  }

 private:
  void Read() {
    parser_.emplace();
    parser_->body_limit(server_->max_body_bytes_);
    parser_->header_limit(16 * 1024);
    stream_.expires_after(std::chrono::seconds(60));
    http::async_read(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->OnRead(ec); });
  }

  void OnRead(beast::error_code ec) {
    if (ec == http::error::end_of_stream || ec == beast::error::timeout ||
        ec == net::error::operation_aborted) {
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
      server_->handler_(request, response_);
    }
    response_.set(http::field::server, "geodatastore");
    response_.prepare_payload();
    http::async_write(
        stream_, response_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->OnWrite(ec); });
  }

  void OnWrite(beast::error_code ec) {
    --server_->in_flight_;
    if (ec || !response_.keep_alive()) return Close();
    Read();
  }

  void Close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  HttpResponse response_;
  HttpServer* server_;
};

HttpServer::HttpServer(net::io_context& io, size_t max_body_bytes, Handler handler)
    : io_(io),
      acceptor_(net::make_strand(io)),
      max_body_bytes_(max_body_bytes),
      handler_(std::move(handler)) {}

HttpServer::~HttpServer() = default;

Status HttpServer::Start(const std::string& host, uint16_t port) {
  GDS_ASSIGN_OR_RETURN(port_, Listen(acceptor_, host, port));
  AcceptLoop(
      acceptor_, io_,
      [this](tcp::socket socket) { std::make_shared<Session>(std::move(socket), this)->Start(); },
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
