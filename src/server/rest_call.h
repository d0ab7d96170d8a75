// RestApi::Call: one REST request being answered — its parsed parts, the readers of its body
// and query, and the answer being built. Private to the REST front end (rest_*.cc).
//
// Thread safety: one call is handled by one thread at a time; a step that waits hands it to
// a continuation (Defer), which may run on another thread.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "server/rest_api.h"
#include "server/rest_request.h"
#include "server/status_codes.h"

namespace geodatastore::server {

struct RestApi::Call {
  using json = nlohmann::json;

  Call(const HttpRequest& request, HttpResponse& response, std::function<void()> done)
      : request(request), response(response), done(std::move(done)) {}

  const HttpRequest& request;
  HttpResponse& response;
  std::function<void()> done;                // hands the answer to the HTTP server
  std::vector<std::string> params;           // the {} segments of the route, decoded
  std::map<std::string, std::string> query;  // decoded
  RequestBody body;                          // the parsed body (an object), once Body() ran
  geodatastore::Status refused;              // what the answer refused, if a Status stands for it
  uint64_t wrote = 0;  // the seq of the call's write, which its session token must cover
  std::weak_ptr<Call> self;
  // Steps that handed the answer to a continuation (Defer). Atomic: a continuation may run
  // its own step while the step that deferred is still returning.
  std::atomic<int> deferred{0};

  // For a step that waits: keeps the call alive until its continuation answers.
  std::shared_ptr<Call> Defer() {
    ++deferred;
    return self.lock();
  }

  void Json(int status, const json& value) {
    response.result(static_cast<boost::beast::http::status>(status));
    response.set(boost::beast::http::field::content_type, "application/json");
    response.body() = value.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
  }
  // An error without a Status of its own (405, 403 for fault injection off).
  void Error(int status, std::string_view code, const std::string& message) {
    Json(status, {{"error", message}, {"code", code}});
  }
  void Error(const geodatastore::Status& s) {
    refused = s;
    Error(StatusFor(s.code()).http, StatusCodeName(s.code()), s.message());
  }
  void BadRequest(const std::string& message) { Error(InvalidArgument(message)); }

  // Reads the `limit` query parameter, a whole number from 1 to max, into out, which keeps
  // its default when the parameter is absent; false after answering 400.
  bool Limit(size_t max, size_t* out);
  // Parses the body as a JSON object (an empty body is {}); false after answering 400.
  bool Body();
  // Ok: true; else false after answering with s.
  bool Ok(const geodatastore::Status& s);
  // Field readers: false after answering 400. Absent optional fields leave out unchanged.
  bool String(const char* field, std::string* out, bool required);
  bool Int(const char* field, int64_t* out, bool required, bool allow_negative);
  // The elements of a set add or remove: {"element": e} or {"elements": [e, ...]}.
  bool Elements(std::vector<std::string>* out);
  // The "type" field, which must name a type of family.
  bool Type(std::optional<v1::CrdtType>* out, v1::Family family, bool required);
};

}  // namespace geodatastore::server
