// Engine: the write and read path of one node. Apply validates an op, locks the object's
// stripe, loads its state, asks the CRDT for the op's delta, joins it, and commits state,
// delta-log entry and sequence number in one atomic batch before answering.
//
// Thread safety: every method may be called from any thread. Ops on one object are
// serialized by a striped mutex; ops on different objects run in parallel and RocksDB
// group-commits their batches. Each stripe keeps the decoded state of up to
// kCachedPerStripe recently used objects (guarded by the stripe's mutex), so a hot object
// costs no RocksDB read and no decode; the cache is written only after a commit succeeds.
#pragma once

#include <absl/container/flat_hash_map.h>

#include <algorithm>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/status.h"
#include "crdt/any_crdt.h"
#include "crdt/clock.h"
#include "engine/op.h"
#include "geodatastore/v1/antientropy.pb.h"
#include "geodatastore/v1/replication.pb.h"
#include "storage/high_water.h"
#include "storage/node_identity.h"
#include "storage/store.h"

namespace geodatastore::engine {

struct Limits {
  size_t max_key_bytes = 1024;
  size_t max_element_bytes = 65536;
  // The elements (tombstones included) a client op may bring a set or graph to; 0: no cap.
  // Replicated deltas and joined states merge regardless: replicas must converge.
  size_t max_collection_elements = 1000000;
  crdt::LWWGraph::PathBudget paths;  // of one path search; front ends pass it to Paths()
};

struct EngineOptions {
  Limits limits;
  uint64_t max_clock_offset_ms = 500;
  // Ops on objects whose encoded state is larger write their delta only (a RocksDB merge
  // operand) and defer the object's Merkle digest (FlushDigests). Tests set 0: every op on
  // an existing object goes that way.
  size_t defer_digests_above_bytes = 4096;
};

// An object as a client sees it after an op or a read.
struct ObjectView {
  storage::ObjectKey key;
  v1::CrdtType type = v1::CRDT_TYPE_UNSPECIFIED;
  crdt::AnyCrdt state;
  bool created = false;         // this op created the object
  uint64_t seq = 0;             // the op's delta-log sequence number; 0 if it changed nothing
  int64_t members_changed = 0;  // kAdd, kRemove of a set: MembershipChanges before the op
  // After an op on a counter: its value (a g_counter's clamped to INT64_MAX), also when the
  // answer leaves state empty.
  std::optional<int64_t> counter_value;
};

// A conflict resolved while applying remote deltas. kinds:
//   type          the name was created with two types on two replicas that do not embed in
//                 each other; every replica keeps the lower type tag (winner) and keeps the
//                 other type's state apart, under lost/ (loser; Engine::LostStates)
//   type_embedded the same with types where one embeds in the other without loss (G-Counter
//                 in PN-Counter, G-Set in 2P-Set): the richer type (winner) holds both
//   lww_overwrite an LWW register write lost to a later one (winner and loser values)
//   mv_concurrent an MV register now holds several concurrent values (losers: all of them)
//   add_wins      a remove lost to a concurrent add of the same element (winner: element)
struct Conflict {
  storage::ObjectKey key;
  v1::CrdtType type = v1::CRDT_TYPE_UNSPECIFIED;
  std::string kind;
  std::string winner;
  std::vector<std::string> losers;
  crdt::ReplicaId origin = 0;  // the replica whose deltas met this node's state
};
using TypeConflict = Conflict;

// Called after every committed op (under no lock), e.g. for metrics.
struct OpObserver {
  virtual ~OpObserver() = default;
  virtual void OnApplied(v1::CrdtType type, const Op& op, double seconds) = 0;
  // A payload from another node was rejected (a crdt::RejectionReason, "checksum", ...).
  virtual void OnRejected(std::string_view reason) { (void)reason; }
};

class Engine {
 public:
  // REQUIRES: store and clock outlive the engine.
  Engine(storage::Store* store, storage::NodeIdentity identity, crdt::PhysicalClock* clock,
         EngineOptions options);

  // Seeds the sequence counter from the store. Call once before Apply.
  Status Start();

  // Applies op to the object `name` of op.family(). kWrongType when the object exists with
  // a type the op does not allow (409), kNotFound when it must exist and does not.
  StatusOr<ObjectView> Apply(std::string_view name, const Op& op);
  // Applies several ops in one storage batch; each gets its own answer. Ops on the same
  // object are applied in order.
  // with_state false: the answers leave ObjectView::state empty (a copy of a large set or
  // graph costs as much as the write).
  std::vector<StatusOr<ObjectView>> ApplyBatch(const std::vector<std::pair<std::string, Op>>& ops,
                                               bool with_state = true);

  // Applies a delta batch from another replica (replication/): joins every key's delta into
  // its state and records origin's applied seq, atomically. A batch this node has already
  // applied is a no-op; one that would leave a gap is kFailedPrecondition; a sender clock
  // too far ahead is kOutOfRange; an undecodable delta is kCorruption. Nothing changes on
  // error. REQUIRES: batches of one origin are applied by one thread at a time.
  // keep_for_relay: also keep the batch in the relay log, atomically with its states (a
  // gateway forwards it from there).
  Status ApplyRemote(const v1::DeltaBatch& batch, std::vector<TypeConflict>* conflicts,
                     bool keep_for_relay = false);
  // Joins full states from another replica (anti-entropy, read repair) into this node's,
  // atomically, without logging them: all or nothing, any invalid state is an error. Returns
  // how many objects changed.
  // knowledge: what the sender's states may hold (its Knowledge()); checked
  // (CheckKnowledge: a bad one refuses the whole call) and raised here first.
  StatusOr<uint64_t> JoinStates(const std::vector<v1::ObjectState>& states,
                                std::vector<TypeConflict>* conflicts = nullptr,
                                const crdt::VersionVector& knowledge = {});

  // Tombstone collection (antientropy/tombstones.h).
  // What the states here may hold: every origin's writes up to this vector. The applied
  // vector (own entry: the highest seq assigned), raised by the knowledge of every replica
  // whose states were joined in (anti-entropy, read repair), which the applied vector does
  // not cover.
  crdt::VersionVector Knowledge() const;
  // This node's progress report (replication/ gossips it): the applied vector, then the
  // clock, then the highest seq assigned, read in that order.
  v1::Progress ProgressReport();
  // The tombstones of up to limit objects of type (a scan of its column family).
  struct TombstoneSnapshot {
    storage::ObjectKey key;
    v1::CrdtType type = v1::CRDT_TYPE_UNSPECIFIED;
    crdt::Tombstones tombstones;
  };
  StatusOr<std::vector<TombstoneSnapshot>> ScanTombstones(v1::CrdtType type, size_t limit) const;
  // Drops the snapshots' tombstones that their objects still hold unchanged, without a log
  // entry (every replica collects on its own). Returns how many tombstones went.
  StatusOr<uint64_t> CollectTombstones(const std::vector<TombstoneSnapshot>& snapshots);
  // Brings the Merkle digests of large objects up to date (their ops defer them:
  // storage::ObjectWrite::deferred), each by one write of its whole state. Anti-entropy
  // calls it before it compares trees; the node, now and then. Returns how many.
  StatusOr<size_t> FlushDigests();

  // Highest seq of origin applied here (own seqs for this node's replica).
  uint64_t Applied(crdt::ReplicaId origin) const;
  // Highest own seq below which every seq is committed (safe to ship).
  uint64_t CommittedSeq() const;
  crdt::Timestamp HlcNow();
  // The stamp of replication batch headers and progress reports: HlcNow, but never more than
  // half the maximum offset ahead of physical time. After a restart the clock resumes above
  // the stamps issued before, which may be far ahead (the node ran with its clock ahead):
  // peers refuse headers that far ahead, and the node's writes of other types would wait
  // behind them. The stamps inside deltas are checked one by one, and followed, anyway.
  crdt::Timestamp ReplicationStamp();
  uint64_t WallMillis() const { return physical_->NowMillis(); }
  // Clock fencing (CockroachDB's rule): while reason is non-empty, this node's clock is too
  // far from its peers' (the node decides: Node::Housekeeping) and every write to an LWW
  // type (register, lww_set, graph), which needs a timestamp, is refused with kUnavailable
  // "<kClockFenced>: <reason>". Creates and every other type still work.
  static constexpr std::string_view kClockFenced = "clock fenced";
  void SetClockFence(std::string reason);
  std::string clock_fence() const;
  // Ok, or the kUnavailable an LWW write gets now.
  Status CheckFence() const;
  // Persists the committed seq in the high-water file if it rose (the node calls it every
  // 200 ms; storage/high_water.h): a restart whose delta log ends below it went backwards.
  Status SaveHighWater();
  // How far ahead of a stamp the persisted HLC ceiling is raised (one fsync per step): a
  // quarter of the maximum offset, so that a restart's clock, resumed at the ceiling, is
  // not so far ahead that peers refuse its stamps.
  uint64_t hlc_ceiling_step_ms() const { return std::max<uint64_t>(10, options_.max_clock_offset_ms / 4); }

  StatusOr<ObjectView> Read(v1::Family family, std::string_view name) const;
  // A family other than except in which name exists, if any (one keyspace: the Redis
  // protocol's WRONGTYPE).
  StatusOr<std::optional<v1::Family>> FamilyHolding(std::string_view name, v1::Family except) const;
  StatusOr<std::vector<std::pair<storage::ObjectKey, v1::CrdtType>>> ListKeys(
      std::optional<v1::CrdtType> type, std::string_view prefix, size_t limit) const;

  // Checks a name against the limits; used by every front end before Apply.
  Status ValidateName(std::string_view name) const;

  // Validation of what other nodes send (engine/validation.cc). Every remote delta and
  // state is checked against these limits before it is joined (ApplyRemote, JoinStates,
  // DecodeRemote): stamps no later than local physical time plus the maximum clock offset,
  // elements and names within the size limits, sane replica ids, dots and counters.
  crdt::StateLimits RemoteLimits() const;
  // A state another replica sent (a read's FetchState answer), decoded and validated; a
  // rejection is counted.
  StatusOr<crdt::AnyCrdt> DecodeRemote(v1::CrdtType type, std::string_view bytes) const;
  // A knowledge vector from another replica (JoinStates, a read's FetchState answers),
  // checked before it raises anything: crdt::CheckKnowledge, and no seq of this node's
  // replica beyond what it issued. A rejection is counted. Entries of other replicas are
  // bounded later, by the tombstone collector (engine/tombstones.h).
  Status CheckKnowledge(const crdt::VersionVector& knowledge) const;
  // Counts a rejected payload with the observer: reason, or status's rejection reason (a
  // status that is not a rejection, as "corrupt").
  void NoteRejected(std::string_view reason) const;
  void NoteRejected(const Status& status) const;

  const storage::NodeIdentity& identity() const { return identity_; }
  uint64_t max_clock_offset_ms() const { return options_.max_clock_offset_ms; }
  const Limits& limits() const { return options_.limits; }
  storage::Store* store() const { return store_; }
  // Highest sequence number this node has assigned.
  uint64_t last_seq() const { return next_seq_.load() - 1; }
  // What this node has applied: {origin replica -> highest seq}. Until replication exists
  // that is its own writes.
  crdt::VersionVector AppliedVector() const;
  // Whether the node has applied everything in `wanted` (a session token's vector).
  bool HasApplied(const crdt::VersionVector& wanted) const {
    return wanted.LessOrEqual(AppliedVector());
  }
  // The node's applied vector as a session token, its own entry raised to wrote (a seq this
  // node issued to the caller's write): a write finishing while a lower-numbered concurrent
  // one is still uncommitted gets a token that covers it (applying it anywhere, this node
  // included, waits for the lower one too, since replication applies in seq order).
  std::string SessionTokenFor(uint64_t wrote) const;
  std::string SessionToken() const { return SessionTokenFor(0); }
  void set_observer(OpObserver* observer) { observer_ = observer; }

 private:
  static constexpr size_t kStripes = 1024;
  static constexpr size_t kCachedPerStripe = 256;
  // Encoded bytes of all cached states together, and of one (a larger one is not cached).
  static constexpr size_t kCacheBudgetBytes = size_t{256} << 20;
  static constexpr size_t kMaxCachedObjectBytes = size_t{32} << 20;

  struct Cached {
    v1::CrdtType type;
    crdt::AnyCrdt state;
    // Of the state (storage/merkle.h); none after a deferred write (FlushDigests).
    std::optional<storage::Digest> digest;
    size_t bytes = 0;  // of the encoded state
  };
  struct Stripe {
    mutable std::mutex mu;
    absl::flat_hash_map<std::string, Cached> cache;  // encoded object key -> state; guarded by mu
  };

  struct Staged;     // one object's state as the ops of a batch see it
  struct Incoming {  // a decoded remote delta or state
    storage::ObjectKey key;
    std::string encoded;
    v1::CrdtType type;
    crdt::AnyCrdt delta;
    std::string bytes;  // deltas only: as received
  };
  StatusOr<Incoming> DecodeIncoming(storage::ObjectKey key, v1::CrdtType type,
                                    const std::string& bytes) const;
  // Every delta of a replicated batch, decoded and validated (a counter delta of the batch's
  // origin may raise that origin's count only); a rejection is counted.
  StatusOr<std::vector<Incoming>> DecodeBatch(const v1::DeltaBatch& batch) const;
  // Joins every incoming delta or state into its object (a type conflict: the lower tag
  // wins) under the stripes' locks and writes the results through commit. deltas: they are
  // replicated deltas (with bytes): unchanged objects are written too, and a large object
  // takes its deltas as merge operands, its digest deferred (as ApplyBatch does); otherwise
  // full states, and only changed objects are written. Returns how many objects changed.
  // A remote delta or state of another type than the object here (JoinIncoming): in is
  // embedded in the object's type, or the object's state in in's, or the loser's state kept
  // under lost/; *incoming_lost when in is kept there rather than joined.
  Status ResolveTypeConflict(Incoming& in, Staged& obj, storage::ObjectWrite& w,
                             crdt::ReplicaId origin, std::vector<Conflict>* conflicts,
                             bool* incoming_lost);
  // Joins state into what w (or else the store) keeps under lost/ for key and its type.
  Status KeepLost(const storage::ObjectKey& key, const crdt::AnyCrdt& state,
                  storage::ObjectWrite& w);
  StatusOr<uint64_t> JoinIncoming(
      std::vector<Incoming>& incoming, crdt::ReplicaId origin, std::vector<TypeConflict>* conflicts,
      bool deltas, const std::function<Status(const std::vector<storage::ObjectWrite>&)>& commit);
  // Appends the conflicts that joining delta into before (giving after) resolved.
  void DetectConflicts(const storage::ObjectKey& key, crdt::ReplicaId origin,
                       const crdt::AnyCrdt& before, const crdt::AnyCrdt& delta,
                       const crdt::AnyCrdt& after, std::vector<Conflict>* conflicts) const;
  // Loads key's type and state into obj, from the stripe's cache (moved out: CacheStaged puts
  // it back after the commit) or the store.
  // REQUIRES: the stripe of encoded is locked.
  Status LoadStaged(const std::string& encoded, const storage::ObjectKey& key, Staged* obj);
  // After a commit: caches every staged object's state, or forgets them all if it failed.
  // REQUIRES: their stripes are locked.
  void CacheStaged(std::map<std::string, Staged>& staged, bool committed);
  // A write of obj's whole state, not logged (a repair); obj's digest and size follow it.
  // REQUIRES: obj exists (type set).
  static storage::ObjectWrite WholeStateWrite(const std::string& encoded, Staged& obj);
  Status Validate(std::string_view name, const Op& op) const;
  // kInvalidArgument (a clock_offset rejection) for a client timestamp later than local
  // physical time plus the maximum clock offset: it would win every later write.
  Status ValidateTimestamp(const Op& op) const;
  // Decodes and validates a remote delta or state (DecodeRemote without the count).
  StatusOr<crdt::AnyCrdt> DecodeValid(v1::CrdtType type, std::string_view bytes) const;
  // A family other than except in which name exists (in the store or staged), if any.
  StatusOr<std::optional<v1::Family>> FamilyHolding(
      std::string_view name, v1::Family except, const std::map<std::string, Staged>& staged) const;
  StatusOr<ObjectView> Stage(std::string_view name, const Op& op,
                             std::vector<storage::ObjectWrite>* writes,
                             std::vector<ObjectView>* pending);
  size_t StripeOf(const std::string& encoded_key) const;
  crdt::Stamp StampFor(const Op& op);
  bool DigestsDeferrable();

  storage::Store* const store_;
  const storage::NodeIdentity identity_;
  const EngineOptions options_;
  std::atomic<uint64_t> next_seq_{1};
  mutable std::mutex seq_mu_;
  std::set<uint64_t> in_flight_;                 // assigned, not yet committed; guarded by seq_mu_
  std::map<crdt::ReplicaId, uint64_t> applied_;  // remote origins; guarded by seq_mu_
  crdt::VersionVector knows_;                    // joined-in knowledge; guarded by seq_mu_
  std::array<Stripe, kStripes> stripes_;
  std::atomic<size_t> cached_bytes_{0};  // encoded bytes of every cached state
  std::atomic<bool> digests_deferrable_{false};

  // Issues a stamp (HlcNow, StampFor): raises the persisted HLC ceiling first when the
  // stamp would pass it. REQUIRES: clock_mu_ held.
  crdt::Timestamp IssueLocked();
  // The clock follows a stamp received from elsewhere (validated: at most the maximum
  // offset ahead), so that a later local write is stamped after what this node has seen.
  void FollowStamp(uint64_t physical_ms) const;

  mutable std::mutex fence_mu_;
  std::string fence_;  // guarded by fence_mu_; empty: not fenced
  std::atomic<bool> fenced_{false};

  mutable std::mutex clock_mu_;
  mutable crdt::HybridLogicalClock hlc_;  // guarded by clock_mu_
  crdt::PhysicalClock* const physical_;
  // High-water marks (storage/high_water.h): the committed seq, raised by SaveHighWater, and
  // the HLC ceiling, raised before a stamp passes it. Lock order: clock_mu_, then marks_mu_.
  std::mutex marks_mu_;
  storage::HighWaterFile marks_file_;
  storage::HighWater marks_;  // guarded by marks_mu_
  uint64_t hlc_ceiling_ms_ = 0;  // guarded by clock_mu_; a copy of marks_.hlc_ceiling_ms
  OpObserver* observer_ = nullptr;
};

}  // namespace geodatastore::engine
