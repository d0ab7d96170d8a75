// Engine: local ops (op -> delta -> one storage batch), reads, and the staged-object cache.
#include "engine/engine.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <thread>

#include "engine/session.h"
#include "engine/staged.h"

namespace geodatastore::engine {

using internal::Describe;

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
  }
  GDS_ASSIGN_OR_RETURN(auto applied, store_->LoadApplied());
  {
    std::lock_guard<std::mutex> lock(marks_mu_);
    marks_ = {identity_.epoch, last, identity_.hlc_floor_ms, storage::SumOfApplied(applied)};
  }
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
