// HttpServer: an HTTP/1.1 server on Boost.Beast that hands every request to one handler.
// Connections are kept alive; bodies over the limit get 413 and the connection closes.
//
// Thread safety: Start and Stop from one thread; the handler runs on the io_context's
// threads, concurrently for different connections.
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/http.hpp>
#include <functional>
#include <memory>
#include <string>

#include "common/status.h"

namespace geodatastore::server {

using HttpRequest = boost::beast::http::request<boost::beast::http::string_body>;
using HttpResponse = boost::beast::http::response<boost::beast::http::string_body>;

class HttpServer {
 public:
  using Handler = std::function<void(const HttpRequest&, HttpResponse&)>;

  // REQUIRES: io outlives the server.
  HttpServer(boost::asio::io_context& io, size_t max_body_bytes, Handler handler);
  ~HttpServer();

  // Binds host:port (port 0 picks a free one) and starts accepting.
  Status Start(const std::string& host, uint16_t port);
  uint16_t port() const { return port_; }
  // Stops accepting; connections finish the request in hand and then close.
  void Stop();
  // Connections still open, and requests read but not yet answered.
  int open_connections() const { return open_connections_.load(); }
  int in_flight() const { return in_flight_.load(); }

 private:
  class Session;

  boost::asio::io_context& io_;
  boost::asio::ip::tcp::acceptor acceptor_;
  const size_t max_body_bytes_;
  Handler handler_;
  uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> open_connections_{0};
  std::atomic<int> in_flight_{0};
};

}  // namespace geodatastore::server
