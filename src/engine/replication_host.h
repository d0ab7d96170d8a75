// EngineReplicationHost: the node's engine and store seen through the replication protocol's
// ReplicationHost interface.
//
// Thread safety: as the engine's; the replicator calls it from one thread.
#pragma once

#include <functional>
#include <vector>

#include "engine/engine.h"
#include "replication/replicator.h"

namespace geodatastore::engine {

class EngineReplicationHost final : public replication::ReplicationHost {
 public:
  using ConflictSink = std::function<void(const std::vector<Conflict>&, const std::string& from,
                                          const std::string& origin_region)>;
  // on_conflicts is called with the conflicts each applied batch resolved, its sender, and
  // the region of the node whose write it carried (empty if the sender did not say).
  EngineReplicationHost(Engine* engine, ConflictSink on_conflicts = {})
      : engine_(engine), on_conflicts_(std::move(on_conflicts)) {}

  crdt::ReplicaId self_replica() const override { return engine_->identity().replica; }
  v1::Progress OwnProgress() override { return engine_->ProgressReport(); }
  uint64_t CommittedSeq() const override { return engine_->CommittedSeq(); }
  StatusOr<std::vector<v1::DeltaRecord>> ReadLog(uint64_t from, uint64_t to,
                                                 size_t max_bytes) override {
    return engine_->store()->ReadLog(self_replica(), from, to, max_bytes);
  }
  uint64_t Applied(crdt::ReplicaId origin) const override { return engine_->Applied(origin); }
  Status ApplyRemote(const v1::DeltaBatch& batch, const std::string& from,
                     bool keep_for_relay) override {
    std::vector<Conflict> conflicts;
    Status s = engine_->ApplyRemote(batch, on_conflicts_ ? &conflicts : nullptr, keep_for_relay);
    if (s.ok() && !conflicts.empty()) on_conflicts_(conflicts, from, batch.origin_region());
    return s;
  }
  StatusOr<std::vector<v1::DeltaBatch>> ReadRelay(crdt::ReplicaId origin, uint64_t after,
                                                  size_t max_bytes) override {
    return engine_->store()->ReadRelay(origin, after, max_bytes);
  }
  Status TruncateRelay(crdt::ReplicaId origin, uint64_t upto) override {
    return engine_->store()->TruncateRelay(origin, upto);
  }
  Status SaveRelayOrigin(crdt::ReplicaId origin, const std::string& node,
                         const std::string& region) override {
    return engine_->store()->SaveRelayOrigin(origin, node, region);
  }
  StatusOr<std::vector<v1::DeltaBatch>> RelayOrigins() override {
    return engine_->store()->RelayOrigins();
  }
  crdt::Timestamp HlcNow() override { return engine_->ReplicationStamp(); }
  uint64_t WallMillis() override { return engine_->WallMillis(); }
  void OnRejected(std::string_view reason) override { engine_->NoteRejected(reason); }
  StatusOr<storage::Cursor> LoadCursor(const std::string& peer) override {
    return engine_->store()->LoadCursor(peer);
  }
  Status SaveCursor(const std::string& peer, const storage::Cursor& cursor) override {
    return engine_->store()->SaveCursor(peer, cursor);
  }
  Status TruncateLog(uint64_t upto) override {
    return engine_->store()->TruncateLog(self_replica(), upto);
  }

 private:
  Engine* const engine_;
  ConflictSink on_conflicts_;
};

}  // namespace geodatastore::engine
