#include "storage/store.h"

#include <rocksdb/db.h>
#include <rocksdb/merge_operator.h>
#include <rocksdb/options.h>
#include <rocksdb/table.h>
#include <rocksdb/utilities/checkpoint.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <map>

#include "crdt/any_crdt.h"

namespace geodatastore::storage {

namespace {

constexpr char kCatalog[] = "catalog";
constexpr char kDeltaLog[] = "delta_log";
constexpr char kMeta[] = "meta";
constexpr char kRelayLog[] = "relay_log";
constexpr char kMerkleKeys[] = "merkle_keys";
constexpr char kMerkleReady[] = "merkle_ready";

// Key digests are 16-byte values. While the trees are rebuilt from a snapshot, writes merge
// the XOR of old and new digest (the rebuild merges each object's digest as of the
// snapshot: XOR commutes, so the sum is right whatever the interleaving); otherwise they
// put the new digest.
class XorMergeOperator final : public rocksdb::AssociativeMergeOperator {
 public:
  bool Merge(const rocksdb::Slice&, const rocksdb::Slice* existing, const rocksdb::Slice& value,
             std::string* new_value, rocksdb::Logger*) const override {
    Digest d = Digest::FromBytes(value.ToStringView());
    if (existing != nullptr) d ^= Digest::FromBytes(existing->ToStringView());
    const auto bytes = d.Bytes();
    new_value->assign(bytes.data(), bytes.size());
    return true;
  }
  const char* Name() const override { return "geodatastore.Xor128"; }
};

// A type's column family: merge operands are deltas (or states) of that type, joined into
// the state in order. A piece that does not decode is skipped, and a state that does not is
// kept as it is (a read reports it): a merge never fails, since a failed merge would stop
// flushes and compactions, and with them every write.
class JoinMergeOperator final : public rocksdb::MergeOperator {
 public:
  explicit JoinMergeOperator(v1::CrdtType type)
      : type_(type), name_("geodatastore.Join." + std::string(crdt::TypeName(type))) {}

  bool FullMergeV2(const MergeOperationInput& in, MergeOperationOutput* out) const override {
    crdt::AnyCrdt state = crdt::NewCrdt(type_);
    if (in.existing_value != nullptr) {
      auto base = crdt::DecodeAnyAs(type_, in.existing_value->ToStringView());
      if (!base.ok()) {
        out->existing_operand = *in.existing_value;
        return true;
      }
      state = std::move(*base);
    }
    JoinOperands(in.operand_list, state);
    out->new_value = crdt::EncodeAny(state);
    return true;
  }

  // No PartialMergeMulti: joining deltas without their state into one another costs
  // O(k^2) for k of them (their causal contexts do not start at the state's), and a flush
  // would stall writes on it. Operands wait for the state (a compaction, or a read).

  const char* Name() const override { return name_.c_str(); }

 private:
  void JoinOperands(const std::vector<rocksdb::Slice>& operands, crdt::AnyCrdt& into) const {
    for (const rocksdb::Slice& operand : operands) {
      auto delta = crdt::DecodeAnyAs(type_, operand.ToStringView());
      if (delta.ok()) static_cast<void>(crdt::JoinAny(into, *delta));
    }
  }

  const v1::CrdtType type_;
  const std::string name_;
};

std::string LostMetaKey(v1::CrdtType type, std::string_view object_key) {
  return "lost/" + std::string(1, static_cast<char>(type)) + std::string(object_key);
}
constexpr std::string_view kLostPrefix = "lost/";

std::string DirtyMetaKey(std::string_view object_key) { return "dirty/" + std::string(object_key); }

// merkle_keys CF: type | bucket (fixed32) | object key -> digest.
std::string MerkleKey(v1::CrdtType type, uint32_t bucket, std::string_view object_key = {}) {
  std::string key(1, static_cast<char>(type));
  for (int shift = 24; shift >= 0; shift -= 8) key.push_back(static_cast<char>(bucket >> shift));
  key.append(object_key);
  return key;
}

void PutFixed64(std::string* out, uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) out->push_back(static_cast<char>(v >> shift));
}

uint64_t GetFixed64(std::string_view in) {
  uint64_t v = 0;
  for (size_t i = 0; i < 8 && i < in.size(); ++i) v = (v << 8) | static_cast<uint8_t>(in[i]);
  return v;
}

std::string LogKey(crdt::ReplicaId origin, uint64_t seq) {
  std::string key;
  PutFixed64(&key, origin);
  PutFixed64(&key, seq);
  return key;
}

std::string SeqMetaKey(crdt::ReplicaId origin) {
  std::string key = "seq/";
  PutFixed64(&key, origin);
  return key;
}

std::string AppliedMetaKey(crdt::ReplicaId origin) {
  std::string key = "applied/";
  PutFixed64(&key, origin);
  return key;
}

std::string KnowsMetaKey(crdt::ReplicaId origin) {
  std::string key = "knows/";
  PutFixed64(&key, origin);
  return key;
}

std::string CountMetaKey(v1::CrdtType type) { return "keys/" + std::string(crdt::TypeName(type)); }

Status FromRocks(const rocksdb::Status& s, std::string_view what) {
  if (s.ok()) return Status::Ok();
  const StatusCode code = s.IsCorruption() ? StatusCode::kCorruption : StatusCode::kUnavailable;
  return Status(code, std::string(what) + ": " + s.ToString());
}

}  // namespace

std::string ObjectKey::Encode() const {
  std::string out;
  out.reserve(1 + name.size());
  out.push_back(static_cast<char>(family));
  out.append(name);
  return out;
}

bool ObjectKey::Decode(std::string_view bytes, ObjectKey* out) {
  if (bytes.empty()) return false;
  const auto family = static_cast<v1::Family>(static_cast<uint8_t>(bytes[0]));
  if (!v1::Family_IsValid(family) || family == v1::FAMILY_UNSPECIFIED) return false;
  out->family = family;
  out->name.assign(bytes.substr(1));
  return true;
}

v1::Family FamilyOf(v1::CrdtType type) {
  switch (type) {
    case v1::G_COUNTER:
    case v1::PN_COUNTER:
      return v1::COUNTERS;
    case v1::G_SET:
    case v1::TWO_P_SET:
    case v1::OR_SET:
    case v1::LWW_SET:
      return v1::SETS;
    case v1::LWW_REGISTER:
    case v1::MV_REGISTER:
      return v1::REGISTERS;
    case v1::LWW_GRAPH:
      return v1::GRAPHS;
    default:
      return v1::FAMILY_UNSPECIFIED;
  }
}

std::string_view FamilyName(v1::Family family) {
  switch (family) {
    case v1::COUNTERS:
      return "counters";
    case v1::SETS:
      return "sets";
    case v1::REGISTERS:
      return "registers";
    case v1::GRAPHS:
      return "graphs";
    default:
      return "unknown";
  }
}

StatusOr<std::unique_ptr<Store>> Store::Open(const StoreOptions& options) {
  rocksdb::DBOptions db_options;
  if (options.env != nullptr) db_options.env = options.env;
  db_options.create_if_missing = true;
  db_options.create_missing_column_families = true;
  db_options.IncreaseParallelism(2);
  db_options.enable_pipelined_write = true;

  rocksdb::ColumnFamilyOptions cf_options;
  cf_options.OptimizeLevelStyleCompaction();
  // A bloom filter over the memtable's keys: a lookup of a key that is not there (a new
  // object, a name in another family) skips the skip list.
  cf_options.memtable_whole_key_filtering = true;
  cf_options.memtable_prefix_bloom_size_ratio = 0.02;
  // Small memtables: a write inserts three entries (state, delta log, Merkle key index) into
  // skip lists whose search, one cache miss per node, dominated the write path with 128 MiB
  // memtables (measured with redis-benchmark -P 16, 100,000 random keys: 64k INCR/s at
  // 64 MiB, 90k at 16, 110k at 4 or 2).
  cf_options.write_buffer_size = 4 << 20;
  rocksdb::ColumnFamilyOptions merkle_options = cf_options;
  merkle_options.merge_operator = std::make_shared<XorMergeOperator>();
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors = {
      {rocksdb::kDefaultColumnFamilyName, cf_options},
      {kCatalog, cf_options},
      {kDeltaLog, cf_options},
      {kMeta, cf_options},
      {kRelayLog, cf_options},
      {kMerkleKeys, merkle_options}};
  for (v1::CrdtType t : crdt::kAllTypes) {
    rocksdb::ColumnFamilyOptions type_options = cf_options;
    type_options.merge_operator = std::make_shared<JoinMergeOperator>(t);
    descriptors.push_back({std::string(crdt::TypeName(t)), type_options});
  }

  std::unique_ptr<Store> store(new Store());
  store->sync_writes_ = options.sync_writes;
  store->env_ = options.env;
  store->path_ = options.path;
  rocksdb::DB* db = nullptr;
  // Recovery replays the whole write-ahead log or refuses: RocksDB's default (point-in-time)
  // stops silently at a corrupt record, and the node would come back with less than it
  // acknowledged, under the same replica id. Refused, it opens point-in-time and says so
  // (wal_loss), and the node takes a new replica epoch (LoadIdentity).
  db_options.wal_recovery_mode = rocksdb::WALRecoveryMode::kAbsoluteConsistency;
  rocksdb::Status opened =
      rocksdb::DB::Open(db_options, options.path, descriptors, &store->handles_, &db);
  if (opened.IsCorruption()) {
    store->wal_loss_ = opened.ToString();
    store->handles_.clear();
    db_options.wal_recovery_mode = rocksdb::WALRecoveryMode::kPointInTimeRecovery;
    opened = rocksdb::DB::Open(db_options, options.path, descriptors, &store->handles_, &db);
  }
  GDS_RETURN_IF_ERROR(FromRocks(opened, "opening the database at " + options.path));
  store->db_.reset(db);
  store->catalog_ = store->handles_[1];
  store->delta_log_ = store->handles_[2];
  store->meta_ = store->handles_[3];
  store->relay_log_ = store->handles_[4];
  store->merkle_keys_ = store->handles_[5];
  for (size_t i = 6; i < descriptors.size(); ++i) {
    store->by_type_[*crdt::ParseTypeName(descriptors[i].name)] = store->handles_[i];
  }
  for (v1::CrdtType t : crdt::kAllTypes) {
    GDS_ASSIGN_OR_RETURN(auto count, store->GetMeta(CountMetaKey(t)));
    store->key_counts_[t] = count ? GetFixed64(*count) : 0;
  }
  GDS_RETURN_IF_ERROR(store->OpenMerkle());
  return store;
}

Status Store::OpenMerkle() {
  GDS_ASSIGN_OR_RETURN(auto ready, GetMeta(kMerkleReady));
  if (ready) {
    // The leaves, from the key digests.
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), merkle_keys_));
    std::lock_guard<std::mutex> lock(merkle_mu_);
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      const std::string_view key = it->key().ToStringView();
      if (key.size() < 5) return Corruption("a Merkle key digest with a short key");
      const auto type = static_cast<uint8_t>(key[0]);
      const auto bucket =
          static_cast<uint32_t>(GetFixed64(std::string(4, '\0').append(key.substr(1, 4))));
      if (type >= trees_.size() || bucket >= kBuckets) return Corruption("a bad Merkle key digest");
      trees_[type].Toggle(bucket, Digest::FromBytes(it->value().ToStringView()));
    }
    GDS_RETURN_IF_ERROR(FromRocks(it->status(), "loading the Merkle trees"));
    merkle_ready_ = true;
    return LoadDirty();
  }
  // No trees (a new database, one from before them, or a rebuild cut short): empty both
  // column families, then rebuild from a snapshot in the background. Writes from now on
  // merge their differences on top; the rebuild merges each object's digest as of the
  // snapshot; XOR commutes, so the sum is right whatever the interleaving.
  const std::string end(1, '\xff');
  GDS_RETURN_IF_ERROR(FromRocks(db_->DeleteRange(rocksdb::WriteOptions(), merkle_keys_, "", end),
                                "clearing Merkle data"));
  GDS_RETURN_IF_ERROR(FromRocks(
      db_->DeleteRange(rocksdb::WriteOptions(), meta_, DirtyMetaKey(""), DirtyMetaKey(end)),
      "clearing deferred digests"));
  {
    // A database without objects (a new one): its trees are empty, nothing to rebuild.
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), catalog_));
    it->SeekToFirst();
    GDS_RETURN_IF_ERROR(FromRocks(it->status(), "reading the catalog"));
    if (!it->Valid()) {
      GDS_RETURN_IF_ERROR(PutMeta(kMerkleReady, "1"));
      std::lock_guard<std::mutex> lock(merkle_mu_);
      merkle_ready_ = true;
      return Status::Ok();
    }
  }
  const rocksdb::Snapshot* snapshot = db_->GetSnapshot();
  rebuild_ = std::thread([this, snapshot] {
    const Status s = RebuildMerkle(snapshot);
    db_->ReleaseSnapshot(snapshot);
    std::lock_guard<std::mutex> lock(merkle_mu_);
    rebuild_status_ = s;
  });
  return Status::Ok();
}

// REQUIRES: merkle_mu_ held (called from OpenMerkle).
Status Store::LoadDirty() {
  const std::string prefix = DirtyMetaKey("");
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), meta_));
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    const std::string_view value = it->value().ToStringView();
    if (value.size() != 17) return Corruption("a deferred digest of the wrong size");
    const auto type = static_cast<v1::CrdtType>(static_cast<uint8_t>(value[0]));
    if (TypeFamily(type) == nullptr) return Corruption("a deferred digest of an unknown type");
    dirty_[std::string(it->key().ToStringView().substr(prefix.size()))] =
        Dirty{type, Digest::FromBytes(value.substr(1))};
  }
  return FromRocks(it->status(), "loading deferred digests");
}

std::vector<std::string> Store::DirtyKeys() const {
  std::lock_guard<std::mutex> lock(merkle_mu_);
  std::vector<std::string> out;
  out.reserve(dirty_.size());
  for (const auto& [key, entry] : dirty_) out.push_back(key);
  return out;
}

bool Store::IsDirty(std::string_view encoded_key) const {
  std::lock_guard<std::mutex> lock(merkle_mu_);
  return dirty_.contains(std::string(encoded_key));
}

Status Store::RebuildMerkle(const rocksdb::Snapshot* snapshot) {
  rocksdb::ReadOptions read;
  read.snapshot = snapshot;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(read, catalog_));
  rocksdb::WriteBatch batch;
  std::vector<std::tuple<v1::CrdtType, uint32_t, Digest>> toggles;
  auto flush = [&]() -> Status {
    GDS_RETURN_IF_ERROR(FromRocks(db_->Write(rocksdb::WriteOptions(), &batch), "rebuilding"));
    batch.Clear();
    std::lock_guard<std::mutex> lock(merkle_mu_);
    for (const auto& [type, bucket, d] : toggles) trees_[type].Toggle(bucket, d);
    toggles.clear();
    return Status::Ok();
  };
  for (it->SeekToFirst(); it->Valid() && !stopping_; it->Next()) {
    if (it->value().size() != 1) return Corruption("a catalog entry of the wrong size");
    const auto type = static_cast<v1::CrdtType>(it->value()[0]);
    rocksdb::ColumnFamilyHandle* cf = TypeFamily(type);
    if (cf == nullptr) return Corruption("a catalog entry of an unknown type");
    std::string state;
    GDS_RETURN_IF_ERROR(FromRocks(db_->Get(read, cf, it->key(), &state), "rebuilding"));
    const std::string_view key = it->key().ToStringView();
    const Digest d = ObjectDigest(key, state);
    const uint32_t bucket = BucketOf(key);
    const auto bytes = d.Bytes();
    const rocksdb::Slice value(bytes.data(), bytes.size());
    batch.Merge(merkle_keys_, MerkleKey(type, bucket, key), value);
    toggles.emplace_back(type, bucket, d);
    if (toggles.size() >= 1000) GDS_RETURN_IF_ERROR(flush());
  }
  GDS_RETURN_IF_ERROR(FromRocks(it->status(), "rebuilding the Merkle trees"));
  if (stopping_) return Status(StatusCode::kUnavailable, "stopped before the rebuild ended");
  batch.Put(meta_, kMerkleReady, "1");
  GDS_RETURN_IF_ERROR(flush());
  std::lock_guard<std::mutex> lock(merkle_mu_);
  merkle_ready_ = true;
  return Status::Ok();
}

bool Store::merkle_ready() const {
  std::lock_guard<std::mutex> lock(merkle_mu_);
  return merkle_ready_;
}

Status Store::merkle_rebuild_status() const {
  std::lock_guard<std::mutex> lock(merkle_mu_);
  return rebuild_status_;
}

std::vector<Digest> Store::TreeNodes(v1::CrdtType type, int level,
                                     const std::vector<uint32_t>& indices) const {
  std::vector<Digest> out;
  out.reserve(indices.size());
  std::lock_guard<std::mutex> lock(merkle_mu_);
  const bool valid_type = static_cast<size_t>(type) < trees_.size();
  for (uint32_t i : indices) {
    if (!valid_type || level < 0 || level > kLeafLevel || i >= MerkleTree::Width(level)) {
      out.push_back({});
    } else {
      out.push_back(trees_[type].Node(level, i));
    }
  }
  return out;
}

StatusOr<std::vector<BucketEntry>> Store::BucketEntries(
    v1::CrdtType type, const std::vector<uint32_t>& buckets) const {
  std::vector<BucketEntry> out;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), merkle_keys_));
  for (uint32_t bucket : buckets) {
    const std::string prefix = MerkleKey(type, bucket);
    for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
      const Digest d = Digest::FromBytes(it->value().ToStringView());
      if (d.zero()) continue;  // an object that moved to another type
      out.push_back({bucket, std::string(it->key().ToStringView().substr(prefix.size())), d});
    }
  }
  GDS_RETURN_IF_ERROR(FromRocks(it->status(), "reading Merkle key digests"));
  return out;
}

Store::~Store() {
  stopping_ = true;
  if (rebuild_.joinable()) rebuild_.join();
  if (!db_) return;
  db_->FlushWAL(true).PermitUncheckedError();
  rocksdb::FlushOptions flush;
  db_->Flush(flush, handles_).PermitUncheckedError();
  for (rocksdb::ColumnFamilyHandle* h : handles_)
    db_->DestroyColumnFamilyHandle(h).PermitUncheckedError();
  db_->Close().PermitUncheckedError();
}

rocksdb::ColumnFamilyHandle* Store::TypeFamily(v1::CrdtType type) const {
  return (type > 0 && static_cast<size_t>(type) < by_type_.size()) ? by_type_[type] : nullptr;
}

StatusOr<std::optional<v1::CrdtType>> Store::LookupType(const ObjectKey& key) const {
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), catalog_, key.Encode(), &value);
  if (s.IsNotFound()) return std::optional<v1::CrdtType>();
  GDS_RETURN_IF_ERROR(FromRocks(s, "reading the catalog"));
  const int tag = value.empty() ? 0 : static_cast<uint8_t>(value[0]);
  if (value.size() != 1 || TypeFamily(static_cast<v1::CrdtType>(tag)) == nullptr) {
    return Corruption("catalog entry of '" + key.name + "' holds no valid type");
  }
  return std::optional<v1::CrdtType>(static_cast<v1::CrdtType>(tag));
}

StatusOr<std::optional<std::string>> Store::ReadState(v1::CrdtType type,
                                                      const ObjectKey& key) const {
  rocksdb::ColumnFamilyHandle* cf = TypeFamily(type);
  if (cf == nullptr) return InvalidArgument("no column family for type " + std::to_string(type));
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), cf, key.Encode(), &value);
  if (s.IsNotFound()) return std::optional<std::string>();
  GDS_RETURN_IF_ERROR(FromRocks(s, "reading a state"));
  return std::optional<std::string>(std::move(value));
}

Status Store::Commit(crdt::ReplicaId origin, uint64_t wall_time_ms,
                     const std::vector<ObjectWrite>& writes) {
  // The highest seq is the log's last entry (LastSeq); "seq/" is written only when the log is
  // truncated, so a write costs no meta entry.
  return WriteObjects(writes, true, origin, wall_time_ms, {});
}

Status Store::CommitRemote(crdt::ReplicaId origin, uint64_t seq,
                           const std::vector<ObjectWrite>& writes, const v1::DeltaBatch* relay) {
  return WriteObjects(writes, false, origin, 0, {{AppliedMetaKey(origin), seq}}, relay);
}

Status Store::CommitRepair(const std::vector<ObjectWrite>& writes,
                           const std::vector<std::pair<crdt::ReplicaId, uint64_t>>& knowledge) {
  if (writes.empty()) return Status::Ok();
  MetaCounters meta;
  for (const auto& [origin, seq] : knowledge) meta.emplace_back(KnowsMetaKey(origin), seq);
  return WriteObjects(writes, false, 0, 0, meta);
}

Status Store::WriteObjects(const std::vector<ObjectWrite>& writes, bool log, crdt::ReplicaId origin,
                           uint64_t wall_time_ms, const MetaCounters& meta,
                           const v1::DeltaBatch* relay) {
  rocksdb::WriteBatch batch;
  // Merkle changes: per key digest (from, to), and per leaf the XOR of the differences.
  std::map<std::string, std::pair<Digest, Digest>> index_changes;
  std::map<std::pair<v1::CrdtType, uint32_t>, Digest> leaf_changes;
  std::vector<std::tuple<v1::CrdtType, uint32_t, Digest>> toggles;
  if (relay != nullptr) {
    v1::DeltaBatch entry = *relay;
    entry.clear_hlc_physical();  // the relay stamps its own clock when it forwards
    entry.clear_hlc_logical();
    entry.clear_covered_seq();  // what anti-entropy covered here, not downstream
    batch.Put(relay_log_, LogKey(origin, relay->to_seq()), entry.SerializeAsString());
  }
  bool rebuilding;
  bool any_dirty;
  {
    std::lock_guard<std::mutex> lock(merkle_mu_);
    rebuilding = !merkle_ready_;
    any_dirty = !dirty_.empty();
  }
  // Deferred digests as this batch leaves them: an entry per object it makes or finds dirty
  // (nullopt: brought up to date).
  std::map<std::string, std::optional<Dirty>> dirty_after;
  bool counts_change = false;
  for (const ObjectWrite& w : writes) {
    rocksdb::ColumnFamilyHandle* cf = TypeFamily(w.type);
    if (cf == nullptr)
      return InvalidArgument("no column family for type " + std::to_string(w.type));
    const std::string key = w.key.Encode();
    std::optional<Dirty> dirty;
    if (auto it = dirty_after.find(key); it != dirty_after.end()) {
      dirty = it->second;
    } else if (any_dirty) {
      std::lock_guard<std::mutex> lock(merkle_mu_);
      if (auto found = dirty_.find(key); found != dirty_.end()) dirty = found->second;
    }
    if (w.deferred) {
      if (w.created || w.type_changed || rebuilding)
        return InvalidArgument("a deferred write of a new object or while the trees are rebuilt");
      for (const std::string& operand : w.operands) batch.Merge(cf, key, operand);
      if (!dirty) {
        const Dirty entry{w.type, w.old_digest.value_or(Digest{})};
        std::string value(1, static_cast<char>(w.type));
        const auto bytes = entry.indexed.Bytes();
        value.append(bytes.data(), bytes.size());
        batch.Put(meta_, DirtyMetaKey(key), value);
        dirty_after[key] = entry;
      }
    } else {
      batch.Put(cf, key, w.state);
      // The object's Merkle leaf and key digest: out with the old digest, in with the new.
      const uint32_t bucket = BucketOf(key);
      const Digest digest = w.digest ? *w.digest : ObjectDigest(key, w.state);
      const Digest old = dirty ? dirty->indexed : w.old_digest.value_or(Digest{});
      auto change = [&](v1::CrdtType type, const Digest& from, const Digest& to) {
        if (from == to) return;
        auto [it, fresh] = index_changes.try_emplace(MerkleKey(type, bucket, key), from, to);
        if (!fresh) it->second.second = to;  // a later write of the same object in the batch
        leaf_changes[{type, bucket}] ^= from ^ to;
      };
      if (w.type_changed) {
        change(dirty ? dirty->type : w.old_type, old, Digest{});
        change(w.type, Digest{}, digest);
      } else {
        change(w.type, old, digest);
      }
      if (dirty) {
        batch.Delete(meta_, DirtyMetaKey(key));
        dirty_after[key] = std::nullopt;
      }
    }
    for (const auto& [lost_type, state] : w.lost) batch.Put(meta_, LostMetaKey(lost_type, key), state);
    if (w.created || w.type_changed) {
      batch.Put(catalog_, key, std::string(1, static_cast<char>(w.type)));
      counts_change = true;
    }
    if (w.type_changed) {
      rocksdb::ColumnFamilyHandle* old_cf = TypeFamily(w.old_type);
      if (old_cf != nullptr) batch.Delete(old_cf, key);
    }
    if (log && w.seq != 0) {
      v1::DeltaRecord record;
      record.set_origin(origin);
      record.set_seq(w.seq);
      record.set_family(w.key.family);
      record.set_name(w.key.name);
      record.set_type(w.type);
      record.set_delta(w.delta);
      record.set_wall_time_ms(wall_time_ms);
      batch.Put(delta_log_, LogKey(origin, w.seq), record.SerializeAsString());
    }
  }
  for (const auto& [meta_key, meta_value] : meta) {
    std::string value;
    PutFixed64(&value, meta_value);
    batch.Put(meta_, meta_key, value);
  }
  for (const auto& [key, change] : index_changes) {
    const auto& [from, to] = change;
    if (rebuilding) {
      const auto bytes = (from ^ to).Bytes();
      batch.Merge(merkle_keys_, key, rocksdb::Slice(bytes.data(), bytes.size()));
    } else if (to.zero()) {
      batch.Delete(merkle_keys_, key);
    } else {
      const auto bytes = to.Bytes();
      batch.Put(merkle_keys_, key, rocksdb::Slice(bytes.data(), bytes.size()));
    }
  }
  rocksdb::WriteOptions options;
  options.sync = sync_writes_;
  auto toggle = [&] {
    std::lock_guard<std::mutex> lock(merkle_mu_);
    for (const auto& [leaf, d] : leaf_changes) trees_[leaf.first].Toggle(leaf.second, d);
    for (auto& [key, entry] : dirty_after) {
      if (entry) {
        dirty_[key] = *entry;
      } else {
        dirty_.erase(key);
      }
    }
  };
  if (!counts_change) {
    GDS_RETURN_IF_ERROR(FromRocks(db_->Write(options, &batch), "writing a batch"));
    toggle();
    return Status::Ok();
  }

  std::lock_guard<std::mutex> lock(count_mu_);
  std::array<uint64_t, 16> counts{};
  for (size_t t = 0; t < counts.size(); ++t) counts[t] = key_counts_[t].load();
  for (const ObjectWrite& w : writes) {
    if (w.created || w.type_changed) ++counts[w.type];
    if (w.type_changed && counts[w.old_type] > 0) --counts[w.old_type];
  }
  for (v1::CrdtType t : crdt::kAllTypes) {
    if (counts[t] == key_counts_[t].load()) continue;
    std::string count;
    PutFixed64(&count, counts[t]);
    batch.Put(meta_, CountMetaKey(t), count);
  }
  GDS_RETURN_IF_ERROR(FromRocks(db_->Write(options, &batch), "writing a batch"));
  toggle();
  for (size_t t = 0; t < counts.size(); ++t) key_counts_[t].store(counts[t]);
  return Status::Ok();
}

Status Store::ScanStates(v1::CrdtType type,
                         const std::function<void(std::string_view, std::string_view)>& fn) const {
  rocksdb::ColumnFamilyHandle* cf = TypeFamily(type);
  if (cf == nullptr) return InvalidArgument("no column family for type " + std::to_string(type));
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf));
  for (it->SeekToFirst(); it->Valid(); it->Next())
    fn(it->key().ToStringView(), it->value().ToStringView());
  return FromRocks(it->status(), "scanning states");
}

StatusOr<std::vector<v1::DeltaRecord>> Store::ReadLog(crdt::ReplicaId origin, uint64_t from,
                                                      uint64_t to, size_t max_bytes) const {
  std::vector<v1::DeltaRecord> out;
  size_t bytes = 0;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), delta_log_));
  const std::string end = LogKey(origin, to);
  for (it->Seek(LogKey(origin, from)); it->Valid() && it->key().compare(end) <= 0; it->Next()) {
    v1::DeltaRecord record;
    if (!record.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
      return Corruption("undecodable delta-log entry");
    }
    bytes += it->value().size();
    out.push_back(std::move(record));
    if (bytes >= max_bytes) break;
  }
  GDS_RETURN_IF_ERROR(FromRocks(it->status(), "reading the delta log"));
  return out;
}

Status Store::TruncateLog(crdt::ReplicaId origin, uint64_t upto) {
  if (upto == 0) return Status::Ok();
  // The entries go, the highest seq they held stays (LastSeq), in one batch.
  GDS_ASSIGN_OR_RETURN(uint64_t last, LastSeq(origin));
  rocksdb::WriteBatch batch;
  batch.DeleteRange(delta_log_, LogKey(origin, 0), LogKey(origin, upto + 1));
  std::string value;
  PutFixed64(&value, std::max(last, upto));
  batch.Put(meta_, SeqMetaKey(origin), value);
  rocksdb::WriteOptions options;
  return FromRocks(db_->Write(options, &batch), "truncating the delta log");
}

StatusOr<std::vector<v1::DeltaBatch>> Store::ReadRelay(crdt::ReplicaId origin, uint64_t after,
                                                       size_t max_bytes) const {
  std::vector<v1::DeltaBatch> out;
  size_t bytes = 0;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), relay_log_));
  const std::string end = LogKey(origin, UINT64_MAX);
  for (it->Seek(LogKey(origin, after + 1)); it->Valid() && it->key().compare(end) <= 0;
       it->Next()) {
    if (!out.empty() && bytes + it->value().size() > max_bytes) break;
    v1::DeltaBatch entry;
    if (!entry.ParseFromArray(it->value().data(), static_cast<int>(it->value().size())) ||
        entry.origin() != origin || entry.to_seq() < entry.from_seq()) {
      return Corruption("undecodable relay-log entry");
    }
    bytes += it->value().size();
    out.push_back(std::move(entry));
  }
  GDS_RETURN_IF_ERROR(FromRocks(it->status(), "reading the relay log"));
  return out;
}

Status Store::TruncateRelay(crdt::ReplicaId origin, uint64_t upto) {
  if (upto == 0) return Status::Ok();
  return FromRocks(db_->DeleteRange(rocksdb::WriteOptions(), relay_log_, LogKey(origin, 0),
                                    LogKey(origin, upto + 1)),
                   "truncating the relay log");
}

Status Store::SaveRelayOrigin(crdt::ReplicaId origin, const std::string& node,
                              const std::string& region) {
  std::string key = "relay_origin/";
  PutFixed64(&key, origin);
  return PutMeta(key, node + std::string(1, '\0') + region);
}

StatusOr<std::vector<v1::DeltaBatch>> Store::RelayOrigins() const {
  std::vector<v1::DeltaBatch> out;
  const std::string prefix = "relay_origin/";
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), meta_));
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    const std::string_view key = it->key().ToStringView().substr(prefix.size());
    const std::string_view value = it->value().ToStringView();
    const size_t split = value.find('\0');
    if (key.size() != 8 || split == std::string_view::npos)
      return Corruption("a bad relay origin record");
    v1::DeltaBatch& header = out.emplace_back();
    header.set_origin(GetFixed64(key));
    header.set_origin_node(std::string(value.substr(0, split)));
    header.set_origin_region(std::string(value.substr(split + 1)));
  }
  GDS_RETURN_IF_ERROR(FromRocks(it->status(), "reading relay origins"));
  // And any origin with relay entries whose record a crash kept from being saved.
  std::unique_ptr<rocksdb::Iterator> log(db_->NewIterator(rocksdb::ReadOptions(), relay_log_));
  for (log->SeekToFirst(); log->Valid();) {
    if (log->key().size() != 16) return Corruption("a relay-log key of the wrong size");
    const crdt::ReplicaId origin = GetFixed64(log->key().ToStringView());
    const bool known = std::any_of(out.begin(), out.end(),
                                   [&](const v1::DeltaBatch& h) { return h.origin() == origin; });
    v1::DeltaBatch entry;
    if (!known) {
      if (!entry.ParseFromArray(log->value().data(), static_cast<int>(log->value().size())) ||
          entry.origin() != origin) {
        return Corruption("undecodable relay-log entry");
      }
      entry.clear_deltas();
      out.push_back(std::move(entry));
    }
    if (origin == UINT64_MAX) break;
    log->Seek(LogKey(origin + 1, 0));
  }
  GDS_RETURN_IF_ERROR(FromRocks(log->status(), "reading the relay log"));
  return out;
}

StatusOr<uint64_t> Store::FirstSeq(crdt::ReplicaId origin) const {
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), delta_log_));
  it->Seek(LogKey(origin, 0));
  if (it->Valid() && it->key().size() == 16 && GetFixed64(it->key().ToStringView()) == origin) {
    return GetFixed64(it->key().ToStringView().substr(8));
  }
  GDS_RETURN_IF_ERROR(FromRocks(it->status(), "reading the delta log"));
  return uint64_t{0};
}

StatusOr<std::vector<std::pair<crdt::ReplicaId, uint64_t>>> Store::LoadVector(
    std::string_view prefix) const {
  std::vector<std::pair<crdt::ReplicaId, uint64_t>> out;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), meta_));
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    const std::string_view key = it->key().ToStringView().substr(prefix.size());
    if (key.size() != 8 || it->value().size() != 8) {
      return Corruption("bad " + std::string(prefix) + " vector entry");
    }
    out.emplace_back(GetFixed64(key), GetFixed64(it->value().ToStringView()));
  }
  GDS_RETURN_IF_ERROR(FromRocks(it->status(), "reading a vector from meta"));
  return out;
}

StatusOr<std::vector<std::pair<crdt::ReplicaId, uint64_t>>> Store::LoadApplied() const {
  return LoadVector("applied/");
}

StatusOr<std::vector<std::pair<crdt::ReplicaId, uint64_t>>> Store::LoadKnowledge() const {
  return LoadVector("knows/");
}

namespace {
std::string ConflictKey(uint64_t id) {
  std::string key = "conflict/";
  PutFixed64(&key, id);
  return key;
}
}  // namespace

Status Store::AppendConflicts(const std::vector<v1::ConflictRecord>& records) {
  if (records.empty()) return Status::Ok();
  std::lock_guard<std::mutex> lock(conflict_mu_);
  if (next_conflict_ == 0) {
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), meta_));
    it->SeekForPrev(ConflictKey(UINT64_MAX));
    next_conflict_ = it->Valid() && it->key().starts_with("conflict/") && it->key().size() == 17
                         ? GetFixed64(it->key().ToStringView().substr(9)) + 1
                         : 1;
  }
  rocksdb::WriteBatch batch;
  for (const v1::ConflictRecord& r : records)
    batch.Put(meta_, ConflictKey(next_conflict_++), r.SerializeAsString());
  if (next_conflict_ > kMaxConflicts + 1) {
    batch.DeleteRange(meta_, ConflictKey(0), ConflictKey(next_conflict_ - kMaxConflicts));
  }
  return FromRocks(db_->Write(rocksdb::WriteOptions(), &batch), "writing the conflict log");
}

StatusOr<std::vector<v1::ConflictRecord>> Store::RecentConflicts(size_t limit) const {
  std::vector<v1::ConflictRecord> out;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), meta_));
  for (it->SeekForPrev(ConflictKey(UINT64_MAX));
       it->Valid() && it->key().starts_with("conflict/") && out.size() < limit; it->Prev()) {
    v1::ConflictRecord r;
    if (!r.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
      return Corruption("undecodable conflict record");
    }
    out.push_back(std::move(r));
  }
  GDS_RETURN_IF_ERROR(FromRocks(it->status(), "reading the conflict log"));
  return out;
}

StatusOr<Cursor> Store::LoadCursor(const std::string& peer) const {
  GDS_ASSIGN_OR_RETURN(auto value, GetMeta("cursor/" + peer));
  Cursor c;
  if (value) c.acked = GetFixed64(*value);
  if (value && value->size() >= 16) c.replica = GetFixed64(std::string_view(*value).substr(8));
  return c;
}

Status Store::SaveCursor(const std::string& peer, const Cursor& cursor) {
  std::string value;
  PutFixed64(&value, cursor.acked);
  PutFixed64(&value, cursor.replica);
  rocksdb::WriteOptions options;
  return FromRocks(db_->Put(options, meta_, "cursor/" + peer, value), "saving a cursor");
}

StatusOr<std::vector<std::pair<ObjectKey, v1::CrdtType>>> Store::ListKeys(
    std::optional<v1::CrdtType> type, std::string_view prefix, size_t limit) const {
  std::vector<std::pair<ObjectKey, v1::CrdtType>> out;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), catalog_));
  std::vector<v1::Family> families;
  if (type) {
    families.push_back(FamilyOf(*type));
  } else {
    families = {v1::COUNTERS, v1::SETS, v1::REGISTERS, v1::GRAPHS};
  }
  for (v1::Family family : families) {
    const std::string start = ObjectKey{family, std::string(prefix)}.Encode();
    for (it->Seek(start); it->Valid() && out.size() < limit; it->Next()) {
      if (!it->key().starts_with(start)) break;
      ObjectKey key;
      if (!ObjectKey::Decode(it->key().ToStringView(), &key) || it->value().size() != 1) {
        return Corruption("undecodable catalog entry");
      }
      const auto t = static_cast<v1::CrdtType>(static_cast<uint8_t>(it->value()[0]));
      if (!type || t == *type) out.emplace_back(std::move(key), t);
    }
    GDS_RETURN_IF_ERROR(FromRocks(it->status(), "listing keys"));
  }
  return out;
}

StatusOr<std::optional<std::string>> Store::ReadLost(v1::CrdtType type,
                                                    const ObjectKey& key) const {
  return GetMeta(LostMetaKey(type, key.Encode()));
}

StatusOr<std::vector<LostState>> Store::ListLost(size_t limit) const {
  std::vector<LostState> out;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), meta_));
  for (it->Seek(rocksdb::Slice(kLostPrefix.data(), kLostPrefix.size()));
       it->Valid() && out.size() < limit; it->Next()) {
    std::string_view key = it->key().ToStringView();
    if (!key.starts_with(kLostPrefix)) break;
    key.remove_prefix(kLostPrefix.size());
    LostState lost;
    if (key.empty() || !ObjectKey::Decode(key.substr(1), &lost.key)) {
      return Corruption("undecodable lost/ entry");
    }
    lost.type = static_cast<v1::CrdtType>(static_cast<uint8_t>(key[0]));
    lost.state = it->value().ToString();
    out.push_back(std::move(lost));
  }
  GDS_RETURN_IF_ERROR(FromRocks(it->status(), "listing lost states"));
  return out;
}

StatusOr<uint64_t> Store::LastSeq(crdt::ReplicaId origin) const {
  uint64_t seq = 0;
  GDS_ASSIGN_OR_RETURN(auto meta, GetMeta(SeqMetaKey(origin)));
  if (meta) seq = GetFixed64(*meta);
  // A concurrent batch may have logged a higher seq than the counter it wrote last.
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), delta_log_));
  it->SeekForPrev(LogKey(origin, UINT64_MAX));
  if (it->Valid() && it->key().size() == 16 && GetFixed64(it->key().ToStringView()) == origin) {
    seq = std::max(seq, GetFixed64(it->key().ToStringView().substr(8)));
  }
  GDS_RETURN_IF_ERROR(FromRocks(it->status(), "reading the delta log"));
  return seq;
}

StatusOr<std::optional<std::string>> Store::GetMeta(std::string_view key) const {
  std::string value;
  rocksdb::Status s =
      db_->Get(rocksdb::ReadOptions(), meta_, rocksdb::Slice(key.data(), key.size()), &value);
  if (s.IsNotFound()) return std::optional<std::string>();
  GDS_RETURN_IF_ERROR(FromRocks(s, "reading metadata"));
  return std::optional<std::string>(std::move(value));
}

Status Store::PutMeta(std::string_view key, std::string_view value) {
  rocksdb::WriteOptions options;
  options.sync = true;
  return FromRocks(db_->Put(options, meta_, rocksdb::Slice(key.data(), key.size()),
                            rocksdb::Slice(value.data(), value.size())),
                   "writing metadata");
}

Status Store::DeleteMeta(std::string_view key) {
  rocksdb::WriteOptions options;
  options.sync = true;
  return FromRocks(db_->Delete(options, meta_, rocksdb::Slice(key.data(), key.size())),
                   "deleting metadata");
}

uint64_t Store::KeyCount(v1::CrdtType type) const {
  return (type > 0 && static_cast<size_t>(type) < key_counts_.size()) ? key_counts_[type].load()
                                                                      : 0;
}

StoreStats Store::Stats() const {
  StoreStats stats;
  auto sum = [&](const char* property) {
    uint64_t total = 0;
    for (rocksdb::ColumnFamilyHandle* h : handles_) {
      uint64_t v = 0;
      if (db_->GetIntProperty(h, property, &v)) total += v;
    }
    return total;
  };
  stats.live_sst_bytes = sum("rocksdb.live-sst-files-size");
  stats.total_sst_bytes = sum("rocksdb.total-sst-files-size");
  stats.memtable_bytes = sum("rocksdb.cur-size-all-mem-tables");
  stats.pending_compaction_bytes = sum("rocksdb.estimate-pending-compaction-bytes");
  return stats;
}

Status Store::Checkpoint(const std::string& dir) {
  rocksdb::Checkpoint* raw = nullptr;
  GDS_RETURN_IF_ERROR(FromRocks(rocksdb::Checkpoint::Create(db_.get(), &raw), "checkpoint"));
  std::unique_ptr<rocksdb::Checkpoint> checkpoint(raw);
  GDS_RETURN_IF_ERROR(
      FromRocks(checkpoint->CreateCheckpoint(dir), "creating checkpoint in " + dir));
  // Mark the copy: a node started on it must not reuse the dots this node issues next.
  GDS_ASSIGN_OR_RETURN(auto copy, Open(StoreOptions{dir, true}));
  return copy->PutMeta(kNewEpochMetaKey, "1");
}

Status Store::Flush() {
  rocksdb::FlushOptions flush;
  return FromRocks(db_->Flush(flush, handles_), "flushing");
}

}  // namespace geodatastore::storage
