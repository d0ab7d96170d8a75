#include "server/reports.h"

#include <map>

namespace geodatastore::server {

Reports::Reports(engine::Engine* engine, const config::Config& config,
                 replication::GrpcReplication* replication,
                 antientropy::GrpcAntiEntropy* anti_entropy)
    : engine_(engine), config_(config), replication_(replication), anti_entropy_(anti_entropy) {}

v1::StatusReply Reports::NodeStatus() const {
  v1::StatusReply out;
  const storage::NodeIdentity& id = engine_->identity();
  out.set_node_id(id.node_id);
  out.set_region(config_.node.region);
  out.set_cluster(config_.cluster.name);
  out.set_replica_id(id.replica);
  out.set_replica_epoch(id.epoch);
  out.set_uptime_seconds(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count());
  AddPeers(&out);
  for (v1::CrdtType t : crdt::kAllTypes) {
    v1::TypeCount* k = out.add_keys();
    k->set_type(t);
    k->set_keys(engine_->store()->KeyCount(t));
  }
  crdt::EncodeVersionVector(engine_->AppliedVector(), out.mutable_applied());
  if (tombstones_) *out.mutable_tombstones() = tombstones_();
  const storage::StoreStats stats = engine_->store()->Stats();
  out.set_live_sst_bytes(stats.live_sst_bytes);
  out.set_memtable_bytes(stats.memtable_bytes);
  out.set_pending_compaction_bytes(stats.pending_compaction_bytes);
  return out;
}

// Every configured peer: "unknown" until replication has a view of it.
void Reports::AddPeers(v1::StatusReply* out) const {
  std::map<std::string, replication::PeerView> views;
  if (replication_ != nullptr) {
    for (replication::PeerView& v : replication_->Peers()) views[v.id] = std::move(v);
  }
  const auto syncs = anti_entropy_ != nullptr
                         ? anti_entropy_->LastSessions()
                         : std::map<std::string, antientropy::GrpcAntiEntropy::Last>{};
  const auto now = std::chrono::system_clock::now();
  for (const config::Peer& p : config_.cluster.peers) {
    v1::PeerStatus* peer = out->add_peers();
    peer->set_id(p.id);
    peer->set_region(p.region);
    peer->set_address(p.grpc);
    peer->set_state("unknown");
    if (auto v = views.find(p.id); v != views.end()) {
      const uint64_t now_ms = replication_->now_ms();
      peer->set_state(std::string(replication::PeerStateName(v->second.state)));
      peer->set_state_for_seconds((now_ms - std::min(now_ms, v->second.state_since_ms)) / 1000.0);
      peer->set_acked_seq(v->second.acked);
      peer->set_via(v->second.via);
    }
    if (auto s = syncs.find(p.id); s != syncs.end()) {
      const antientropy::SyncResult& r = s->second.result;
      v1::LastSync* last = peer->mutable_last_anti_entropy();
      last->set_result(r.result);
      last->set_seconds_ago(std::chrono::duration<double>(now - s->second.ended).count());
      last->set_keys_repaired(r.stats.repaired_here + r.stats.repaired_there);
      last->set_seconds(r.seconds);
    }
  }
}

v1::LagReply Reports::ReplicationLag() const {
  v1::LagReply out;
  out.set_node_id(engine_->identity().node_id);
  out.set_committed_seq(engine_->CommittedSeq());
  if (replication_ == nullptr) return out;
  const uint64_t now_ms = crdt::SystemClock().NowMillis();
  for (const replication::PeerView& p : replication_->Peers()) {
    v1::PeerLag* lag = out.add_peers();
    lag->set_peer(p.id);
    lag->set_region(p.region);
    lag->set_state(std::string(replication::PeerStateName(p.state)));
    lag->set_acked_seq(p.acked);
    lag->set_ops_behind(p.behind_ops);
    lag->set_seconds_behind(replication::SecondsBehind(p, now_ms));
    lag->set_bytes_sent(p.bytes_sent);
    lag->set_bytes_received(p.bytes_received);
    lag->set_via(p.via);
  }
  return out;
}

StatusOr<v1::FullSyncReply> Reports::FullSync(const std::string& region) const {
  if (anti_entropy_ == nullptr)
    return FailedPrecondition("this node has no peers to synchronize with");
  if (!anti_entropy_->HasPeersIn(region)) return NotFound("no peer in region '" + region + "'");
  return anti_entropy_->SyncAll(region);
}

}  // namespace geodatastore::server
