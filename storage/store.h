// Store: the node's RocksDB database — one column family per CRDT type holding object
// states, a catalog of object types, the delta log and node metadata — written only in
// atomic batches.
//
// Key grammar (all integers big-endian so that byte order is numeric order):
//   object_key           := family: byte | name: bytes
//   catalog     CF:  object_key                 -> type: byte (CrdtType)
//   <type name> CF:  object_key                 -> canonical CrdtValue bytes
//   delta_log   CF:  origin: fixed64 | seq: fixed64 -> DeltaRecord
//   merkle_keys CF:  type: byte | bucket: fixed32 | object_key -> 16-byte digest
//                    (storage/merkle.h)
//   relay_log   CF:  origin: fixed64 | to_seq: fixed64 -> DeltaBatch (a gateway's copy of
//                                                  a received delta group it forwards)
//   meta        CF:  "node_id"                  -> node id
//                    "epoch"                    -> replica epoch, decimal
//                    "new_epoch"                -> present when the next start must take a
//                                                  new epoch (a restored checkpoint)
//                    "seq/" origin: fixed64     -> highest seq logged for origin when its log
//                                                  was last truncated: fixed64 (LastSeq)
//                    "keys/" type name          -> objects of that type: fixed64
//                    "applied/" origin: fixed64 -> highest seq of origin applied here: fixed64
//                    "knows/" origin: fixed64   -> highest seq of origin the states here may
//                                                  hold (joined from other replicas): fixed64
//                    "relay_origin/" origin: fixed64 -> node id, NUL, region (gateways)
//                    "cursor/" peer id          -> highest own seq the peer acknowledged: fixed64,
//                                                  then its replica id: fixed64
//                    "lost/" type: byte | object_key -> the state of that type a type
//                                                  conflict displaced (ObjectWrite::lost)
//                    "dirty/" object_key        -> type: byte, then the 16-byte digest the
//                                                  Merkle index holds for it (a deferred
//                                                  digest; see ObjectWrite::deferred)
//
// A state is written whole (Put) or, for a large object, as its delta merged in (Merge): the
// type's column family joins merge operands into the state (reads, flushes and compactions
// do), so an op on a 100,000-member set writes what it changed, not the set.
//
// Thread safety: every method may be called from any thread.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/status.h"
#include "crdt/clock.h"
#include "geodatastore/v1/crdt.pb.h"
#include "geodatastore/v1/replication.pb.h"
#include "geodatastore/v1/storage.pb.h"
#include "storage/merkle.h"

namespace rocksdb {
class ColumnFamilyHandle;
class DB;
class Env;
class Snapshot;
}  // namespace rocksdb

namespace geodatastore::storage {

// A named object: names are namespaced by family.
struct ObjectKey {
  v1::Family family = v1::FAMILY_UNSPECIFIED;
  std::string name;

  std::string Encode() const;
  static bool Decode(std::string_view bytes, ObjectKey* out);
  bool operator==(const ObjectKey&) const = default;
};

inline constexpr std::string_view kNewEpochMetaKey = "new_epoch";

// The family a type belongs to (counters, sets, registers, graphs).
v1::Family FamilyOf(v1::CrdtType type);
std::string_view FamilyName(v1::Family family);

struct StoreOptions {
  std::string path;
  bool sync_writes = false;     // fsync the WAL on every batch
  rocksdb::Env* env = nullptr;  // tests: an in-memory Env shared across reopenings
};

// One object's change within a commit.
struct ObjectWrite {
  v1::CrdtType type = v1::CRDT_TYPE_UNSPECIFIED;
  ObjectKey key;
  std::string state;  // the new canonical state
  std::string delta;  // the canonical delta that produced it
  bool created = false;
  uint64_t seq = 0;           // the delta's sequence number at the origin (0: not logged)
  bool type_changed = false;  // an existing object now has `type` (a resolved type conflict)
  v1::CrdtType old_type = v1::CRDT_TYPE_UNSPECIFIED;  // with type_changed
  // The Merkle digest of the state it replaces (of old_type with type_changed); none for a
  // new object. REQUIRES: exact, or the object's Merkle leaf goes wrong.
  std::optional<Digest> old_digest;
  // The Merkle digest of state, if the caller has it (else the store computes it).
  std::optional<Digest> digest;
  // A large object's op or replicated deltas: state is left empty, operands (deltas of
  // type, in order) are merged into the stored state, and the object's Merkle digest is
  // brought up to date later, by a write of its whole state (the store remembers the object
  // as dirty meanwhile, also across restarts: DirtyKeys). Hashing and rewriting a large state
  // on every op would make each op cost as much as the object.
  // REQUIRES: not created, not type_changed, the trees are ready (merkle_ready()).
  bool deferred = false;
  std::vector<std::string> operands;  // with deferred
  // States of another type that a type conflict over this object displaced and no embedding
  // could keep (crdt::EmbeddingType): (type, canonical state), stored under lost/ in the
  // same batch, replacing what was kept there (the caller joins them first).
  std::vector<std::pair<v1::CrdtType, std::string>> lost;
};

// A state kept under lost/ (ObjectWrite::lost).
struct LostState {
  ObjectKey key;
  v1::CrdtType type = v1::CRDT_TYPE_UNSPECIFIED;
  std::string state;
};

// What a peer has acknowledged of this node's writes, and the replica (epoch) it was then.
struct Cursor {
  uint64_t acked = 0;
  crdt::ReplicaId replica = 0;  // 0: not known
};

// One object's key digest in a Merkle bucket.
struct BucketEntry {
  uint32_t bucket = 0;
  std::string key;  // the encoded object key
  Digest digest;
};

struct StoreStats {
  uint64_t live_sst_bytes = 0;
  uint64_t total_sst_bytes = 0;
  uint64_t memtable_bytes = 0;
  uint64_t pending_compaction_bytes = 0;
};

class Store {
 public:
  static StatusOr<std::unique_ptr<Store>> Open(const StoreOptions& options);
  ~Store();  // flushes memtables and closes the database

  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // Non-empty when opening had to drop records of the write-ahead log (a corrupt or torn
  // record: RocksDB's strict recovery refused it, point-in-time recovery kept what precedes
  // it): what RocksDB said. The node then holds less than it acknowledged.
  const std::string& wal_loss() const { return wal_loss_; }
  rocksdb::Env* env() const { return env_; }
  const std::string& path() const { return path_; }

  // The type recorded for key, or nullopt if no such object exists.
  StatusOr<std::optional<v1::CrdtType>> LookupType(const ObjectKey& key) const;
  // The stored state bytes of key, or nullopt.
  StatusOr<std::optional<std::string>> ReadState(v1::CrdtType type, const ObjectKey& key) const;

  // Writes, in one atomic batch: every object's state, its catalog entry when created,
  // its delta-log entry under (origin, seq), origin's highest sequence number, and the
  // per-type object counts. Nothing is visible before the batch is durable in the WAL.
  Status Commit(crdt::ReplicaId origin, uint64_t wall_time_ms,
                const std::vector<ObjectWrite>& writes);
  // Writes the states a remote delta batch produced and raises applied/<origin> to seq, in
  // one atomic batch. Remote deltas are not logged here (their origin logs them); a gateway
  // passes relay, the batch itself, to keep it in the relay log for forwarding.
  Status CommitRemote(crdt::ReplicaId origin, uint64_t seq, const std::vector<ObjectWrite>& writes,
                      const v1::DeltaBatch* relay = nullptr);

  // Writes states joined in from another replica (anti-entropy, read repair) or with
  // tombstones collected: no log entry. knowledge: raises knows/<origin> (what the states
  // here may hold of origin's writes; see Engine::Knowledge) in the same batch.
  Status CommitRepair(const std::vector<ObjectWrite>& writes,
                      const std::vector<std::pair<crdt::ReplicaId, uint64_t>>& knowledge = {});

  // Delta-log entries of origin with from <= seq <= to, in order, stopping after max_bytes.
  StatusOr<std::vector<v1::DeltaRecord>> ReadLog(crdt::ReplicaId origin, uint64_t from, uint64_t to,
                                                 size_t max_bytes) const;
  // Deletes origin's entries with seq <= upto.
  Status TruncateLog(crdt::ReplicaId origin, uint64_t upto);
  // Relay-log entries of origin with to_seq > after, in order, stopping before max_bytes
  // (at least one entry).
  StatusOr<std::vector<v1::DeltaBatch>> ReadRelay(crdt::ReplicaId origin, uint64_t after,
                                                  size_t max_bytes) const;
  // Deletes origin's relay entries with to_seq <= upto.
  Status TruncateRelay(crdt::ReplicaId origin, uint64_t upto);
  // A gateway relays origin's deltas (node and region say where it is): remembered, so that
  // the relay streams outlive their entries across restarts.
  Status SaveRelayOrigin(crdt::ReplicaId origin, const std::string& node,
                         const std::string& region);
  // Every saved relay origin, as a batch header (origin, origin_node, origin_region).
  StatusOr<std::vector<v1::DeltaBatch>> RelayOrigins() const;
  // The lowest seq of origin still in the log (0 if none).
  StatusOr<uint64_t> FirstSeq(crdt::ReplicaId origin) const;
  // Every applied/<origin> entry.
  StatusOr<std::vector<std::pair<crdt::ReplicaId, uint64_t>>> LoadApplied() const;
  // Every knows/<origin> entry (CommitRepair).
  StatusOr<std::vector<std::pair<crdt::ReplicaId, uint64_t>>> LoadKnowledge() const;
  // The conflict log: appends records, keeping only the most recent kMaxConflicts.
  static constexpr uint64_t kMaxConflicts = 1000;
  Status AppendConflicts(const std::vector<v1::ConflictRecord>& records);
  // The most recent records first, at most limit.
  StatusOr<std::vector<v1::ConflictRecord>> RecentConflicts(size_t limit) const;
  StatusOr<Cursor> LoadCursor(const std::string& peer) const;
  Status SaveCursor(const std::string& peer, const Cursor& cursor);

  // Objects in key order, optionally of one type and with a name prefix; at most limit.
  StatusOr<std::vector<std::pair<ObjectKey, v1::CrdtType>>> ListKeys(
      std::optional<v1::CrdtType> type, std::string_view prefix, size_t limit) const;

  // The state of type a type conflict displaced from key, or nullopt.
  StatusOr<std::optional<std::string>> ReadLost(v1::CrdtType type, const ObjectKey& key) const;
  // Every displaced state, in key order, at most limit.
  StatusOr<std::vector<LostState>> ListLost(size_t limit) const;

  // Highest sequence number in the delta log for origin (0 if none).
  StatusOr<uint64_t> LastSeq(crdt::ReplicaId origin) const;
  StatusOr<std::optional<std::string>> GetMeta(std::string_view key) const;
  Status PutMeta(std::string_view key, std::string_view value);
  Status DeleteMeta(std::string_view key);

  uint64_t KeyCount(v1::CrdtType type) const;
  // Calls fn with the encoded key and state bytes of every object of type (a full scan of
  // its family).
  Status ScanStates(v1::CrdtType type,
                    const std::function<void(std::string_view, std::string_view)>& fn) const;
  StoreStats Stats() const;

  // Merkle trees (storage/merkle.h). Until a rebuild started at open ends (a database
  // without trees), merkle_ready() is false and the trees are partial.
  bool merkle_ready() const;
  Status merkle_rebuild_status() const;  // an error if the rebuild failed
  // Digests of tree nodes of type at level (0: root, kLeafLevel: buckets); zero for an
  // out-of-range node.
  std::vector<Digest> TreeNodes(v1::CrdtType type, int level,
                                const std::vector<uint32_t>& indices) const;
  // The objects of type in buckets with their digests, bucket by bucket in key order.
  StatusOr<std::vector<BucketEntry>> BucketEntries(v1::CrdtType type,
                                                   const std::vector<uint32_t>& buckets) const;

  // Objects (encoded keys) whose Merkle digest is deferred (ObjectWrite::deferred): the
  // trees and key digests hold what they were before. A write of the whole state (any
  // write that is not deferred) brings the digest up to date.
  std::vector<std::string> DirtyKeys() const;
  bool IsDirty(std::string_view encoded_key) const;

  // A consistent copy of the database in dir (which must not exist), marked so that a node
  // started on it takes a new replica epoch.
  Status Checkpoint(const std::string& dir);
  Status Flush();

 private:
  Store() = default;
  rocksdb::ColumnFamilyHandle* TypeFamily(v1::CrdtType type) const;
  Status OpenMerkle();
  Status LoadDirty();
  Status RebuildMerkle(const rocksdb::Snapshot* snapshot);
  using MetaCounters = std::vector<std::pair<std::string, uint64_t>>;
  // The part of Commit, CommitRemote and CommitRepair that writes states, catalog entries,
  // counts, and (log) delta-log entries, plus meta counters, in one batch.
  Status WriteObjects(const std::vector<ObjectWrite>& writes, bool log, crdt::ReplicaId origin,
                      uint64_t wall_time_ms, const MetaCounters& meta,
                      const v1::DeltaBatch* relay = nullptr);
  StatusOr<std::vector<std::pair<crdt::ReplicaId, uint64_t>>> LoadVector(
      std::string_view prefix) const;

  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;  // owned; destroyed before db_
  rocksdb::ColumnFamilyHandle* catalog_ = nullptr;
  rocksdb::ColumnFamilyHandle* delta_log_ = nullptr;
  rocksdb::ColumnFamilyHandle* meta_ = nullptr;
  rocksdb::ColumnFamilyHandle* relay_log_ = nullptr;
  rocksdb::ColumnFamilyHandle* merkle_keys_ = nullptr;
  std::array<rocksdb::ColumnFamilyHandle*, 16> by_type_{};  // indexed by CrdtType
  bool sync_writes_ = false;
  rocksdb::Env* env_ = nullptr;  // options.env (nullptr: the default)
  std::string path_;
  std::string wal_loss_;  // why recovery dropped write-ahead-log records, if it did

  // Object counts per type; commits that create objects hold count_mu_ so that the
  // persisted counts are written in the order they were computed.
  std::mutex conflict_mu_;
  uint64_t next_conflict_ = 0;  // guarded by conflict_mu_; 0 until loaded
  std::mutex count_mu_;
  std::array<std::atomic<uint64_t>, 16> key_counts_{};

  mutable std::mutex merkle_mu_;
  std::array<MerkleTree, 16> trees_;  // guarded by merkle_mu_; indexed by CrdtType
  bool merkle_ready_ = false;         // guarded by merkle_mu_
  struct Dirty {
    v1::CrdtType type = v1::CRDT_TYPE_UNSPECIFIED;
    Digest indexed;  // what the key digest index and the tree hold for the object
  };
  std::unordered_map<std::string, Dirty> dirty_;  // encoded key -> ...; guarded by merkle_mu_
  Status rebuild_status_;                         // guarded by merkle_mu_
  std::thread rebuild_;
  std::atomic<bool> stopping_{false};
};

}  // namespace geodatastore::storage
