#include "server/rest_api.h"

#include <nlohmann/json.hpp>

#include "crdt/validate.h"
#include "engine/session.h"
#include "server/consistency.h"
#include "server/status_codes.h"

namespace geodatastore::server {

namespace http = boost::beast::http;
using json = nlohmann::json;
using engine::Op;
using Kind = engine::Op::Kind;

namespace {

int HttpStatusOf(StatusCode code) { return StatusFor(code).http; }

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

}  // namespace

// One request being answered: its parsed parts and the answer being built.
struct RestApi::Call {
  Call(const HttpRequest& request, HttpResponse& response, std::function<void()> done)
      : request(request), response(response), done(std::move(done)) {}

  const HttpRequest& request;
  HttpResponse& response;
  std::function<void()> done;                // hands the answer to the HTTP server
  std::vector<std::string> params;           // the {} segments of the route, decoded
  std::map<std::string, std::string> query;  // decoded
  json body;                                 // the parsed body (an object), once Body() ran
  std::string rejection;  // the reason of a refused payload (clock_offset, ...), if any
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
    response.result(static_cast<http::status>(status));
    response.set(http::field::content_type, "application/json");
    response.body() = value.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
  }
  void Error(int status, std::string_view code, const std::string& message) {
    Json(status, {{"error", message}, {"code", code}});
  }
  void Error(const geodatastore::Status& s) {
    rejection = std::string(crdt::RejectionReason(s));
    Error(HttpStatusOf(s.code()), StatusCodeName(s.code()), s.message());
  }

  // Reads the `limit` query parameter, a whole number from 1 to max, into out, which keeps
  // its default when the parameter is absent; false after answering 400.
  bool Limit(size_t max, size_t* out) {
    auto it = query.find("limit");
    if (it == query.end()) return true;
    const std::string& l = it->second;
    const bool digits =
        !l.empty() && l.size() <= 10 && l.find_first_not_of("0123456789") == std::string::npos;
    const unsigned long long value = digits ? std::stoull(l) : 0;
    if (value < 1 || value > max) {
      Error(400, "invalid_argument", "limit must be a number from 1 to " + std::to_string(max));
      return false;
    }
    *out = static_cast<size_t>(value);
    return true;
  }

  // Parses the body as a JSON object (an empty body is {}); false after answering 400.
  bool Body() {
    if (request.body().empty()) {
      body = json::object();
      return true;
    }
    body = json::parse(request.body(), nullptr, false);
    if (body.is_discarded()) {
      Error(400, "invalid_argument", "body is not valid JSON");
      return false;
    }
    if (!body.is_object()) {
      Error(400, "invalid_argument", "body must be a JSON object");
      return false;
    }
    return true;
  }

  // Field readers: false after answering 400. Absent optional fields leave out unchanged.
  bool String(const char* field, std::string* out, bool required) {
    auto it = body.find(field);
    if (it == body.end() || it->is_null()) {
      if (required)
        Error(400, "invalid_argument", std::string("field '") + field + "' is required");
      return !required;
    }
    if (!it->is_string()) {
      Error(400, "invalid_argument", std::string("field '") + field + "' must be a string");
      return false;
    }
    *out = it->get<std::string>();
    return true;
  }
  bool Int(const char* field, int64_t* out, bool required, bool allow_negative) {
    auto it = body.find(field);
    if (it == body.end() || it->is_null()) {
      if (required)
        Error(400, "invalid_argument", std::string("field '") + field + "' is required");
      return !required;
    }
    if (!it->is_number_integer()) {
      Error(400, "invalid_argument",
            std::string("field '") + field + "' must be an integer within the 64-bit signed range");
      return false;
    }
    if (it->is_number_unsigned() && it->get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)) {
      Error(400, "out_of_range", std::string("field '") + field + "' is over 2^63 - 1");
      return false;
    }
    const int64_t v = it->get<int64_t>();
    if (v < 0 && !allow_negative) {
      Error(400, "invalid_argument", std::string("field '") + field + "' must not be negative");
      return false;
    }
    *out = v;
    return true;
  }
  bool Type(std::optional<v1::CrdtType>* out, v1::Family family, bool required) {
    std::string name;
    if (!String("type", &name, required)) return false;
    if (name.empty()) return true;
    auto type = crdt::ParseTypeName(name);
    if (!type) {
      Error(400, "invalid_argument", "unknown type '" + name + "'");
      return false;
    }
    if (storage::FamilyOf(*type) != family) {
      Error(400, "invalid_argument",
            "type '" + name + "' is not one of the " + std::string(storage::FamilyName(family)));
      return false;
    }
    *out = type;
    return true;
  }
};

RestApi::RestApi(engine::Engine* engine, Metrics* metrics, const config::Config& config,
                 security::Authenticator* auth, Waits* waits,
                 replication::GrpcReplication* replication)
    : engine_(engine),
      metrics_(metrics),
      auth_(auth),
      waits_(waits),
      replication_(replication),
      config_(config) {
  using V = http::verb;
  // Counters.
  Add(V::post, "/crdt/counters/{}", [this](Call& c) {
    Op op{.kind = Kind::kCreate};
    if (!c.Body() || !c.Type(&op.type, v1::COUNTERS, true) ||
        !c.Int("initial_value", &op.initial_value, false, true))
      return;
    ApplyOp(c, v1::COUNTERS, op, true);
  });
  for (auto [suffix, kind] :
       {std::pair{"increment", Kind::kIncrement}, std::pair{"decrement", Kind::kDecrement}}) {
    Add(V::post, std::string("/crdt/counters/{}/") + suffix, [this, kind = kind](Call& c) {
      int64_t value = 0;
      if (!c.Body() || !c.Int("value", &value, true, false)) return;
      ApplyOp(c, v1::COUNTERS, {.kind = kind, .amount = static_cast<uint64_t>(value)}, false);
    });
  }
  Add(V::get, "/crdt/counters/{}", [this](Call& c) { ReadObject(c, v1::COUNTERS); });

  // Sets.
  Add(V::post, "/crdt/sets/{}", [this](Call& c) {
    Op op{.kind = Kind::kCreate};
    std::string bias;
    if (!c.Body() || !c.Type(&op.type, v1::SETS, true) || !c.String("bias", &bias, false)) return;
    if (!bias.empty()) {
      if (op.type != v1::LWW_SET || (bias != "add_wins" && bias != "remove_wins")) {
        return c.Error(400, "invalid_argument",
                       "bias is 'add_wins' or 'remove_wins', and only for an lww_set");
      }
      op.bias = bias == "add_wins" ? crdt::LwwBias::kAddWins : crdt::LwwBias::kRemoveWins;
    }
    ApplyOp(c, v1::SETS, op, true);
  });
  for (auto [suffix, kind] : {std::pair{"add", Kind::kAdd}, std::pair{"remove", Kind::kRemove}}) {
    Add(V::post, std::string("/crdt/sets/{}/") + suffix, [this, kind = kind](Call& c) {
      Op op{.kind = kind};
      if (!c.Body()) return;
      auto one = c.body.find("element");
      auto many = c.body.find("elements");
      if ((one == c.body.end()) == (many == c.body.end())) {
        return c.Error(400, "invalid_argument", "give exactly one of 'element' and 'elements'");
      }
      if (one != c.body.end()) {
        std::string e;
        if (!c.String("element", &e, true)) return;
        op.elements.push_back(std::move(e));
      } else {
        if (!many->is_array() || many->empty()) {
          return c.Error(400, "invalid_argument",
                         "'elements' must be a non-empty array of strings");
        }
        for (const json& e : *many) {
          if (!e.is_string())
            return c.Error(400, "invalid_argument",
                           "'elements' must be a non-empty array of strings");
          op.elements.push_back(e.get<std::string>());
        }
      }
      ApplyOp(c, v1::SETS, op, false);
    });
  }
  Add(V::get, "/crdt/sets/{}", [this](Call& c) { ReadObject(c, v1::SETS); });

  // Registers.
  Add(V::post, "/crdt/registers/{}", [this](Call& c) {
    Op op{.kind = Kind::kSet};
    int64_t ts = -1;
    if (!c.Body() || !c.Type(&op.type, v1::REGISTERS, false) ||
        !c.String("value", &op.value, true) || !c.Int("timestamp", &ts, false, false)) {
      return;
    }
    if (ts >= 0) op.timestamp = static_cast<uint64_t>(ts);
    ApplyOp(c, v1::REGISTERS, op, false);
  });
  Add(V::get, "/crdt/registers/{}", [this](Call& c) { ReadObject(c, v1::REGISTERS); });

  // Graphs.
  Add(V::get, "/crdt/graphs/{}", [this](Call& c) { ReadObject(c, v1::GRAPHS); });
  Add(V::post, "/crdt/graphs/{}/vertices", [this](Call& c) {
    Op op{.kind = Kind::kAddVertex};
    if (!c.Body() || !c.String("vertex", &op.vertex, true)) return;
    ApplyOp(c, v1::GRAPHS, op, false);
  });
  Add(V::delete_, "/crdt/graphs/{}/vertices/{}", [this](Call& c) {
    ApplyOp(c, v1::GRAPHS, {.kind = Kind::kRemoveVertex, .vertex = c.params[1]}, false);
  });
  Add(V::post, "/crdt/graphs/{}/edges", [this](Call& c) {
    Op op{.kind = Kind::kAddEdge};
    if (!c.Body() || !c.String("from", &op.from, true) || !c.String("to", &op.to, true)) return;
    ApplyOp(c, v1::GRAPHS, op, false);
  });
  Add(V::delete_, "/crdt/graphs/{}/edges/{}/{}", [this](Call& c) {
    ApplyOp(c, v1::GRAPHS, {.kind = Kind::kRemoveEdge, .from = c.params[1], .to = c.params[2]},
            false);
  });
  Add(V::get, "/crdt/graphs/{}/vertices/{}/neighbors", [this](Call& c) {
    auto view = engine_->Read(v1::GRAPHS, c.params[0]);
    if (!view.ok()) return c.Error(view.status());
    const auto& g = std::get<crdt::LWWGraph>(view->state);
    if (!g.HasVertex(c.params[1]))
      return c.Error(404, "not_found", "vertex '" + c.params[1] + "' not found");
    c.Json(
        200,
        {{"name", c.params[0]}, {"vertex", c.params[1]}, {"neighbors", g.Neighbors(c.params[1])}});
  });
  Add(V::get, "/crdt/graphs/{}/paths", [this](Call& c) {
    if (!c.query.count("from") || !c.query.count("to")) {
      return c.Error(400, "invalid_argument", "query parameters 'from' and 'to' are required");
    }
    auto view = engine_->Read(v1::GRAPHS, c.params[0]);
    if (!view.ok()) return c.Error(view.status());
    const auto& g = std::get<crdt::LWWGraph>(view->state);
    auto paths = g.Paths(c.query["from"], c.query["to"], engine_->limits().paths);
    if (!paths.ok()) return c.Error(paths.status());
    c.Json(200, {{"name", c.params[0]},
                 {"from", c.query["from"]},
                 {"to", c.query["to"]},
                 {"paths", *paths}});
  });

  Add(V::get, "/crdt/keys", [this](Call& c) {
    std::optional<v1::CrdtType> type;
    if (c.query.count("type") && !c.query["type"].empty()) {
      type = crdt::ParseTypeName(c.query["type"]);
      if (!type) return c.Error(400, "invalid_argument", "unknown type '" + c.query["type"] + "'");
    }
    size_t limit = 1000;
    if (!c.Limit(999999999, &limit)) return;
    auto keys = engine_->ListKeys(type, c.query["prefix"], limit);
    if (!keys.ok()) return c.Error(keys.status());
    json out = json::array();
    for (const auto& [key, t] : *keys) {
      out.push_back({{"name", key.name},
                     {"type", crdt::TypeName(t)},
                     {"family", storage::FamilyName(key.family)}});
    }
    c.Json(200, {{"keys", out}});
  });

  // Admin and operations.
  Add(V::get, "/admin/status", [this](Call& c) { Status(c); });
  Add(V::get, "/healthz", [](Call& c) { c.Json(200, {{"status", "ok"}}); });
  Add(V::get, "/readyz", [this](Call& c) {
    if (ready_) return c.Json(200, {{"status", "ready"}});
    c.Error(503, "unavailable", "not ready");
  });
  Add(V::get, "/metrics", [this](Call& c) {
    c.response.result(http::status::ok);
    c.response.set(http::field::content_type, "text/plain; version=0.0.4");
    c.response.body() = metrics_->Render();
  });
  // Anti-entropy now, with every peer or those of one region; answers when done.
  auto sync = [this](Call& c, const std::string& region) {
    if (anti_entropy_ == nullptr)
      return c.Error(409, "failed_precondition", "this node has no peers to synchronize with");
    if (!anti_entropy_->HasPeersIn(region))
      return c.Error(404, "not_found", "no peer in region '" + region + "'");
    const v1::FullSyncReply summary = anti_entropy_->SyncAll(region);
    json peers = json::array();
    for (const v1::PeerSync& p : summary.peers()) {
      json peer = {{"peer", p.peer()},
                   {"region", p.region()},
                   {"result", p.result()},
                   {"nodes_compared", p.nodes_compared()},
                   {"keys_compared", p.keys_compared()},
                   {"keys_repaired", p.keys_repaired()},
                   {"pulled", p.pulled()},
                   {"pushed", p.pushed()},
                   {"bytes", p.bytes()},
                   {"seconds", p.seconds()}};
      if (!p.error().empty()) peer["error"] = p.error();
      peers.push_back(std::move(peer));
    }
    c.Json(200, {{"peers", peers},
                 {"keys_compared", summary.keys_compared()},
                 {"keys_repaired", summary.keys_repaired()},
                 {"bytes", summary.bytes()},
                 {"seconds", summary.seconds()}});
  };
  Add(V::get, "/admin/replication/lag", [this](Call& c) {
    json peers = json::array();
    const uint64_t now_ms = crdt::SystemClock().NowMillis();
    if (replication_ != nullptr) {
      for (const replication::PeerView& p : replication_->Peers()) {
        const double behind = replication::SecondsBehind(p, now_ms);
        peers.push_back({{"peer", p.id},
                         {"region", p.region},
                         {"state", replication::PeerStateName(p.state)},
                         {"acked_seq", p.acked},
                         {"ops_behind", p.behind_ops},
                         {"seconds_behind", behind},
                         {"bytes_sent", p.bytes_sent},
                         {"bytes_received", p.bytes_received},
                         {"via", p.via}});
      }
    }
    c.Json(200, {{"node_id", engine_->identity().node_id},
                 {"committed_seq", engine_->CommittedSeq()},
                 {"peers", peers}});
  });
  Add(V::get, "/admin/conflicts", [this](Call& c) {
    size_t limit = 100;
    if (!c.Limit(1000, &limit)) return;
    auto records = engine_->store()->RecentConflicts(limit);
    if (!records.ok()) return c.Error(records.status());
    json out = json::array();
    for (const v1::ConflictRecord& r : *records) {
      out.push_back({{"key", r.name()},
                     {"family", storage::FamilyName(r.family())},
                     {"type", crdt::TypeName(r.type())},
                     {"kind", r.kind()},
                     {"winner", r.winner()},
                     {"losers", std::vector<std::string>(r.losers().begin(), r.losers().end())},
                     {"regions", std::vector<std::string>(r.regions().begin(), r.regions().end())},
                     {"from_node", r.from_node()},
                     {"origin_replica", crdt::ReplicaIdHex(r.origin())},
                     {"time_ms", r.time_ms()}});
    }
    c.Json(200, {{"conflicts", out}});
  });
  Add(V::post, "/admin/anti-entropy/full-sync", [sync](Call& c) { sync(c, ""); });
  Add(V::post, "/admin/sync/regions/{}", [sync](Call& c) {
    if (c.params[0].empty()) return c.Error(400, "invalid_argument", "the region is empty");
    sync(c, c.params[0]);
  });
  Add(V::post, "/admin/faults/partition", [this](Call& c) {
    if (!config_.testing.fault_injection)
      return c.Error(403, "forbidden", "fault injection is off (testing.fault_injection)");
    if (!c.Body()) return;
    auto peers = c.body.find("peers");
    if (peers == c.body.end() || !peers->is_array())
      return c.Error(400, "invalid_argument", "'peers' must be an array of node ids");
    std::set<std::string> ids;
    for (const json& p : *peers) {
      if (!p.is_string())
        return c.Error(400, "invalid_argument", "'peers' must be an array of node ids");
      ids.insert(p.get<std::string>());
    }
    if (replication_ != nullptr) replication_->SetPartition(ids);
    c.Json(200, {{"partitioned", ids}});
  });
  Add(V::post, "/admin/faults/truncate-log", [this](Call& c) {
    if (!config_.testing.fault_injection)
      return c.Error(403, "forbidden", "fault injection is off (testing.fault_injection)");
    // Drops this node's own delta log up to its committed seq, shipped or not: peers that
    // had not received it are repaired by anti-entropy.
    const uint64_t seq = engine_->CommittedSeq();
    const geodatastore::Status s = engine_->store()->TruncateLog(engine_->identity().replica, seq);
    if (!s.ok()) return c.Error(s);
    c.Json(200, {{"truncated_through", seq}});
  });
  Add(V::delete_, "/admin/faults", [this](Call& c) {
    if (!config_.testing.fault_injection)
      return c.Error(403, "forbidden", "fault injection is off (testing.fault_injection)");
    if (replication_ != nullptr) replication_->SetPartition({});
    c.Json(200, {{"partitioned", json::array()}});
  });
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
  response.set("X-Session-Token", engine_->SessionToken());
  const int code = response.result_int();
  metrics_->OnHttpAnswer(code);
  if (code == 400 || code == 413)
    metrics_->OnRejected(call.rejection.empty() ? "bad_request" : call.rejection);
  if (code == 422) metrics_->OnRejected("limit");
  call.done();
}

void RestApi::Dispatch(Call& call) {
  const boost::beast::string_view raw_target = call.request.target();
  const std::string_view target(raw_target.data(), raw_target.size());
  const size_t q = target.find('?');
  const std::string_view path = target.substr(0, q);
  if (q != std::string_view::npos) {
    std::string_view rest = target.substr(q + 1);
    while (!rest.empty()) {
      const size_t amp = rest.find('&');
      const std::string_view kv = rest.substr(0, amp);
      rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
      const size_t eq = kv.find('=');
      bool ok_key = true, ok_value = true;
      std::string key = PercentDecode(kv.substr(0, eq), &ok_key, true);
      std::string value =
          eq == std::string_view::npos ? "" : PercentDecode(kv.substr(eq + 1), &ok_value, true);
      if (!ok_key || !ok_value)
        return call.Error(400, "invalid_argument", "malformed query string");
      call.query[key] = value;
    }
  }

  const std::vector<std::string> segments = SplitPath(path);
  const RouteEntry* match = nullptr;
  for (const RouteEntry& r : routes_) {
    if (r.pattern.size() != segments.size()) continue;
    bool ok = true;
    for (size_t i = 0; i < segments.size() && ok; ++i)
      ok = r.pattern[i] == "{}" || r.pattern[i] == segments[i];
    // Prefer literal matches ("/crdt/keys" over a parameter).
    if (ok &&
        (match == nullptr || std::count(r.pattern.begin(), r.pattern.end(), "{}") <
                                 std::count(match->pattern.begin(), match->pattern.end(), "{}"))) {
      match = &r;
    }
  }
  if (match == nullptr) return call.Error(404, "not_found", "no such path: " + std::string(path));
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
    if (!ok) return call.Error(400, "invalid_argument", "malformed percent-encoding in the path");
  }

  if (std::optional<security::Action> action = RequiredAction(call.request.method(), segments)) {
    auto header = call.request.find(http::field::authorization);
    const geodatastore::Status allowed =
        auth_->Check(header == call.request.end()
                         ? std::string_view()
                         : std::string_view(header->value().data(), header->value().size()),
                     *action, "rest");
    if (!allowed.ok()) {
      if (allowed.code() == StatusCode::kUnauthenticated)
        call.response.set(http::field::www_authenticate, "Basic realm=\"geodatastore\"");
      return call.Error(allowed);
    }
  }

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

namespace {

json ObjectJson(const engine::ObjectView& view) {
  json out = {{"name", view.key.name}, {"type", crdt::TypeName(view.type)}};
  std::visit(
      [&](const auto& s) {
        using T = std::decay_t<decltype(s)>;
        if constexpr (std::is_same_v<T, crdt::GCounter> || std::is_same_v<T, crdt::PNCounter>) {
          out["value"] = s.Value();
        } else if constexpr (std::is_same_v<T, crdt::LWWRegister> ||
                             std::is_same_v<T, crdt::MVRegister>) {
          out["values"] = s.Value();
        } else if constexpr (std::is_same_v<T, crdt::LWWGraph>) {
          out["vertices"] = s.Vertices();
          json edges = json::array();
          for (const auto& [from, to] : s.Edges()) edges.push_back({from, to});
          out["edges"] = edges;
        } else {
          out["elements"] = s.Value();
          if constexpr (std::is_same_v<T, crdt::LWWElementSet>) {
            out["bias"] = s.bias() == crdt::LwwBias::kAddWins ? "add_wins" : "remove_wins";
          }
        }
      },
      view.state);
  return out;
}

}  // namespace

void RestApi::ApplyOp(Call& call, v1::Family family, Op op, bool created_status) {
  if (op.family() != family)
    return call.Error(400, "invalid_argument", "type does not belong to this path");
  auto view = engine_->Apply(call.params[0], op);
  if (!view.ok()) return call.Error(view.status());
  auto level =
      engine::ParseConsistency(call.query.count("consistency") ? call.query["consistency"]
                                                               : config_.consistency.default_write);
  if (!level.ok()) return call.Error(level.status());
  const int status = created_status && view->created ? 201 : 200;
  AwaitConsistency(waits_, replication_, *level, view->seq, config_.node.region,
                   std::chrono::milliseconds(config_.consistency.timeout_ms),
                   [this, held = call.Defer(), status,
                    answer = ObjectJson(*view)](const geodatastore::Status& acknowledged) {
                     if (acknowledged.ok()) {
                       held->Json(status, answer);
                     } else {
                       held->Error(acknowledged);
                     }
                     Answer(*held);
                   });
}

void RestApi::ReadObject(Call& call, v1::Family family) {
  const auto start = std::chrono::steady_clock::now();
  auto level =
      engine::ParseConsistency(call.query.count("consistency") ? call.query["consistency"]
                                                               : config_.consistency.default_read);
  if (!level.ok()) return call.Error(level.status());
  const LevelRead how{.engine = engine_,
                      .replication = replication_,
                      .anti_entropy = anti_entropy_,
                      .metrics = metrics_,
                      .waits = waits_,
                      .self_region = config_.node.region,
                      .timeout = std::chrono::milliseconds(config_.consistency.timeout_ms)};
  ReadAtLevel(how, *level, family, call.params[0],
              [this, held = call.Defer(), start](StatusOr<engine::ObjectView> view) {
                if (view.ok()) {
                  metrics_->OnRead(view->type, std::chrono::duration<double>(
                                                   std::chrono::steady_clock::now() - start)
                                                   .count());
                  held->Json(200, ObjectJson(*view));
                } else {
                  held->Error(view.status());
                }
                Answer(*held);
              });
}

void RestApi::Status(Call& call) {
  const auto& id = engine_->identity();
  json keys = json::object();
  for (v1::CrdtType t : crdt::kAllTypes)
    keys[std::string(crdt::TypeName(t))] = engine_->store()->KeyCount(t);
  json applied = json::object();
  const crdt::VersionVector vector = engine_->AppliedVector();
  for (const auto& [replica, seq] : vector.entries()) applied[crdt::ReplicaIdHex(replica)] = seq;
  json peers = json::array();
  std::map<std::string, replication::PeerView> views;
  if (replication_ != nullptr) {
    for (replication::PeerView& v : replication_->Peers()) views[v.id] = std::move(v);
  }
  const auto syncs = anti_entropy_ != nullptr
                         ? anti_entropy_->LastSessions()
                         : std::map<std::string, antientropy::GrpcAntiEntropy::Last>{};
  for (const config::Peer& p : config_.cluster.peers) {
    auto v = views.find(p.id);
    json peer = {
        {"id", p.id},
        {"region", p.region},
        {"grpc", p.grpc},
        {"state",
         v == views.end() ? "unknown" : std::string(replication::PeerStateName(v->second.state))}};
    if (v != views.end()) {
      const uint64_t now = replication_->now_ms();
      peer["state_for_seconds"] = (now - std::min(now, v->second.state_since_ms)) / 1000.0;
      peer["acked_seq"] = v->second.acked;
      if (!v->second.via.empty()) peer["via"] = v->second.via;
    }
    if (auto s = syncs.find(p.id); s != syncs.end()) {
      const auto& r = s->second.result;
      peer["last_anti_entropy"] = {
          {"result", r.result},
          {"seconds_ago",
           std::chrono::duration<double>(std::chrono::system_clock::now() - s->second.ended)
               .count()},
          {"keys_repaired", r.stats.repaired_here + r.stats.repaired_there},
          {"seconds", r.seconds}};
    }
    peers.push_back(std::move(peer));
  }
  const storage::StoreStats stats = engine_->store()->Stats();
  const std::string replica = crdt::ReplicaIdHex(id.replica);
  call.Json(200,
            {{"node_id", id.node_id},
             {"region", config_.node.region},
             {"cluster", config_.cluster.name},
             {"replica_id", replica},
             {"replica_epoch", id.epoch},
             {"uptime_seconds",
              std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count()},
             {"peers", peers},
             {"keys", keys},
             {"applied", applied},
             {"tombstones", tombstones_ ? tombstones_() : json::object()},
             {"storage",
              {{"live_sst_bytes", stats.live_sst_bytes},
               {"memtable_bytes", stats.memtable_bytes},
               {"pending_compaction_bytes", stats.pending_compaction_bytes}}}});
}

}  // namespace geodatastore::server
