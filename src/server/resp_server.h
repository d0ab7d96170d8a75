// RespServer: the Redis protocol (RESP2) on Boost.Asio at listen.resp. Each connection
// reads what the client sent, parses every complete command in it (a pipeline), runs them
// through RespHandler (consecutive writes as one storage batch) and writes the replies in
// order. A frame that is not RESP gets "-ERR Protocol error: ..." and the connection closes.
//
// Thread safety: Start and Stop from one thread; connections run on the io_context's threads.
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <memory>
#include <string>

#include "common/status.h"
#include "server/resp_handler.h"

namespace geodatastore::server {

class RespServer {
 public:
  // REQUIRES: io and handler outlive the server.
  RespServer(boost::asio::io_context& io, RespHandler* handler, size_t max_request_bytes);
  ~RespServer();

  // Binds host:port (port 0 picks a free one) and starts accepting.
  Status Start(const std::string& host, uint16_t port);
  uint16_t port() const { return port_; }
  void Stop();
  int open_connections() const { return open_connections_.load(); }

 private:
  class Connection;
  void Accept();

  boost::asio::io_context& io_;
  boost::asio::ip::tcp::acceptor acceptor_;
  RespHandler* const handler_;
  const size_t max_request_bytes_;
  uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> open_connections_{0};
};

}  // namespace geodatastore::server
