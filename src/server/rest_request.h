// The parts of a REST request that come from outside the process, parsed without the node:
// the target's path segments and query string (percent-decoded), and the JSON body's fields.
// RestApi's calls use them (rest_call.h); fuzz/rest_fuzz.cc runs them on any bytes.
//
// Every reader returns kInvalidArgument (HTTP 400) for input it refuses, kOutOfRange (400
// too, "out_of_range") for an integer over 2^63 - 1; none throws.
//
// Thread safety: plain functions and values.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "geodatastore/v1/crdt.pb.h"
#include "geodatastore/v1/storage.pb.h"

namespace geodatastore::server {

// Percent-decodes in; *ok is false if a '%' is not followed by two hex digits. In query
// strings (plus_is_space) '+' is a space; in path segments it is itself.
std::string PercentDecode(std::string_view in, bool* ok, bool plus_is_space);
// The non-empty segments of a path, still percent-encoded ("/a//b/" -> {"a", "b"}).
std::vector<std::string> SplitPath(std::string_view path);
// Decodes query (the part of the target after '?') into out; false if it is malformed.
bool ParseQuery(std::string_view query, std::map<std::string, std::string>* out);

// A request body: a JSON object (an empty body is {}), and typed readers of its fields.
// Absent or null optional fields leave out unchanged.
class RequestBody {
 public:
  RequestBody() : json_(nlohmann::json::object()) {}
  // kInvalidArgument unless body is empty or a JSON object.
  static StatusOr<RequestBody> Parse(std::string_view body);

  Status String(const char* field, std::string* out, bool required) const;
  // An integer within the signed 64-bit range (not negative unless allow_negative).
  Status Int(const char* field, int64_t* out, bool required, bool allow_negative) const;
  // The elements of a set add or remove: {"element": e} or {"elements": [e, ...]}.
  Status Elements(std::vector<std::string>* out) const;
  // The "type" field, which must name a type of family.
  Status Type(std::optional<v1::CrdtType>* out, v1::Family family, bool required) const;

  const nlohmann::json& value() const { return json_; }

 private:
  explicit RequestBody(nlohmann::json json) : json_(std::move(json)) {}
  // For an absent field: Ok if it is optional, else kInvalidArgument.
  static Status Absent(const char* field, bool required);

  nlohmann::json json_;
};

}  // namespace geodatastore::server
