#include "fuzz_node.h"

#include "engine/replication_host.h"
#include "engine/sync_host.h"

namespace geodatastore::fuzz {

namespace {

// Checks every merge path's promise: a payload refused by ApplyRemote or JoinStates left
// the node as it was (nothing partial is written).
class CheckedReplicationHost final : public replication::ReplicationHost {
 public:
  explicit CheckedReplicationHost(FuzzNode* node, engine::Engine* engine)
      : node_(node), inner_(engine) {}

  crdt::ReplicaId self_replica() const override { return inner_.self_replica(); }
  uint64_t CommittedSeq() const override { return inner_.CommittedSeq(); }
  StatusOr<std::vector<v1::DeltaRecord>> ReadLog(uint64_t from, uint64_t to,
                                                 size_t max_bytes) override {
    return inner_.ReadLog(from, to, max_bytes);
  }
  uint64_t Applied(crdt::ReplicaId origin) const override { return inner_.Applied(origin); }
  Status ApplyRemote(const v1::DeltaBatch& batch, const std::string& from,
                     bool keep_for_relay) override {
    const Contents before = node_->Snapshot();
    Status s = inner_.ApplyRemote(batch, from, keep_for_relay);
    if (!s.ok()) FUZZ_CHECK(node_->Snapshot() == before);
    return s;
  }
  StatusOr<std::vector<v1::DeltaBatch>> ReadRelay(crdt::ReplicaId origin, uint64_t after,
                                                  size_t max_bytes) override {
    return inner_.ReadRelay(origin, after, max_bytes);
  }
  Status TruncateRelay(crdt::ReplicaId origin, uint64_t upto) override {
    return inner_.TruncateRelay(origin, upto);
  }
  Status SaveRelayOrigin(crdt::ReplicaId origin, const std::string& node,
                         const std::string& region) override {
    return inner_.SaveRelayOrigin(origin, node, region);
  }
  StatusOr<std::vector<v1::DeltaBatch>> RelayOrigins() override { return inner_.RelayOrigins(); }
  crdt::Timestamp HlcNow() override { return inner_.HlcNow(); }
  StatusOr<storage::Cursor> LoadCursor(const std::string& peer) override {
    return inner_.LoadCursor(peer);
  }
  Status SaveCursor(const std::string& peer, const storage::Cursor& cursor) override {
    return inner_.SaveCursor(peer, cursor);
  }
  Status TruncateLog(uint64_t upto) override { return inner_.TruncateLog(upto); }
  v1::Progress OwnProgress() override { return inner_.OwnProgress(); }

 private:
  FuzzNode* const node_;
  engine::EngineReplicationHost inner_;
};

class CheckedSyncHost final : public antientropy::SyncHost {
 public:
  CheckedSyncHost(FuzzNode* node, engine::Engine* engine) : node_(node), inner_(engine) {}

  bool Ready() const override { return inner_.Ready(); }
  std::vector<storage::Digest> TreeNodes(v1::CrdtType type, int level,
                                         const std::vector<uint32_t>& indices) const override {
    return inner_.TreeNodes(type, level, indices);
  }
  StatusOr<std::vector<storage::BucketEntry>> BucketEntries(
      v1::CrdtType type, const std::vector<uint32_t>& buckets) const override {
    return inner_.BucketEntries(type, buckets);
  }
  StatusOr<std::vector<v1::ObjectState>> ReadStates(
      const std::vector<v1::ObjectRef>& objects) const override {
    return inner_.ReadStates(objects);
  }
  StatusOr<uint64_t> JoinStates(const std::vector<v1::ObjectState>& states,
                                const v1::VersionVector& knowledge) override {
    const Contents before = node_->Snapshot();
    StatusOr<uint64_t> changed = inner_.JoinStates(states, knowledge);
    if (!changed.ok()) FUZZ_CHECK(node_->Snapshot() == before);
    return changed;
  }
  v1::VersionVector Knowledge() const override { return inner_.Knowledge(); }

 private:
  FuzzNode* const node_;
  engine::EngineSyncHost inner_;
};

}  // namespace

FuzzNode::FuzzNode(const std::string& id, bool populate)
    : env_(rocksdb::NewMemEnv(rocksdb::Env::Default())) {
  auto store = storage::Store::Open({"/fuzz/" + id, false, env_.get()});
  FUZZ_CHECK(store.ok());
  store_ = std::move(store).value();
  engine::EngineOptions options;
  options.limits.max_key_bytes = 64;
  options.limits.max_element_bytes = 256;
  engine_ = std::make_unique<engine::Engine>(
      store_.get(), storage::NodeIdentity{id, 1, storage::ReplicaIdOf(id, 1)}, &clock_, options);
  FUZZ_CHECK(engine_->Start().ok());
  FUZZ_CHECK(store_->merkle_ready());  // a new database has its (empty) trees at once
  replication_host_ = std::make_unique<CheckedReplicationHost>(this, engine_.get());
  sync_host_ = std::make_unique<CheckedSyncHost>(this, engine_.get());
  if (populate) Populate(*engine_, id == "b" ? 1 : 0);
}

Contents FuzzNode::Snapshot() const {
  Contents out;
  auto keys = engine_->ListKeys(std::nullopt, "", 1 << 20);
  FUZZ_CHECK(keys.ok());
  for (const auto& [key, type] : *keys) {
    auto bytes = store_->ReadState(type, key);
    FUZZ_CHECK(bytes.ok() && bytes->has_value());
    out.objects[key.Encode()] = {type, **bytes};
  }
  out.applied = engine_->AppliedVector();
  return out;
}

std::string FuzzNode::Fingerprint() const {
  const Contents c = Snapshot();
  std::string out;
  for (const auto& [key, typed] : c.objects) out += key + '\0' + typed.second + '\0';
  for (const auto& [replica, seq] : c.applied.entries())
    out += std::to_string(replica) + ':' + std::to_string(seq) + ',';
  out += "|knows:";
  const crdt::VersionVector knowledge = engine_->Knowledge();
  for (const auto& [replica, seq] : knowledge.entries())
    out += std::to_string(replica) + ':' + std::to_string(seq) + ',';
  for (const replication::PeerInfo& peer : kPeers) {
    auto cursor = store_->LoadCursor(peer.id);
    FUZZ_CHECK(cursor.ok());
    out += "|cursor:" + std::to_string(cursor->acked) + ':' + std::to_string(cursor->replica);
  }
  auto log = store_->ReadLog(engine_->identity().replica, 1, engine_->last_seq(), 1 << 30);
  FUZZ_CHECK(log.ok());
  out += "|log:" + std::to_string(log->size());
  return out;
}

FuzzNode& PristineNode() {
  // Never destroyed: closing a store from a static destructor, after RocksDB's own statics
  // are gone, hangs at exit.
  static FuzzNode* node = nullptr;
  static std::string* pristine = new std::string;
  if (node == nullptr || node->Fingerprint() != *pristine) {
    delete node;
    node = new FuzzNode(kSelf.id);
    *pristine = node->Fingerprint();
  }
  return *node;
}

void Populate(engine::Engine& engine, int variant) {
  using engine::Op;
  using Kind = Op::Kind;
  const std::string v = std::to_string(variant);
  const std::vector<std::pair<std::string, Op>> ops = {
      {"gc", {.kind = Kind::kCreate, .type = v1::G_COUNTER, .initial_value = 3 + variant}},
      {"pn", {.kind = Kind::kIncrement, .amount = 5}},
      {"pn", {.kind = Kind::kDecrement, .amount = 2u + variant}},
      // Created as a different type on each node: a type conflict when they meet.
      {"x", {.kind = Kind::kCreate, .type = variant == 1 ? v1::PN_COUNTER : v1::G_COUNTER}},
      {"gs", {.kind = Kind::kCreate, .type = v1::G_SET}},
      {"gs", {.kind = Kind::kAdd, .elements = {"a", "b" + v}}},
      {"2p", {.kind = Kind::kCreate, .type = v1::TWO_P_SET}},
      {"2p", {.kind = Kind::kAdd, .elements = {"a" + v, "b", "c"}}},
      {"2p", {.kind = Kind::kRemove, .elements = {"a" + v}}},
      {"or", {.kind = Kind::kAdd, .elements = {"a", "b", "c" + v}}},
      {"or", {.kind = Kind::kRemove, .elements = {"a"}}},
      {"lww", {.kind = Kind::kCreate, .type = v1::LWW_SET, .bias = crdt::LwwBias::kAddWins}},
      {"lww", {.kind = Kind::kAdd, .elements = {"a", "b" + v}}},
      {"lww", {.kind = Kind::kRemove, .elements = {"a"}}},
      {"r", {.kind = Kind::kSet, .value = "v" + v}},
      {"mv", {.kind = Kind::kSet, .type = v1::MV_REGISTER, .value = "m" + v}},
      {"g", {.kind = Kind::kAddVertex, .vertex = "p"}},
      {"g", {.kind = Kind::kAddVertex, .vertex = "q" + v}},
      {"g", {.kind = Kind::kAddEdge, .from = "p", .to = "q" + v}},
      {"g", {.kind = Kind::kAddVertex, .vertex = "s"}},
      {"g", {.kind = Kind::kRemoveVertex, .vertex = "s"}},
  };
  for (const auto& result : engine.ApplyBatch(ops, false)) {
    if (!result.ok()) std::fprintf(stderr, "%s\n", result.status().ToString().c_str());
    FUZZ_CHECK(result.ok());
  }
}

}  // namespace geodatastore::fuzz
