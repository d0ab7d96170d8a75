#include "server/rest_request.h"

#include <algorithm>

#include "crdt/any_crdt.h"
#include "storage/store.h"

namespace geodatastore::server {

using json = nlohmann::json;

namespace {

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::string PercentDecode(std::string_view in, bool* ok, bool plus_is_space) {
  std::string out;
  *ok = true;
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '%') {
      auto hex = HexDigit;
      if (i + 2 >= in.size() || hex(in[i + 1]) < 0 || hex(in[i + 2]) < 0) {
        *ok = false;
        return out;
      }
      out.push_back(static_cast<char>(hex(in[i + 1]) * 16 + hex(in[i + 2])));
      i += 2;
    } else if (in[i] == '+' && plus_is_space) {
      out.push_back(' ');
    } else {
      out.push_back(in[i]);
    }
  }
  return out;
}

std::vector<std::string> SplitPath(std::string_view path) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start < path.size()) {
    if (path[start] == '/') {
      ++start;
      continue;
    }
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    out.emplace_back(path.substr(start, end - start));
    start = end;
  }
  return out;
}

bool ParseQuery(std::string_view query, std::map<std::string, std::string>* out) {
  while (!query.empty()) {
    const size_t amp = query.find('&');
    const std::string_view kv = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    const size_t eq = kv.find('=');
    bool ok_key = true, ok_value = true;
    std::string key = PercentDecode(kv.substr(0, eq), &ok_key, true);
    std::string value =
        eq == std::string_view::npos ? "" : PercentDecode(kv.substr(eq + 1), &ok_value, true);
    if (!ok_key || !ok_value) return false;
    (*out)[key] = value;
  }
  return true;
}

StatusOr<RequestBody> RequestBody::Parse(std::string_view body) {
  if (body.empty()) return RequestBody();
  json parsed = json::parse(body, nullptr, false);
  if (parsed.is_discarded()) return InvalidArgument("body is not valid JSON");
  if (!parsed.is_object()) return InvalidArgument("body must be a JSON object");
  return RequestBody(std::move(parsed));
}

Status RequestBody::Absent(const char* field, bool required) {
  if (required) return InvalidArgument(std::string("field '") + field + "' is required");
  return Status::Ok();
}

Status RequestBody::String(const char* field, std::string* out, bool required) const {
  auto it = json_.find(field);
  if (it == json_.end() || it->is_null()) return Absent(field, required);
  if (!it->is_string())
    return InvalidArgument(std::string("field '") + field + "' must be a string");
  *out = it->get<std::string>();
  return Status::Ok();
}

Status RequestBody::Int(const char* field, int64_t* out, bool required, bool allow_negative) const {
  auto it = json_.find(field);
  if (it == json_.end() || it->is_null()) return Absent(field, required);
  if (!it->is_number_integer()) {
    return InvalidArgument(std::string("field '") + field +
                           "' must be an integer within the 64-bit signed range");
  }
  if (it->is_number_unsigned() && it->get<uint64_t>() > static_cast<uint64_t>(INT64_MAX))
    return OutOfRange(std::string("field '") + field + "' is over 2^63 - 1");
  const int64_t v = it->get<int64_t>();
  if (v < 0 && !allow_negative)
    return InvalidArgument(std::string("field '") + field + "' must not be negative");
  *out = v;
  return Status::Ok();
}

Status RequestBody::Elements(std::vector<std::string>* out) const {
  auto one = json_.find("element");
  auto many = json_.find("elements");
  if ((one == json_.end()) == (many == json_.end()))
    return InvalidArgument("give exactly one of 'element' and 'elements'");
  if (one != json_.end()) {
    std::string e;
    GDS_RETURN_IF_ERROR(String("element", &e, true));
    out->push_back(std::move(e));
    return Status::Ok();
  }
  const bool strings =
      many->is_array() && !many->empty() &&
      std::all_of(many->begin(), many->end(), [](const json& e) { return e.is_string(); });
  if (!strings) return InvalidArgument("'elements' must be a non-empty array of strings");
  for (const json& e : *many) out->push_back(e.get<std::string>());
  return Status::Ok();
}

Status RequestBody::Type(std::optional<v1::CrdtType>* out, v1::Family family, bool required) const {
  std::string name;
  GDS_RETURN_IF_ERROR(String("type", &name, required));
  if (name.empty()) return Status::Ok();
  auto type = crdt::ParseTypeName(name);
  if (!type) return InvalidArgument("unknown type '" + name + "'");
  if (storage::FamilyOf(*type) != family) {
    return InvalidArgument("type '" + name + "' is not one of the " +
                           std::string(storage::FamilyName(family)));
  }
  *out = type;
  return Status::Ok();
}

}  // namespace geodatastore::server
