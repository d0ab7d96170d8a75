// A synchronous HTTP/1.1 client on Boost.Beast (tests, geobench): one keep-alive
// connection to 127.0.0.1:port, reconnected when the server closed it.
//
// Thread safety: one client per thread.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

namespace geodatastore::client {

struct HttpResult {
  int status = 0;  // 0: no answer (connection failed)
  std::string body;
  nlohmann::json json;  // discarded if the body is not JSON
  std::map<std::string, std::string> headers;
};

class HttpClient {
 public:
  explicit HttpClient(uint16_t port);
  ~HttpClient();

  HttpResult Request(boost::beast::http::verb method, const std::string& target,
                     const std::string& body = "",
                     const std::map<std::string, std::string>& headers = {});
  HttpResult Get(const std::string& target) {
    return Request(boost::beast::http::verb::get, target);
  }
  HttpResult Post(const std::string& target, const nlohmann::json& body) {
    return Request(boost::beast::http::verb::post, target, body.dump());
  }
  HttpResult Delete(const std::string& target) {
    return Request(boost::beast::http::verb::delete_, target);
  }

 private:
  bool Connect();

  uint16_t port_;
  boost::asio::io_context io_;
  std::unique_ptr<boost::beast::tcp_stream> stream_;
};

}  // namespace geodatastore::client
