// RestApi's first stage: a request's path and query parsed, its route found, its caller
// authorized and its session token waited for, then the route runs; and the readers a
// route uses to take its fields from the body.
#include "server/rest_api.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "engine/session.h"
#include "server/consistency.h"
#include "server/rest_call.h"

namespace geodatastore::server {

namespace http = boost::beast::http;
using json = nlohmann::json;

namespace {

// What a request needs: admin for /admin/*, read for other GETs, write for the rest;
// nothing for /metrics, /healthz and /readyz (scrapers and probes).
std::optional<security::Action> RequiredAction(http::verb method,
                                               const std::vector<std::string>& segments) {
  if (segments.empty()) return security::Action::kRead;
  if (segments[0] == "metrics" || segments[0] == "healthz" || segments[0] == "readyz")
    return std::nullopt;
  if (segments[0] == "admin") return security::Action::kAdmin;
  return method == http::verb::get || method == http::verb::head ? security::Action::kRead
                                                                 : security::Action::kWrite;
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// In query strings (plus_is_space) '+' is a space; in path segments it is itself.
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

// Decodes query (the part of the target after '?') into out; false if it is malformed.
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

}  // namespace

bool RestApi::Call::Absent(const char* field, bool required) {
  if (required) BadRequest(std::string("field '") + field + "' is required");
  return !required;
}

bool RestApi::Call::Limit(size_t max, size_t* out) {
  auto it = query.find("limit");
  if (it == query.end()) return true;
  const std::string& l = it->second;
  const bool digits =
      !l.empty() && l.size() <= 10 && l.find_first_not_of("0123456789") == std::string::npos;
  const unsigned long long value = digits ? std::stoull(l) : 0;
  if (value < 1 || value > max) {
    BadRequest("limit must be a number from 1 to " + std::to_string(max));
    return false;
  }
  *out = static_cast<size_t>(value);
  return true;
}

bool RestApi::Call::Body() {
  if (request.body().empty()) {
    body = json::object();
    return true;
  }
  body = json::parse(request.body(), nullptr, false);
  if (body.is_discarded()) {
    BadRequest("body is not valid JSON");
    return false;
  }
  if (!body.is_object()) {
    BadRequest("body must be a JSON object");
    return false;
  }
  return true;
}

bool RestApi::Call::String(const char* field, std::string* out, bool required) {
  auto it = body.find(field);
  if (it == body.end() || it->is_null()) return Absent(field, required);
  if (!it->is_string()) {
    BadRequest(std::string("field '") + field + "' must be a string");
    return false;
  }
  *out = it->get<std::string>();
  return true;
}

bool RestApi::Call::Int(const char* field, int64_t* out, bool required, bool allow_negative) {
  auto it = body.find(field);
  if (it == body.end() || it->is_null()) return Absent(field, required);
  if (!it->is_number_integer()) {
    BadRequest(std::string("field '") + field +
               "' must be an integer within the 64-bit signed range");
    return false;
  }
  if (it->is_number_unsigned() && it->get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)) {
    Error(OutOfRange(std::string("field '") + field + "' is over 2^63 - 1"));
    return false;
  }
  const int64_t v = it->get<int64_t>();
  if (v < 0 && !allow_negative) {
    BadRequest(std::string("field '") + field + "' must not be negative");
    return false;
  }
  *out = v;
  return true;
}

bool RestApi::Call::Elements(std::vector<std::string>* out) {
  auto one = body.find("element");
  auto many = body.find("elements");
  if ((one == body.end()) == (many == body.end())) {
    BadRequest("give exactly one of 'element' and 'elements'");
    return false;
  }
  if (one != body.end()) {
    std::string e;
    if (!String("element", &e, true)) return false;
    out->push_back(std::move(e));
    return true;
  }
  const bool strings =
      many->is_array() && !many->empty() &&
      std::all_of(many->begin(), many->end(), [](const json& e) { return e.is_string(); });
  if (!strings) {
    BadRequest("'elements' must be a non-empty array of strings");
    return false;
  }
  for (const json& e : *many) out->push_back(e.get<std::string>());
  return true;
}

bool RestApi::Call::Type(std::optional<v1::CrdtType>* out, v1::Family family, bool required) {
  std::string name;
  if (!String("type", &name, required)) return false;
  if (name.empty()) return true;
  auto type = crdt::ParseTypeName(name);
  if (!type) {
    BadRequest("unknown type '" + name + "'");
    return false;
  }
  if (storage::FamilyOf(*type) != family) {
    BadRequest("type '" + name + "' is not one of the " + std::string(storage::FamilyName(family)));
    return false;
  }
  *out = type;
  return true;
}

RestApi::RestApi(engine::Engine* engine, Metrics* metrics, const config::Config& config,
                 security::Authenticator* auth, Waits* waits, const Reports* reports,
                 replication::GrpcReplication* replication)
    : engine_(engine),
      metrics_(metrics),
      auth_(auth),
      waits_(waits),
      reports_(reports),
      replication_(replication),
      config_(config) {
  AddCounterRoutes();
  AddSetRoutes();
  AddRegisterRoutes();
  AddGraphRoutes();
  AddKeyRoutes();
  AddAdminRoutes();
  AddFaultRoutes();
  AddProbeRoutes();
}

void RestApi::Add(http::verb method, const std::string& pattern, Route route) {
  std::vector<std::string> segments = SplitPath(pattern);
  for (RouteEntry& r : routes_) {
    if (r.pattern == segments) {
      r.methods[method] = std::move(route);
      return;
    }
  }
  routes_.push_back({std::move(segments), {{method, std::move(route)}}});
}

void RestApi::Handle(const HttpRequest& request, HttpResponse& response,
                     std::function<void()> done) {
  auto call = std::make_shared<Call>(request, response, std::move(done));
  call->self = call;
  Run(*call, [this](Call& c) { Dispatch(c); });
}

void RestApi::Run(Call& call, const Route& step) {
  const int before = call.deferred.load();
  step(call);
  if (call.deferred.load() == before) Answer(call);
}

void RestApi::Answer(Call& call) {
  HttpResponse& response = call.response;
  if (response.find(http::field::content_type) == response.end()) {
    response.set(http::field::content_type, "application/json");
  }
  response.set("X-Session-Token", engine_->SessionTokenFor(call.wrote));
  metrics_->OnHttpAnswer(response.result_int());
  metrics_->OnRefused(call.refused);
  call.done();
}

const RestApi::RouteEntry* RestApi::Match(const std::vector<std::string>& segments) const {
  const RouteEntry* match = nullptr;
  auto parameters = [](const RouteEntry& r) {
    return std::count(r.pattern.begin(), r.pattern.end(), "{}");
  };
  for (const RouteEntry& r : routes_) {
    if (r.pattern.size() != segments.size()) continue;
    bool ok = true;
    for (size_t i = 0; i < segments.size() && ok; ++i)
      ok = r.pattern[i] == "{}" || r.pattern[i] == segments[i];
    // Prefer literal matches ("/crdt/keys" over a parameter).
    if (ok && (match == nullptr || parameters(r) < parameters(*match))) match = &r;
  }
  return match;
}

bool RestApi::Authorized(Call& call, const std::vector<std::string>& segments) {
  const std::optional<security::Action> action = RequiredAction(call.request.method(), segments);
  if (!action) return true;
  auto header = call.request.find(http::field::authorization);
  const geodatastore::Status allowed =
      auth_->Check(header == call.request.end()
                       ? std::string_view()
                       : std::string_view(header->value().data(), header->value().size()),
                   *action, "rest");
  if (allowed.ok()) return true;
  if (allowed.code() == StatusCode::kUnauthenticated)
    call.response.set(http::field::www_authenticate, "Basic realm=\"geodatastore\"");
  call.Error(allowed);
  return false;
}

void RestApi::Dispatch(Call& call) {
  const boost::beast::string_view raw_target = call.request.target();
  const std::string_view target(raw_target.data(), raw_target.size());
  const size_t q = target.find('?');
  const std::string_view path = target.substr(0, q);
  if (q != std::string_view::npos && !ParseQuery(target.substr(q + 1), &call.query))
    return call.BadRequest("malformed query string");

  const std::vector<std::string> segments = SplitPath(path);
  const RouteEntry* match = Match(segments);
  if (match == nullptr) return call.Error(NotFound("no such path: " + std::string(path)));
  auto route = match->methods.find(call.request.method());
  if (route == match->methods.end()) {
    std::string allow;
    for (const auto& [verb, fn] : match->methods) {
      allow += (allow.empty() ? "" : ", ") + std::string(http::to_string(verb));
    }
    call.response.set(http::field::allow, allow);
    return call.Error(405, "method_not_allowed", "use " + allow + " on " + std::string(path));
  }
  for (size_t i = 0; i < segments.size(); ++i) {
    if (match->pattern[i] != "{}") continue;
    bool ok = true;
    call.params.push_back(PercentDecode(segments[i], &ok, false));
    if (!ok) return call.BadRequest("malformed percent-encoding in the path");
  }
  if (!Authorized(call, segments)) return;

  // Consistency level and session token apply to every data request.
  if (segments.size() >= 1 && segments[0] == "crdt") {
    auto level = call.query.find("consistency");
    if (level != call.query.end()) {
      if (auto parsed = engine::ParseConsistency(level->second); !parsed.ok())
        return call.Error(parsed.status());
    }
    auto token = call.request.find("X-Session-Token");
    if (token != call.request.end() && !token->value().empty()) {
      AwaitSessionToken(waits_, engine_,
                        std::string_view(token->value().data(), token->value().size()),
                        std::chrono::milliseconds(config_.consistency.timeout_ms),
                        [this, held = call.Defer(), &step = route->second](
                            const geodatastore::Status& served) {
                          if (!served.ok()) {
                            held->Error(served);
                            return Answer(*held);
                          }
                          Run(*held, step);
                        });
      return;
    }
  }
  route->second(call);
}

}  // namespace geodatastore::server
