// RestApi's first stage: a request's path and query parsed, its route found, its caller
// authorized and its session token waited for, then the route runs; and the readers a
// route uses to take its fields from the body.
#include "server/rest_api.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "engine/session.h"
#include "server/consistency.h"
#include "server/rest_call.h"
#include "server/rest_request.h"

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

}  // namespace

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
  StatusOr<RequestBody> parsed = RequestBody::Parse(request.body());
  if (!Ok(parsed.status())) return false;
  body = std::move(parsed).value();
  return true;
}

bool RestApi::Call::Ok(const geodatastore::Status& s) {
  if (!s.ok()) Error(s);
  return s.ok();
}

bool RestApi::Call::String(const char* field, std::string* out, bool required) {
  return Ok(body.String(field, out, required));
}

bool RestApi::Call::Int(const char* field, int64_t* out, bool required, bool allow_negative) {
  return Ok(body.Int(field, out, required, allow_negative));
}

bool RestApi::Call::Elements(std::vector<std::string>* out) { return Ok(body.Elements(out)); }

bool RestApi::Call::Type(std::optional<v1::CrdtType>* out, v1::Family family, bool required) {
  return Ok(body.Type(out, family, required));
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
