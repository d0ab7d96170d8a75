// EngineSyncHost: the node's engine and store seen through anti-entropy's SyncHost.
//
// Thread safety: as the engine's and the store's.
#pragma once

#include "antientropy/session.h"
#include "engine/engine.h"

namespace geodatastore::engine {

class EngineSyncHost final : public antientropy::SyncHost {
 public:
  // on_conflicts hears of the conflicts that joined states resolved.
  using ConflictSink = std::function<void(const std::vector<Conflict>&)>;
  explicit EngineSyncHost(Engine* engine, ConflictSink on_conflicts = {})
      : engine_(engine), on_conflicts_(std::move(on_conflicts)) {}

  bool Ready() const override { return engine_->store()->merkle_ready(); }
  std::vector<storage::Digest> TreeNodes(v1::CrdtType type, int level,
                                         const std::vector<uint32_t>& indices) const override {
    // A comparison starts at the roots: bring deferred digests up to date first. (A failure
    // leaves them as they were: this session may miss those objects, a later one will not.)
    if (level == 0) static_cast<void>(engine_->FlushDigests());
    return engine_->store()->TreeNodes(type, level, indices);
  }
  StatusOr<std::vector<storage::BucketEntry>> BucketEntries(
      v1::CrdtType type, const std::vector<uint32_t>& buckets) const override {
    return engine_->store()->BucketEntries(type, buckets);
  }
  StatusOr<std::vector<v1::ObjectState>> ReadStates(
      const std::vector<v1::ObjectRef>& objects) const override {
    std::vector<v1::ObjectState> out;
    for (const v1::ObjectRef& ref : objects) {
      storage::ObjectKey key;
      if (!storage::ObjectKey::Decode(ref.key(), &key)) continue;  // nothing by that name
      v1::CrdtType type = ref.type();
      GDS_ASSIGN_OR_RETURN(auto bytes, engine_->store()->ReadState(type, key));
      // Not held with that type any more: a state pulled in this session (after the trees
      // were compared) resolved a type conflict here. What was of that type is now kept
      // apart under lost/, or embedded in the object's new type: send that, or the
      // receiver never gets it (and the session counts it covered).
      if (!bytes) {
        GDS_ASSIGN_OR_RETURN(bytes, engine_->store()->ReadLost(type, key));
      }
      if (!bytes) {
        auto now = engine_->Read(key.family, key.name);
        if (!now.ok() && now.status().code() != StatusCode::kNotFound) return now.status();
        if (now.ok()) {
          type = now->type;
          GDS_ASSIGN_OR_RETURN(bytes, engine_->store()->ReadState(type, key));
        }
      }
      if (!bytes) continue;
      v1::ObjectState& s = out.emplace_back();
      s.set_type(type);
      s.set_key(ref.key());
      s.set_state(std::move(*bytes));
    }
    return out;
  }
  StatusOr<uint64_t> JoinStates(const std::vector<v1::ObjectState>& states,
                                const v1::VersionVector& knowledge) override {
    GDS_ASSIGN_OR_RETURN(crdt::VersionVector known, crdt::DecodeVersionVector(knowledge));
    std::vector<Conflict> conflicts;
    auto changed = engine_->JoinStates(states, on_conflicts_ ? &conflicts : nullptr, known);
    if (changed.ok() && !conflicts.empty()) on_conflicts_(conflicts);
    return changed;
  }

  void OnRejected(std::string_view reason) override { engine_->NoteRejected(reason); }

  v1::VersionVector Knowledge() const override {
    v1::VersionVector out;
    crdt::EncodeVersionVector(engine_->Knowledge(), &out);
    return out;
  }

 private:
  Engine* const engine_;
  ConflictSink on_conflicts_;
};

}  // namespace geodatastore::engine
