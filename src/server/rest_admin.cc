// RestApi's admin and operations routes: /admin/* (the reports of server/reports.h rendered
// as JSON, conflicts, fault injection), /metrics, /healthz and /readyz.
#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>

#include "reply/object_reply.h"
#include "reply/report_json.h"
#include "server/rest_api.h"
#include "server/rest_call.h"

namespace geodatastore::server {

namespace http = boost::beast::http;
using V = http::verb;
using json = nlohmann::json;

void RestApi::AddAdminRoutes() {
  Add(V::get, "/admin/status",
      [this](Call& c) { c.Json(200, reply::StatusJson(reports_->NodeStatus())); });
  Add(V::get, "/admin/replication/lag",
      [this](Call& c) { c.Json(200, reply::LagJson(reports_->ReplicationLag())); });
  // Anti-entropy now, with every peer or those of one region; answers when done.
  auto sync = [this](Call& c, const std::string& region) {
    const StatusOr<v1::FullSyncReply> done = reports_->FullSync(region);
    if (!done.ok()) return c.Error(done.status());
    c.Json(200, reply::FullSyncJson(*done));
  };
  Add(V::post, "/admin/anti-entropy/full-sync", [sync](Call& c) { sync(c, ""); });
  Add(V::post, "/admin/sync/regions/{}", [sync](Call& c) {
    if (c.params[0].empty()) return c.BadRequest("the region is empty");
    sync(c, c.params[0]);
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
  // States a type conflict displaced (storage::ObjectWrite::lost), rendered as objects.
  Add(V::get, "/admin/lost", [this](Call& c) {
    size_t limit = 100;
    if (!c.Limit(1000, &limit)) return;
    auto lost = engine_->store()->ListLost(limit);
    if (!lost.ok()) return c.Error(lost.status());
    json out = json::array();
    for (const storage::LostState& l : *lost) {
      auto state = crdt::DecodeAnyAs(l.type, l.state);
      if (!state.ok()) return c.Error(state.status());
      json entry = reply::ToJson(reply::Describe(l.key.name, *state));
      entry["family"] = storage::FamilyName(l.key.family);
      out.push_back(std::move(entry));
    }
    c.Json(200, {{"lost", out}});
  });
}

// Only with testing.fault_injection: true.
void RestApi::AddFaultRoutes() {
  auto allowed = [this](Call& c) {
    if (config_.testing.fault_injection) return true;
    c.Error(403, "forbidden", "fault injection is off (testing.fault_injection)");
    return false;
  };
  Add(V::post, "/admin/faults/partition", [this, allowed](Call& c) {
    if (!allowed(c) || !c.Body()) return;
    auto peers = c.body.value().find("peers");
    const bool ids =
        peers != c.body.value().end() && peers->is_array() &&
        std::all_of(peers->begin(), peers->end(), [](const json& p) { return p.is_string(); });
    if (!ids) return c.BadRequest("'peers' must be an array of node ids");
    const std::set<std::string> partitioned = peers->get<std::set<std::string>>();
    if (replication_ != nullptr) replication_->SetPartition(partitioned);
    c.Json(200, {{"partitioned", partitioned}});
  });
  Add(V::post, "/admin/faults/truncate-log", [this, allowed](Call& c) {
    if (!allowed(c)) return;
    // Drops this node's own delta log up to its committed seq, shipped or not: peers that
    // had not received it are repaired by anti-entropy.
    const uint64_t seq = engine_->CommittedSeq();
    const geodatastore::Status s = engine_->store()->TruncateLog(engine_->identity().replica, seq);
    if (!s.ok()) return c.Error(s);
    c.Json(200, {{"truncated_through", seq}});
  });
  Add(V::delete_, "/admin/faults", [this, allowed](Call& c) {
    if (!allowed(c)) return;
    if (replication_ != nullptr) replication_->SetPartition({});
    c.Json(200, {{"partitioned", json::array()}});
  });
}

void RestApi::AddProbeRoutes() {
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
}

}  // namespace geodatastore::server
