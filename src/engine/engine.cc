#include "engine/engine.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <thread>

#include "engine/session.h"

namespace geodatastore::engine {

namespace {

std::string Describe(const storage::ObjectKey& key) {
  std::string family(storage::FamilyName(key.family));
  family.pop_back();  // "counters" -> "counter"
  return family + " '" + key.name + "'";
}

}  // namespace

// An object's state as the ops of one batch see it.
struct Engine::Staged {
  size_t bytes = 0;  // of the encoded state, as last loaded or written
  storage::ObjectKey key;
  std::optional<v1::CrdtType> type;  // nullopt: does not exist (yet)
  crdt::AnyCrdt state;
  bool in_store = false;  // exists in the store (the catalog entry is written)
  // The Merkle digest of the state as the writes staged so far leave it in the store; none
  // if not stored yet, or after a deferred write (the store keeps the object dirty).
  std::optional<storage::Digest> digest;
};

Status Engine::LoadStaged(const std::string& encoded, const storage::ObjectKey& key, Staged* obj) {
  obj->key = key;
  auto& cache = stripes_[StripeOf(encoded)].cache;
  if (auto hit = cache.find(encoded); hit != cache.end()) {
    obj->type = hit->second.type;
    obj->state = std::move(hit->second.state);  // no copy: a large set keeps its dot index
    obj->digest = hit->second.digest;
    obj->bytes = hit->second.bytes;
    cached_bytes_ -= hit->second.bytes;
    cache.erase(hit);
    obj->in_store = true;
    return Status::Ok();
  }
  GDS_ASSIGN_OR_RETURN(auto type, store_->LookupType(key));
  if (!type) return Status::Ok();
  GDS_ASSIGN_OR_RETURN(auto bytes, store_->ReadState(*type, key));
  if (!bytes) return Corruption("state of " + Describe(key) + " is missing");
  GDS_ASSIGN_OR_RETURN(obj->state, crdt::DecodeAnyAs(*type, *bytes));
  obj->digest = storage::ObjectDigest(encoded, *bytes);
  obj->bytes = bytes->size();
  obj->type = *type;
  obj->in_store = true;
  return Status::Ok();
}

storage::ObjectWrite Engine::WholeStateWrite(const std::string& encoded, Staged& obj) {
  storage::ObjectWrite w;
  w.type = *obj.type;
  w.key = obj.key;
  w.state = crdt::EncodeAny(obj.state);
  w.old_digest = obj.digest;
  w.digest = storage::ObjectDigest(encoded, w.state);
  obj.digest = w.digest;
  obj.bytes = w.state.size();
  return w;
}

void Engine::CacheStaged(std::map<std::string, Staged>& staged, bool committed) {
  for (auto& [encoded, obj] : staged) {
    auto& cache = stripes_[StripeOf(encoded)].cache;
    if (auto it = cache.find(encoded); it != cache.end()) {
      cached_bytes_ -= it->second.bytes;
      cache.erase(it);
    }
    if (!committed || !obj.type || obj.bytes > kMaxCachedObjectBytes) continue;
    while (!cache.empty() &&
           (cache.size() >= kCachedPerStripe || cached_bytes_ + obj.bytes > kCacheBudgetBytes)) {
      cached_bytes_ -= cache.begin()->second.bytes;
      cache.erase(cache.begin());
    }
    if (cached_bytes_ + obj.bytes > kCacheBudgetBytes) continue;  // other stripes hold it all
    cached_bytes_ += obj.bytes;
    cache.emplace(encoded, Cached{*obj.type, std::move(obj.state), obj.digest, obj.bytes});
  }
}

Engine::Engine(storage::Store* store, storage::NodeIdentity identity, crdt::PhysicalClock* clock,
               EngineOptions options)
    : store_(store),
      identity_(std::move(identity)),
      options_(options),
      hlc_(clock, options.max_clock_offset_ms),
      physical_(clock),
      marks_file_(store->env(), store->path()) {}

Status Engine::Start() {
  GDS_ASSIGN_OR_RETURN(uint64_t last, store_->LastSeq(identity_.replica));
  next_seq_.store(last + 1);
  {
    std::lock_guard<std::mutex> clock_lock(clock_mu_);
    hlc_.Restore(identity_.hlc_floor_ms);
    hlc_ceiling_ms_ = identity_.hlc_floor_ms;
    std::lock_guard<std::mutex> lock(marks_mu_);
    marks_ = {identity_.epoch, last, identity_.hlc_floor_ms};
  }
  GDS_ASSIGN_OR_RETURN(auto applied, store_->LoadApplied());
  GDS_ASSIGN_OR_RETURN(auto knows, store_->LoadKnowledge());
  {
    std::lock_guard<std::mutex> lock(seq_mu_);
    for (const auto& [origin, seq] : applied) applied_[origin] = seq;
    for (const auto& [origin, seq] : knows) knows_.Raise(origin, seq);
  }
  // Digests a stop left deferred.
  return FlushDigests().status();
}

bool Engine::DigestsDeferrable() {
  if (digests_deferrable_.load(std::memory_order_relaxed)) return true;
  if (!store_->merkle_ready()) return false;  // a rebuild sums digests as it goes
  digests_deferrable_ = true;                 // ready stays ready
  return true;
}

StatusOr<size_t> Engine::FlushDigests() {
  size_t flushed = 0;
  for (const std::string& encoded : store_->DirtyKeys()) {
    storage::ObjectKey key;
    if (!storage::ObjectKey::Decode(encoded, &key)) return Corruption("a deferred digest's key");
    std::lock_guard<std::mutex> lock(stripes_[StripeOf(encoded)].mu);
    if (!store_->IsDirty(encoded)) continue;  // an op wrote it whole meanwhile
    std::map<std::string, Staged> staged;
    Staged& obj = staged[encoded];
    Status s = LoadStaged(encoded, key, &obj);
    if (s.ok() && !obj.type) s = Corruption(Describe(key) + " has a deferred digest but no state");
    if (s.ok()) {
      std::vector<storage::ObjectWrite> writes;
      writes.push_back(WholeStateWrite(encoded, obj));
      s = store_->CommitRepair(writes);
    }
    CacheStaged(staged, s.ok());
    GDS_RETURN_IF_ERROR(s);
    ++flushed;
  }
  return flushed;
}

uint64_t Engine::CommittedSeq() const {
  std::lock_guard<std::mutex> lock(seq_mu_);
  return in_flight_.empty() ? next_seq_.load() - 1 : *in_flight_.begin() - 1;
}

uint64_t Engine::Applied(crdt::ReplicaId origin) const {
  if (origin == identity_.replica) return CommittedSeq();
  std::lock_guard<std::mutex> lock(seq_mu_);
  auto it = applied_.find(origin);
  return it == applied_.end() ? 0 : it->second;
}

crdt::Timestamp Engine::HlcNow() {
  std::lock_guard<std::mutex> lock(clock_mu_);
  return IssueLocked();
}

crdt::Timestamp Engine::ReplicationStamp() {
  const crdt::Timestamp now = HlcNow();
  const uint64_t cap = physical_->NowMillis() + options_.max_clock_offset_ms / 2;
  return now.physical > cap ? crdt::Timestamp{cap, 0} : now;
}

crdt::Timestamp Engine::IssueLocked() {
  const crdt::Timestamp ts = hlc_.Now();
  if (ts.physical >= hlc_ceiling_ms_) {
    std::lock_guard<std::mutex> lock(marks_mu_);
    storage::HighWater raised = marks_;
    raised.hlc_ceiling_ms = ts.physical + hlc_ceiling_step_ms();
    // A failed write leaves the old ceiling: the next stamp tries again (and a restart
    // after this one may issue stamps below this one — the disk is failing anyway).
    if (Status s = marks_file_.Save(raised); s.ok()) {
      marks_ = raised;
      hlc_ceiling_ms_ = raised.hlc_ceiling_ms;
    }
  }
  return ts;
}

void Engine::FollowStamp(uint64_t physical_ms) const {
  if (physical_ms == 0) return;
  std::lock_guard<std::mutex> lock(clock_mu_);
  (void)hlc_.Update({physical_ms, 0});  // beyond the maximum offset: refused, clock unchanged
}

void Engine::SetClockFence(std::string reason) {
  std::lock_guard<std::mutex> lock(fence_mu_);
  fenced_.store(!reason.empty());
  fence_ = std::move(reason);
}

std::string Engine::clock_fence() const {
  std::lock_guard<std::mutex> lock(fence_mu_);
  return fence_;
}

Status Engine::CheckFence() const {
  // After a restart the clock resumes above the stamps issued before (HighWater): while that
  // is ahead of physical time by most of the maximum offset, peers would refuse the stamps.
  const uint64_t now = physical_->NowMillis();
  const uint64_t floor = identity_.hlc_floor_ms - std::min(identity_.hlc_floor_ms, hlc_ceiling_step_ms());
  if (floor > now + options_.max_clock_offset_ms * 8 / 10) {
    return Status(StatusCode::kUnavailable,
                  std::string(kClockFenced) + ": stamps issued before the restart reach " +
                      std::to_string(floor - now) + " ms beyond this node's clock");
  }
  if (fenced_.load(std::memory_order_relaxed)) {
    return Status(StatusCode::kUnavailable, std::string(kClockFenced) + ": " + clock_fence());
  }
  return Status::Ok();
}

Status Engine::SaveHighWater() {
  const uint64_t committed = CommittedSeq();
  std::lock_guard<std::mutex> lock(marks_mu_);
  if (committed <= marks_.committed_seq) return Status::Ok();
  storage::HighWater raised = marks_;
  raised.committed_seq = committed;
  GDS_RETURN_IF_ERROR(marks_file_.Save(raised));
  marks_ = raised;
  return Status::Ok();
}

Status Engine::ValidateName(std::string_view name) const {
  if (name.empty()) return InvalidArgument("name must not be empty");
  if (name.size() > options_.limits.max_key_bytes) {
    return InvalidArgument("name is " + std::to_string(name.size()) + " bytes, over the limit of " +
                           std::to_string(options_.limits.max_key_bytes));
  }
  return Status::Ok();
}

Status Engine::Validate(std::string_view name, const Op& op) const {
  GDS_RETURN_IF_ERROR(ValidateName(name));
  if (op.family() == v1::FAMILY_UNSPECIFIED) return InvalidArgument("op has no type");
  auto check = [&](std::string_view what, const std::string& s) -> Status {
    if (s.size() > options_.limits.max_element_bytes) {
      return InvalidArgument(std::string(what) + " is " + std::to_string(s.size()) +
                             " bytes, over the limit of " +
                             std::to_string(options_.limits.max_element_bytes));
    }
    return Status::Ok();
  };
  for (const std::string& e : op.elements) GDS_RETURN_IF_ERROR(check("element", e));
  GDS_RETURN_IF_ERROR(check("value", op.value));
  GDS_RETURN_IF_ERROR(check("vertex", op.vertex));
  GDS_RETURN_IF_ERROR(check("vertex", op.from));
  GDS_RETURN_IF_ERROR(check("vertex", op.to));
  if ((op.kind == Op::Kind::kAdd || op.kind == Op::Kind::kRemove) && op.elements.empty()) {
    return InvalidArgument("no element given");
  }
  if (op.kind == Op::Kind::kCreate && op.type && storage::FamilyOf(*op.type) != op.family()) {
    return InvalidArgument("type does not belong to this family");
  }
  return ValidateTimestamp(op);
}

size_t Engine::StripeOf(const std::string& encoded_key) const {
  return std::hash<std::string>()(encoded_key) % kStripes;
}

crdt::Stamp Engine::StampFor(const Op& op) {
  if (op.timestamp) {
    FollowStamp(*op.timestamp);
    return {{*op.timestamp, 0}, identity_.replica};
  }
  std::lock_guard<std::mutex> lock(clock_mu_);
  return {IssueLocked(), identity_.replica};
}

StatusOr<std::optional<v1::Family>> Engine::FamilyHolding(
    std::string_view name, v1::Family except, const std::map<std::string, Staged>& staged) const {
  for (v1::Family f : {v1::COUNTERS, v1::REGISTERS, v1::SETS, v1::GRAPHS}) {
    if (f == except) continue;
    const storage::ObjectKey key{f, std::string(name)};
    if (auto it = staged.find(key.Encode()); it != staged.end() && it->second.type)
      return std::optional<v1::Family>(f);
    GDS_ASSIGN_OR_RETURN(auto type, store_->LookupType(key));
    if (type) return std::optional<v1::Family>(f);
  }
  return std::optional<v1::Family>();
}

StatusOr<std::optional<v1::Family>> Engine::FamilyHolding(std::string_view name,
                                                          v1::Family except) const {
  return FamilyHolding(name, except, {});
}

StatusOr<ObjectView> Engine::Apply(std::string_view name, const Op& op) {
  std::vector<std::pair<std::string, Op>> ops;
  ops.emplace_back(std::string(name), op);
  return std::move(ApplyBatch(ops).front());
}

std::vector<StatusOr<ObjectView>> Engine::ApplyBatch(
    const std::vector<std::pair<std::string, Op>>& ops, bool with_state) {
  const auto start = std::chrono::steady_clock::now();
  std::vector<StatusOr<ObjectView>> results;
  results.reserve(ops.size());

  // Lock every stripe the batch touches, in index order so that batches cannot deadlock.
  std::vector<size_t> locks;
  for (const auto& [name, op] : ops)
    locks.push_back(StripeOf(storage::ObjectKey{op.family(), name}.Encode()));
  std::sort(locks.begin(), locks.end());
  locks.erase(std::unique(locks.begin(), locks.end()), locks.end());
  for (size_t i : locks) stripes_[i].mu.lock();

  std::map<std::string, Staged> staged;
  std::vector<storage::ObjectWrite> writes;
  std::vector<size_t> writer_of;  // index in results of the op behind each write
  for (const auto& [name, op] : ops) {
    Status valid = Validate(name, op);
    if (!valid.ok()) {
      results.push_back(valid);
      continue;
    }
    const storage::ObjectKey key{op.family(), name};
    const std::string encoded = key.Encode();
    auto [it, fresh] = staged.try_emplace(encoded);
    Staged& obj = it->second;
    if (fresh) {
      if (Status loaded = LoadStaged(encoded, key, &obj); !loaded.ok()) {
        staged.erase(it);
        results.push_back(loaded);
        continue;
      }
    }

    v1::CrdtType type;
    bool created = false;
    if (!obj.type) {
      if (op.one_keyspace) {
        auto elsewhere = FamilyHolding(name, op.family(), staged);
        if (!elsewhere.ok() || *elsewhere) {
          results.push_back(
              !elsewhere.ok() ? elsewhere.status()
                              : WrongType(Describe({**elsewhere, std::string(name)}) + " exists"));
          continue;
        }
      }
      const std::optional<v1::CrdtType> implicit = op.ImplicitType();
      if (!implicit) {
        results.push_back(NotFound(Describe(key) + " not found"));
        continue;
      }
      type = *implicit;
      created = true;
    } else {
      type = *obj.type;
      if (op.type && *op.type != type) {
        results.push_back(WrongType(Describe(key) + " is a " + std::string(crdt::TypeName(type)) +
                                    ", not a " + std::string(crdt::TypeName(*op.type))));
        continue;
      }
      if (op.kind == Op::Kind::kCreate) {  // exists with that type: nothing to do
        results.push_back(ObjectView{key, type, with_state ? obj.state : crdt::AnyCrdt(), false});
        continue;
      }
    }
    if (op.kind != Op::Kind::kCreate &&
        (type == v1::LWW_REGISTER || type == v1::LWW_SET || type == v1::LWW_GRAPH)) {
      if (Status fenced = CheckFence(); !fenced.ok()) {
        results.push_back(fenced);
        continue;
      }
    }
    // The op works on the staged state in place (a copy of a large set would cost more than
    // the op): its delta is computed first, and joined only if valid.
    crdt::AnyCrdt fresh_state;
    const crdt::AnyCrdt& state = created ? (fresh_state = crdt::NewCrdt(type)) : obj.state;
    const int64_t members_changed = MembershipChanges(state, op);
    if (Status capped = CheckCollectionCap(Describe(key), state, op, members_changed,
                                           options_.limits.max_collection_elements);
        !capped.ok()) {
      results.push_back(capped);
      continue;
    }
    StatusOr<crdt::AnyCrdt> delta = DeltaFor(state, op, {identity_.replica, StampFor(op)});
    if (!delta.ok()) {
      results.push_back(delta.status());
      continue;
    }
    if (created) obj.state = std::move(fresh_state);
    if (Status joined = crdt::JoinAny(obj.state, *delta); !joined.ok()) {
      results.push_back(Internal(joined.message()));
      continue;
    }
    // A large object's op writes its delta only, and its digest waits (ObjectWrite::deferred):
    // encoding, hashing and writing the whole state would cost as much as the object.
    const bool defer =
        !created && obj.bytes > options_.defer_digests_above_bytes && DigestsDeferrable();
    storage::ObjectWrite w;
    bool changed;
    if (defer) {
      w.delta = crdt::EncodeAny(*delta);
      changed = w.delta != crdt::EncodeAny(crdt::NewCrdt(type));  // an empty delta does nothing
      w.deferred = true;
      w.operands.push_back(w.delta);
    } else {
      w.state = crdt::EncodeAny(obj.state);
      w.digest = storage::ObjectDigest(encoded, w.state);
      // Unchanged iff the digest of the canonical state is (128-bit XXH3).
      changed = created || !obj.digest || *obj.digest != *w.digest;
    }
    if (changed) {
      w.type = type;
      w.key = key;
      w.created = !obj.in_store && !obj.type;
      w.old_digest = obj.digest;
      obj.digest = w.digest;  // none when deferred: the store keeps the object dirty
      obj.bytes = defer ? obj.bytes + w.delta.size() : w.state.size();
      // Every change is logged, a create of an empty object too: its delta (the empty
      // state) creates the object with its type on every replica, and the session token of
      // the create covers it.
      if (!defer) w.delta = crdt::EncodeAny(*delta);
      {
        std::lock_guard<std::mutex> seq_lock(seq_mu_);
        w.seq = next_seq_.fetch_add(1);
        in_flight_.insert(w.seq);
      }
      writes.push_back(std::move(w));
      writer_of.push_back(results.size());
    }
    obj.type = type;
    results.push_back(ObjectView{key, type, with_state ? obj.state : crdt::AnyCrdt(), created,
                                 writes.empty() || !changed ? 0 : writes.back().seq,
                                 members_changed, crdt::CounterValue(obj.state)});
  }

  Status committed = Status::Ok();
  if (!writes.empty()) {
    committed = store_->Commit(identity_.replica, physical_->NowMillis(), writes);
    if (!committed.ok()) {
      for (size_t i : writer_of) results[i] = committed;
    }
    // A failed write leaves its seqs as a gap replication never ships past: the node needs
    // attention (the log is on a broken disk) and anti-entropy repairs peers.
    std::lock_guard<std::mutex> seq_lock(seq_mu_);
    for (const storage::ObjectWrite& w : writes) {
      if (w.seq != 0 && committed.ok()) in_flight_.erase(w.seq);
    }
  }
  CacheStaged(staged, committed.ok());
  for (size_t i : locks) stripes_[i].mu.unlock();

  if (observer_ != nullptr) {
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    for (size_t i = 0; i < ops.size(); ++i) {
      if (results[i].ok()) observer_->OnApplied(results[i]->type, ops[i].second, seconds);
    }
  }
  return results;
}

crdt::VersionVector Engine::AppliedVector() const {
  crdt::VersionVector applied;
  applied.Raise(identity_.replica, CommittedSeq());
  std::lock_guard<std::mutex> lock(seq_mu_);
  for (const auto& [origin, seq] : applied_) applied.Raise(origin, seq);
  return applied;
}

std::string Engine::SessionTokenFor(uint64_t wrote) const {
  crdt::VersionVector applied = AppliedVector();
  applied.Raise(identity_.replica, wrote);
  return FormatSessionToken(applied);
}

StatusOr<ObjectView> Engine::Read(v1::Family family, std::string_view name) const {
  GDS_RETURN_IF_ERROR(ValidateName(name));
  const storage::ObjectKey key{family, std::string(name)};
  {
    const std::string encoded = key.Encode();
    const Stripe& stripe = stripes_[StripeOf(encoded)];
    std::lock_guard<std::mutex> lock(stripe.mu);
    if (auto hit = stripe.cache.find(encoded); hit != stripe.cache.end())
      return ObjectView{key, hit->second.type, hit->second.state, false};
  }
  GDS_ASSIGN_OR_RETURN(auto type, store_->LookupType(key));
  if (!type) return NotFound(Describe(key) + " not found");
  GDS_ASSIGN_OR_RETURN(auto bytes, store_->ReadState(*type, key));
  if (!bytes) return Corruption("state of " + Describe(key) + " is missing");
  GDS_ASSIGN_OR_RETURN(crdt::AnyCrdt state, crdt::DecodeAnyAs(*type, *bytes));
  return ObjectView{key, *type, std::move(state), false};
}

StatusOr<std::vector<std::pair<storage::ObjectKey, v1::CrdtType>>> Engine::ListKeys(
    std::optional<v1::CrdtType> type, std::string_view prefix, size_t limit) const {
  return store_->ListKeys(type, prefix, limit);
}

}  // namespace geodatastore::engine

namespace geodatastore::engine {

namespace {

// Large sets are not scanned for lost removes: the cost would grow with the set.
constexpr size_t kMaxScannedForConflicts = 10000;
// Nor is any object whose encoded state is larger: the state before the join is a copy.
constexpr size_t kMaxBytesCheckedForConflicts = size_t{1} << 20;

}  // namespace

void Engine::DetectConflicts(const storage::ObjectKey& key, crdt::ReplicaId origin,
                             const crdt::AnyCrdt& before, const crdt::AnyCrdt& delta,
                             const crdt::AnyCrdt& after, std::vector<Conflict>* conflicts) const {
  const v1::CrdtType type = crdt::TypeOf(after);
  if (const auto* lww = std::get_if<crdt::LWWRegister>(&before)) {
    const auto& incoming = std::get<crdt::LWWRegister>(delta);
    const auto& result = std::get<crdt::LWWRegister>(after);
    if (lww->stamp() && incoming.stamp() && lww->Value() != incoming.Value()) {
      const bool local_won = result.Value() == lww->Value();
      conflicts->push_back({key,
                            type,
                            "lww_overwrite",
                            result.Value().front(),
                            {local_won ? incoming.Value().front() : lww->Value().front()},
                            origin});
    }
  } else if (const auto* mv = std::get_if<crdt::MVRegister>(&after)) {
    const auto values = mv->Value();
    if (values.size() > 1 && values != std::get<crdt::MVRegister>(before).Value()) {
      conflicts->push_back({key, type, "mv_concurrent", "", values, origin});
    }
  } else if (const auto* set = std::get_if<crdt::ORSet>(&after)) {
    const auto& incoming = std::get<crdt::ORSet>(delta).kernel();
    const auto& old = std::get<crdt::ORSet>(before).kernel();
    if (incoming.context().empty() || old.entries().size() > kMaxScannedForConflicts ||
        incoming.context().DotCount() > kMaxScannedForConflicts) {
      return;
    }
    // A remove from elsewhere that saw some of an element's adds, while the element survives
    // here through adds it had not seen: that remove lost to a concurrent add.
    for (const auto& [element, dots] : old.entries()) {
      if (incoming.Contains(element) || !set->Contains(element)) continue;
      bool seen_some = false;
      for (const crdt::Dot& d : dots) seen_some = seen_some || incoming.context().Contains(d);
      if (seen_some) conflicts->push_back({key, type, "add_wins", element, {"remove"}, origin});
    }
    // An add from elsewhere of an element removed here, made by a replica that still held a
    // dot this node had removed: the remove here lost to that concurrent add.
    std::set<crdt::Dot> live;
    for (const auto& [element, dots] : old.entries()) live.insert(dots.begin(), dots.end());
    bool removed_here_seen_there = false;
    incoming.context().ForEachDot([&](const crdt::Dot& d) {
      removed_here_seen_there =
          removed_here_seen_there || (old.context().Contains(d) && !live.count(d));
    });
    if (!removed_here_seen_there) return;
    for (const auto& [element, dots] : incoming.entries()) {
      if (!old.Contains(element) && set->Contains(element)) {
        conflicts->push_back({key, type, "add_wins", element, {"remove"}, origin});
      }
    }
  }
}

Status Engine::ApplyRemote(const v1::DeltaBatch& batch, std::vector<TypeConflict>* conflicts,
                           bool keep_for_relay) {
  const crdt::ReplicaId origin = batch.origin();
  if (origin == identity_.replica) return InvalidArgument("a batch of this node's own deltas");
  if (Status s = crdt::CheckReplica(origin); !s.ok()) {
    NoteRejected(s);
    return s;
  }
  if (batch.from_seq() == 0 || batch.to_seq() < batch.from_seq())
    return Corruption("batch with a bad seq range");
  const uint64_t held = Applied(origin);
  // Anti-entropy may have covered what the sender no longer holds (covered_seq).
  const uint64_t applied = std::max(held, batch.covered_seq());
  if (batch.to_seq() <= applied && batch.covered_seq() <= held) return Status::Ok();  // a duplicate
  if (batch.from_seq() > applied + 1) {
    return FailedPrecondition("batch starts at " + std::to_string(batch.from_seq()) +
                              ", applied up to " + std::to_string(applied));
  }
  // Deltas this node applied before are never joined again: a tombstone collected since
  // would come back. A batch that overlaps them is refused (the sender resends from the
  // acknowledgement); one that lies within what anti-entropy covered only raises applied.
  const bool only_covered = batch.to_seq() <= applied;
  if (!only_covered && batch.from_seq() <= held) {
    return FailedPrecondition("batch starts at " + std::to_string(batch.from_seq()) +
                              ", already applied up to " + std::to_string(held));
  }
  {
    std::lock_guard<std::mutex> lock(clock_mu_);
    auto updated = hlc_.Update({batch.hlc_physical(), batch.hlc_logical()});
    if (!updated.ok()) return updated.status();
  }

  // Decode everything before touching any state.
  std::vector<Incoming> incoming;
  if (!only_covered) {
    GDS_ASSIGN_OR_RETURN(incoming, DecodeBatch(batch));
  }
  auto joined = JoinIncoming(incoming, origin, conflicts, /*deltas=*/true,
                             [&](const std::vector<storage::ObjectWrite>& list) {
                               return store_->CommitRemote(
                                   origin, std::max(applied, batch.to_seq()), list,
                                   keep_for_relay && !only_covered ? &batch : nullptr);
                             });
  if (!joined.ok()) {
    if (!crdt::RejectionReason(joined.status()).empty()) NoteRejected(joined.status());
    return joined.status();
  }
  std::lock_guard<std::mutex> lock(seq_mu_);
  applied_[origin] = std::max({applied_[origin], applied, batch.to_seq()});
  return Status::Ok();
}

StatusOr<uint64_t> Engine::JoinStates(const std::vector<v1::ObjectState>& states,
                                      std::vector<TypeConflict>* conflicts,
                                      const crdt::VersionVector& knowledge) {
  GDS_RETURN_IF_ERROR(CheckKnowledge(knowledge));
  std::vector<Incoming> incoming;
  for (const v1::ObjectState& st : states) {
    storage::ObjectKey key;
    StatusOr<Incoming> in = storage::ObjectKey::Decode(st.key(), &key)
                                ? DecodeIncoming(std::move(key), st.type(), st.state())
                                : StatusOr<Incoming>(Corruption("a bad object key"));
    if (!in.ok()) {
      NoteRejected(in.status());
      return in.status();
    }
    incoming.push_back(std::move(in).value());
  }
  // Raised before the states are visible: a tombstone snapshot taken after them reads a
  // knowledge that covers them (too high a knowledge only delays collection).
  std::vector<std::pair<crdt::ReplicaId, uint64_t>> raised;
  {
    std::lock_guard<std::mutex> lock(seq_mu_);
    for (const auto& [origin, seq] : knowledge.entries()) {
      if (origin == identity_.replica || seq <= knows_.Get(origin)) continue;
      knows_.Raise(origin, seq);
      raised.emplace_back(origin, seq);
    }
  }
  auto joined = JoinIncoming(incoming, 0, conflicts, /*deltas=*/false,
                             [&](const std::vector<storage::ObjectWrite>& list) {
                               return store_->CommitRepair(list, raised);
                             });
  if (!joined.ok() && !crdt::RejectionReason(joined.status()).empty())
    NoteRejected(joined.status());
  return joined;
}

v1::Progress Engine::ProgressReport() {
  v1::Progress out;
  out.set_replica(identity_.replica);
  crdt::EncodeVersionVector(AppliedVector(), out.mutable_applied());
  const crdt::Timestamp now = ReplicationStamp();
  out.set_hlc_physical(now.physical);
  out.set_hlc_logical(now.logical);
  out.set_assigned_seq(last_seq());
  out.set_wall_ms(physical_->NowMillis());
  return out;
}

crdt::VersionVector Engine::Knowledge() const {
  crdt::VersionVector out;
  out.Raise(identity_.replica, last_seq());
  std::lock_guard<std::mutex> lock(seq_mu_);
  out.Join(knows_);
  for (const auto& [origin, seq] : applied_) out.Raise(origin, seq);
  return out;
}

StatusOr<std::vector<Engine::TombstoneSnapshot>> Engine::ScanTombstones(v1::CrdtType type,
                                                                        size_t limit) const {
  std::vector<TombstoneSnapshot> out;
  Status status = Status::Ok();
  GDS_RETURN_IF_ERROR(store_->ScanStates(type, [&](std::string_view key, std::string_view bytes) {
    if (out.size() >= limit || !status.ok()) return;
    auto state = crdt::DecodeAnyAs(type, bytes);
    if (!state.ok()) {
      status = state.status();
      return;
    }
    std::optional<crdt::Tombstones> t = crdt::TombstonesOf(*state);
    if (!t) return;
    TombstoneSnapshot& snap = out.emplace_back();
    if (!storage::ObjectKey::Decode(key, &snap.key)) status = Corruption("a bad object key");
    snap.type = type;
    snap.tombstones = std::move(*t);
  }));
  GDS_RETURN_IF_ERROR(status);
  return out;
}

StatusOr<uint64_t> Engine::CollectTombstones(const std::vector<TombstoneSnapshot>& snapshots) {
  std::vector<std::string> encoded;
  std::vector<size_t> locks;
  for (const TombstoneSnapshot& snap : snapshots) {
    encoded.push_back(snap.key.Encode());
    locks.push_back(StripeOf(encoded.back()));
  }
  std::sort(locks.begin(), locks.end());
  locks.erase(std::unique(locks.begin(), locks.end()), locks.end());
  for (size_t i : locks) stripes_[i].mu.lock();

  std::map<std::string, Staged> staged;
  std::vector<storage::ObjectWrite> writes;
  uint64_t collected = 0;
  Status status = Status::Ok();
  for (size_t i = 0; i < snapshots.size() && status.ok(); ++i) {
    auto [it, fresh] = staged.try_emplace(encoded[i]);
    Staged& obj = it->second;
    if (!fresh) continue;  // one snapshot per object
    status = LoadStaged(encoded[i], snapshots[i].key, &obj);
    if (!status.ok() || obj.type != snapshots[i].type) continue;
    const size_t before = crdt::TombstonesOf(obj.state).value_or(crdt::Tombstones()).count;
    auto changed = crdt::CollectAny(obj.state, snapshots[i].tombstones.state);
    if (!changed.ok()) {
      status = changed.status();
      break;
    }
    if (!*changed) continue;
    collected += before - crdt::TombstonesOf(obj.state).value_or(crdt::Tombstones()).count;
    writes.push_back(WholeStateWrite(encoded[i], obj));
  }
  if (status.ok()) status = store_->CommitRepair(writes);
  CacheStaged(staged, status.ok());
  for (size_t i : locks) stripes_[i].mu.unlock();
  if (!status.ok()) return status;
  return collected;
}

StatusOr<Engine::Incoming> Engine::DecodeIncoming(storage::ObjectKey key, v1::CrdtType type,
                                                  const std::string& bytes) const {
  if (storage::FamilyOf(type) != key.family || key.family == v1::FAMILY_UNSPECIFIED) {
    return Corruption("state of '" + key.name + "' has a type outside its family");
  }
  if (key.name.empty() || key.name.size() > options_.limits.max_key_bytes) {
    return crdt::Rejected(crdt::kKeySize,
                          "a name of " + std::to_string(key.name.size()) + " bytes");
  }
  GDS_ASSIGN_OR_RETURN(crdt::AnyCrdt state, DecodeValid(type, bytes));
  std::string encoded = key.Encode();
  return Incoming{std::move(key), std::move(encoded), type, std::move(state)};
}

Status Engine::ResolveTypeConflict(Incoming& in, Staged& obj, storage::ObjectWrite& w,
                                   crdt::ReplicaId origin, std::vector<Conflict>* conflicts,
                                   bool* incoming_lost) {
  // The same name created as two types before the replicas met. Every replica picks the same
  // winner whatever the arrival order: the richer type where one embeds in the other without
  // loss (both sides' writes survive), else the lower type tag, and the loser's state is
  // kept under lost/ (retrievable through /admin/lost) rather than dropped.
  const std::optional<v1::CrdtType> richer = crdt::EmbeddingType(*obj.type, in.type);
  const v1::CrdtType winner = richer ? *richer : std::min(*obj.type, in.type);
  const v1::CrdtType loser = winner == *obj.type ? in.type : *obj.type;
  if (conflicts) {
    conflicts->push_back({in.key,
                          winner,
                          richer ? "type_embedded" : "type",
                          std::string(crdt::TypeName(winner)),
                          {std::string(crdt::TypeName(loser))},
                          origin});
  }
  if (winner == *obj.type) {
    if (!richer) {
      *incoming_lost = true;
      w.type = *obj.type;  // the object is written (with its lost/ entry) even if unchanged
      return KeepLost(in.key, in.delta, w);
    }
    GDS_ASSIGN_OR_RETURN(in.delta, crdt::Embed(in.delta, winner));
    in.type = winner;
    in.bytes = crdt::EncodeAny(in.delta);  // a merge operand must be of the stored type
    return Status::Ok();
  }
  if (!w.type_changed) {
    w.type_changed = obj.in_store;
    w.old_type = *obj.type;
    w.created = !obj.in_store;
  }
  w.operands.clear();  // of the displaced type: the whole state is written
  if (richer) {
    GDS_ASSIGN_OR_RETURN(obj.state, crdt::Embed(obj.state, winner));
  } else {
    GDS_RETURN_IF_ERROR(KeepLost(in.key, obj.state, w));
    obj.state = crdt::NewCrdt(winner);
  }
  obj.type = winner;
  return Status::Ok();
}

Status Engine::KeepLost(const storage::ObjectKey& key, const crdt::AnyCrdt& state,
                        storage::ObjectWrite& w) {
  const v1::CrdtType type = crdt::TypeOf(state);
  auto kept = std::find_if(w.lost.begin(), w.lost.end(),
                           [&](const auto& entry) { return entry.first == type; });
  crdt::AnyCrdt joined = state;
  std::optional<std::string> before;
  if (kept != w.lost.end()) {
    before = kept->second;
  } else {
    GDS_ASSIGN_OR_RETURN(before, store_->ReadLost(type, key));
  }
  if (before) {
    GDS_ASSIGN_OR_RETURN(crdt::AnyCrdt earlier, crdt::DecodeAnyAs(type, *before));
    GDS_RETURN_IF_ERROR(crdt::JoinAny(joined, earlier));
  }
  std::string bytes = crdt::EncodeAny(joined);
  if (kept != w.lost.end()) {
    kept->second = std::move(bytes);
  } else {
    w.lost.emplace_back(type, std::move(bytes));
  }
  return Status::Ok();
}

StatusOr<uint64_t> Engine::JoinIncoming(
    std::vector<Incoming>& incoming, crdt::ReplicaId origin, std::vector<TypeConflict>* conflicts,
    bool deltas, const std::function<Status(const std::vector<storage::ObjectWrite>&)>& commit) {
  std::vector<size_t> locks;
  for (const Incoming& in : incoming) locks.push_back(StripeOf(in.encoded));
  std::sort(locks.begin(), locks.end());
  locks.erase(std::unique(locks.begin(), locks.end()), locks.end());
  for (size_t i : locks) stripes_[i].mu.lock();

  std::map<std::string, Staged> staged;
  std::map<std::string, storage::ObjectWrite> writes;
  Status status = Status::Ok();
  for (Incoming& in : incoming) {
    auto [it, fresh] = staged.try_emplace(in.encoded);
    Staged& obj = it->second;
    if (fresh) {
      status = LoadStaged(in.encoded, in.key, &obj);
      if (!status.ok()) break;
    }
    auto [w_it, first] = writes.try_emplace(in.encoded);
    storage::ObjectWrite& w = w_it->second;
    if (first) w.old_digest = obj.digest;  // what the store holds (of obj's stored type)
    w.key = in.key;
    if (!obj.type) {
      obj.type = in.type;
      obj.state = crdt::NewCrdt(in.type);
      w.created = !obj.in_store;
    } else if (*obj.type != in.type) {
      bool incoming_lost = false;
      status = ResolveTypeConflict(in, obj, w, origin, conflicts, &incoming_lost);
      if (!status.ok()) break;
      if (incoming_lost) continue;
    }
    // Large objects are not checked for conflicts: the copy would cost as much as the object.
    const bool detect = conflicts != nullptr && obj.bytes <= kMaxBytesCheckedForConflicts;
    const crdt::AnyCrdt before = detect ? obj.state : crdt::AnyCrdt();
    if (Status joined = crdt::JoinAny(obj.state, in.delta); !joined.ok()) {
      status = Internal(joined.message());
      break;
    }
    // Valid parts can still add up to an overflowing counter: the whole batch is refused.
    if (status = crdt::ValidateJoined(obj.state); !status.ok()) break;
    if (detect) DetectConflicts(in.key, origin, before, in.delta, obj.state, conflicts);
    w.type = *obj.type;
    if (deltas) w.operands.push_back(std::move(in.bytes));
  }

  uint64_t changed = 0;
  if (status.ok()) {
    std::vector<storage::ObjectWrite> list;
    for (auto& [encoded, w] : writes) {
      if (w.type == v1::CRDT_TYPE_UNSPECIFIED) continue;  // every delta for it lost a type conflict
      Staged& obj = staged[encoded];
      if (deltas && !w.created && !w.type_changed && w.lost.empty() && !w.operands.empty() &&
          obj.bytes > options_.defer_digests_above_bytes && DigestsDeferrable()) {
        // As a local op on a large object (ApplyBatch): its deltas merged in, digest deferred.
        w.deferred = true;
        for (const std::string& operand : w.operands) obj.bytes += operand.size();
        obj.digest.reset();
        ++changed;
        list.push_back(std::move(w));
        continue;
      }
      w.operands.clear();
      w.state = crdt::EncodeAny(obj.state);
      if (!w.type_changed && w.created) w.old_digest.reset();
      const storage::Digest digest = storage::ObjectDigest(encoded, w.state);
      const bool same = !w.created && !w.type_changed && w.old_digest && *w.old_digest == digest;
      obj.digest = w.digest = digest;
      obj.bytes = w.state.size();
      if (!same) ++changed;
      if (same && !deltas && w.lost.empty()) continue;
      list.push_back(std::move(w));
    }
    status = commit(list);
  }
  CacheStaged(staged, status.ok());
  for (size_t i : locks) stripes_[i].mu.unlock();
  if (!status.ok()) return status;
  return changed;
}

}  // namespace geodatastore::engine
