// Engine: what comes from other replicas — replicated delta batches, anti-entropy and read
// repair states — decoded, joined (type conflicts resolved), and committed; conflicts
// detected on the way.
#include <algorithm>
#include <map>

#include "engine/engine.h"
#include "engine/staged.h"

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
