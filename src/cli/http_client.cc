#include "cli/http_client.h"

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>

namespace geodatastore::client {

namespace beast = boost::beast;
namespace http = beast::http;
using tcp = boost::asio::ip::tcp;

HttpClient::HttpClient(uint16_t port) : port_(port) {}
HttpClient::~HttpClient() = default;

bool HttpClient::Connect() {
  stream_ = std::make_unique<beast::tcp_stream>(io_);
  beast::error_code ec;
  stream_->socket().connect(tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port_), ec);
  if (ec) stream_.reset();
  return stream_ != nullptr;
}

HttpResult HttpClient::Request(http::verb method, const std::string& target,
                               const std::string& body,
                               const std::map<std::string, std::string>& headers) {
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (!stream_ && !Connect()) return {};
    http::request<http::string_body> request(method, target, 11);
    request.set(http::field::host, "127.0.0.1");
    request.keep_alive(true);
    for (const auto& [k, v] : headers) request.set(k, v);
    if (!body.empty()) request.set(http::field::content_type, "application/json");
    request.body() = body;
    request.prepare_payload();
    beast::error_code ec;
    http::write(*stream_, request, ec);
    beast::flat_buffer buffer;
    http::response<http::string_body> response;
    if (!ec) http::read(*stream_, buffer, response, ec);
    if (ec) {  // the server closed an idle connection: reconnect once
      stream_.reset();
      continue;
    }
    HttpResult result;
    result.status = response.result_int();
    result.body = response.body();
    result.json = nlohmann::json::parse(result.body, nullptr, false);
    for (const auto& field : response)
      result.headers[std::string(field.name_string())] = std::string(field.value());
    if (!response.keep_alive()) stream_.reset();
    return result;
  }
  return {};
}

}  // namespace geodatastore::client
