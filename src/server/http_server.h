// HttpServer: an HTTP/1.1 server on Boost.Beast that hands every request to one handler,
// over plain TCP or TLS (HTTPS). Connections are kept alive; bodies over the limit get 413
// and the connection closes; past max_connections a new connection gets 503 and is closed.
//
// Thread safety: Start and Stop from one thread; the handler runs on the io_context's
// threads, concurrently for different connections; done may be called from any thread.
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/http.hpp>
#include <functional>
#include <memory>
#include <string>

#include "common/status.h"
#include "security/tls.h"

namespace geodatastore::server {

using HttpRequest = boost::beast::http::request<boost::beast::http::string_body>;
using HttpResponse = boost::beast::http::response<boost::beast::http::string_body>;

class HttpServer {
 public:
  // Answers a request: fills the response and calls done, once — before returning or later
  // from any thread (a request that waits holds no thread). The request and response stay
  // valid until done is called.
  using Handler =
      std::function<void(const HttpRequest&, HttpResponse&, std::function<void()> done)>;

  struct Options {
    size_t max_body_bytes = 1 << 20;
    int max_connections = 10000;
    // HTTPS when set (REQUIRES: it outlives the server).
    const security::ReloadableSslContext* tls = nullptr;
    // Counts failed TLS handshakes.
    std::function<void()> on_handshake_failure;
  };
  // REQUIRES: io outlives the server.
  HttpServer(boost::asio::io_context& io, Options options, Handler handler);
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
  template <typename Stream>
  class Session;
  void Accept(boost::asio::ip::tcp::socket socket);

  boost::asio::io_context& io_;
  boost::asio::ip::tcp::acceptor acceptor_;
  const Options options_;
  Handler handler_;
  uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> open_connections_{0};
  std::atomic<int> in_flight_{0};
};

}  // namespace geodatastore::server
