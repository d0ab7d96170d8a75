// What the TCP front ends (HTTP, RESP) share: binding an acceptor and accepting connections.
//
// Thread safety: as Boost.Asio's acceptor (one strand).
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/strand.hpp>
#include <functional>
#include <string>

#include "common/status.h"

namespace geodatastore::server {

// Opens acceptor on host:port (port 0 picks a free one) and returns the bound port.
inline StatusOr<uint16_t> Listen(boost::asio::ip::tcp::acceptor& acceptor, const std::string& host,
                                 uint16_t port) {
  namespace net = boost::asio;
  boost::system::error_code ec;
  const auto address = net::ip::make_address(host, ec);
  if (ec) return InvalidArgument("bad listen address '" + host + "': " + ec.message());
  const net::ip::tcp::endpoint endpoint(address, port);
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    return Status(StatusCode::kUnavailable,
                  "cannot listen on " + host + ":" + std::to_string(port) + ": " + ec.message());
  }
  return acceptor.local_endpoint().port();
}

// Accepts connections on acceptor, each on its own strand of io, with TCP_NODELAY, handing
// them to on_socket, until stopping() or the acceptor is closed.
template <typename IoContext, typename OnSocket, typename Stopping>
void AcceptLoop(boost::asio::ip::tcp::acceptor& acceptor, IoContext& io, OnSocket on_socket,
                Stopping stopping) {
  namespace net = boost::asio;
  acceptor.async_accept(net::make_strand(io),
                        [&acceptor, &io, on_socket, stopping](boost::system::error_code ec,
                                                              net::ip::tcp::socket socket) {
                          if (ec) {
                            if (stopping() || ec == net::error::operation_aborted) return;
                          } else {
                            socket.set_option(net::ip::tcp::no_delay(true), ec);
                            on_socket(std::move(socket));
                          }
                          if (!stopping()) AcceptLoop(acceptor, io, on_socket, stopping);
                        });
}

}  // namespace geodatastore::server
