// RestApi's object routes: /crdt/counters, /crdt/sets, /crdt/registers, /crdt/graphs and
// /crdt/keys — a request's fields read into an engine op, applied or read at the asked
// consistency, and answered with the object (reply/object_reply.h).
#include <nlohmann/json.hpp>

#include "reply/object_reply.h"
#include "server/consistency.h"
#include "server/rest_api.h"
#include "server/rest_call.h"

namespace geodatastore::server {

namespace http = boost::beast::http;
using V = http::verb;
using json = nlohmann::json;
using engine::Op;
using Kind = engine::Op::Kind;

namespace {

json ObjectJson(const engine::ObjectView& view) {
  return reply::ToJson(reply::Describe(view.key.name, view.state, view.created));
}

}  // namespace

void RestApi::AddCounterRoutes() {
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
}

void RestApi::AddSetRoutes() {
  Add(V::post, "/crdt/sets/{}", [this](Call& c) {
    Op op{.kind = Kind::kCreate};
    std::string bias;
    if (!c.Body() || !c.Type(&op.type, v1::SETS, true) || !c.String("bias", &bias, false)) return;
    if (!bias.empty()) {
      if (op.type != v1::LWW_SET || (bias != "add_wins" && bias != "remove_wins")) {
        return c.BadRequest("bias is 'add_wins' or 'remove_wins', and only for an lww_set");
      }
      op.bias = bias == "add_wins" ? crdt::LwwBias::kAddWins : crdt::LwwBias::kRemoveWins;
    }
    ApplyOp(c, v1::SETS, op, true);
  });
  for (auto [suffix, kind] : {std::pair{"add", Kind::kAdd}, std::pair{"remove", Kind::kRemove}}) {
    Add(V::post, std::string("/crdt/sets/{}/") + suffix, [this, kind = kind](Call& c) {
      Op op{.kind = kind};
      if (!c.Body() || !c.Elements(&op.elements)) return;
      ApplyOp(c, v1::SETS, op, false);
    });
  }
  Add(V::get, "/crdt/sets/{}", [this](Call& c) { ReadObject(c, v1::SETS); });
}

void RestApi::AddRegisterRoutes() {
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
}

void RestApi::AddGraphRoutes() {
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
      return c.Error(NotFound("vertex '" + c.params[1] + "' not found"));
    c.Json(
        200,
        {{"name", c.params[0]}, {"vertex", c.params[1]}, {"neighbors", g.Neighbors(c.params[1])}});
  });
  Add(V::get, "/crdt/graphs/{}/paths", [this](Call& c) {
    if (!c.query.count("from") || !c.query.count("to")) {
      return c.BadRequest("query parameters 'from' and 'to' are required");
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
}

void RestApi::AddKeyRoutes() {
  Add(V::get, "/crdt/keys", [this](Call& c) {
    std::optional<v1::CrdtType> type;
    if (c.query.count("type") && !c.query["type"].empty()) {
      type = crdt::ParseTypeName(c.query["type"]);
      if (!type) return c.BadRequest("unknown type '" + c.query["type"] + "'");
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
}

void RestApi::ApplyOp(Call& call, v1::Family family, Op op, bool created_status) {
  if (op.family() != family) return call.BadRequest("type does not belong to this path");
  auto view = engine_->Apply(call.params[0], op);
  if (!view.ok()) return call.Error(view.status());
  call.wrote = view->seq;
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

}  // namespace geodatastore::server
