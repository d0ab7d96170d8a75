#include "reply/report_json.h"

#include "crdt/clock.h"
#include "crdt/codec.h"

namespace geodatastore::reply {

using json = nlohmann::json;

namespace {

json LastSyncJson(const v1::LastSync& s) {
  return {{"result", s.result()},
          {"seconds_ago", s.seconds_ago()},
          {"keys_repaired", s.keys_repaired()},
          {"seconds", s.seconds()}};
}

json PeerJson(const v1::PeerStatus& p) {
  json peer = {{"id", p.id()}, {"region", p.region()}, {"grpc", p.address()}, {"state", p.state()}};
  if (p.has_state_for_seconds()) peer["state_for_seconds"] = p.state_for_seconds();
  if (p.has_acked_seq()) peer["acked_seq"] = p.acked_seq();
  if (!p.via().empty()) peer["via"] = p.via();
  if (p.has_last_anti_entropy()) peer["last_anti_entropy"] = LastSyncJson(p.last_anti_entropy());
  return peer;
}

json TombstonesJson(const v1::StatusReply& status) {
  if (!status.has_tombstones()) return json::object();
  const v1::TombstoneStatus& t = status.tombstones();
  json out = {{"collection", t.collection()}};
  if (t.has_rounds()) out["rounds"] = t.rounds();
  if (t.has_collected()) out["collected"] = t.collected();
  return out;
}

}  // namespace

json StatusJson(const v1::StatusReply& status) {
  json keys = json::object();
  for (const v1::TypeCount& k : status.keys())
    keys[std::string(crdt::TypeName(k.type()))] = k.keys();
  json applied = json::object();
  for (const v1::Dot& e : status.applied().entries())
    applied[crdt::ReplicaIdHex(e.replica())] = e.counter();
  json peers = json::array();
  for (const v1::PeerStatus& p : status.peers()) peers.push_back(PeerJson(p));
  return {{"node_id", status.node_id()},
          {"region", status.region()},
          {"cluster", status.cluster()},
          {"replica_id", crdt::ReplicaIdHex(status.replica_id())},
          {"replica_epoch", status.replica_epoch()},
          {"uptime_seconds", status.uptime_seconds()},
          {"peers", std::move(peers)},
          {"keys", std::move(keys)},
          {"applied", std::move(applied)},
          {"tombstones", TombstonesJson(status)},
          {"storage",
           {{"live_sst_bytes", status.live_sst_bytes()},
            {"memtable_bytes", status.memtable_bytes()},
            {"pending_compaction_bytes", status.pending_compaction_bytes()}}}};
}

json LagJson(const v1::LagReply& lag) {
  json peers = json::array();
  for (const v1::PeerLag& p : lag.peers()) {
    peers.push_back({{"peer", p.peer()},
                     {"region", p.region()},
                     {"state", p.state()},
                     {"acked_seq", p.acked_seq()},
                     {"ops_behind", p.ops_behind()},
                     {"seconds_behind", p.seconds_behind()},
                     {"bytes_sent", p.bytes_sent()},
                     {"bytes_received", p.bytes_received()},
                     {"via", p.via()}});
  }
  return {{"node_id", lag.node_id()},
          {"committed_seq", lag.committed_seq()},
          {"peers", std::move(peers)}};
}

json FullSyncJson(const v1::FullSyncReply& sync) {
  json peers = json::array();
  for (const v1::PeerSync& p : sync.peers()) {
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
  return {{"peers", std::move(peers)},
          {"keys_compared", sync.keys_compared()},
          {"keys_repaired", sync.keys_repaired()},
          {"bytes", sync.bytes()},
          {"seconds", sync.seconds()}};
}

}  // namespace geodatastore::reply
