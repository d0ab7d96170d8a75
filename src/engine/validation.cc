// Engine: validation of what comes from outside the process (DESIGN.md, principles 5 and
// 6). Remote deltas go through DecodeBatch, remote states through DecodeIncoming or
// DecodeRemote, before they are joined; client ops through ValidateTimestamp.
#include "engine/engine.h"

namespace geodatastore::engine {

crdt::StateLimits Engine::RemoteLimits() const {
  return {physical_->NowMillis() + options_.max_clock_offset_ms, options_.limits.max_element_bytes};
}

StatusOr<crdt::AnyCrdt> Engine::DecodeValid(v1::CrdtType type, std::string_view bytes) const {
  GDS_ASSIGN_OR_RETURN(crdt::AnyCrdt state, crdt::DecodeAnyAs(type, bytes));
  const crdt::StateLimits limits = RemoteLimits();
  GDS_RETURN_IF_ERROR(crdt::ValidateAny(state, limits));
  FollowStamp(limits.latest_stamp_ms);
  return state;
}

StatusOr<crdt::AnyCrdt> Engine::DecodeRemote(v1::CrdtType type, std::string_view bytes) const {
  StatusOr<crdt::AnyCrdt> state = DecodeValid(type, bytes);
  if (!state.ok()) NoteRejected(state.status());
  return state;
}

StatusOr<std::vector<Engine::Incoming>> Engine::DecodeBatch(const v1::DeltaBatch& batch) const {
  std::vector<Incoming> incoming;
  for (const v1::KeyDelta& kd : batch.deltas()) {
    StatusOr<Incoming> in = DecodeIncoming({kd.family(), kd.name()}, kd.type(), kd.delta());
    const Status s = in.ok() ? crdt::ValidateDeltaOf(in->delta, batch.origin()) : in.status();
    if (!s.ok()) {
      // Undecodable batches the replicator counts (corrupt_batch); invalid ones, here.
      if (!crdt::RejectionReason(s).empty()) NoteRejected(s);
      return s;
    }
    in->bytes = kd.delta();  // a large object takes it as a merge operand
    incoming.push_back(std::move(in).value());
  }
  return incoming;
}

Status Engine::CheckKnowledge(const crdt::VersionVector& knowledge) const {
  Status s = crdt::CheckKnowledge(knowledge);
  // Of this node's own writes the sender can know at most what this node issued.
  const uint64_t own = knowledge.Get(identity_.replica);
  if (s.ok() && own > last_seq()) {
    s = crdt::Rejected(crdt::kKnowledge, "seq " + std::to_string(own) + " of this node, which " +
                                             "issued " + std::to_string(last_seq()));
  }
  if (!s.ok()) NoteRejected(s);
  return s;
}

Status Engine::ValidateTimestamp(const Op& op) const {
  if (!op.timestamp) return Status::Ok();
  const uint64_t latest = physical_->NowMillis() + options_.max_clock_offset_ms;
  if (*op.timestamp > latest) {
    return crdt::Rejected(crdt::kClockOffset, "timestamp " + std::to_string(*op.timestamp) +
                                                  " is later than now plus the maximum clock "
                                                  "offset (" +
                                                  std::to_string(latest) + ")");
  }
  return Status::Ok();
}

void Engine::NoteRejected(std::string_view reason) const {
  if (observer_ != nullptr) observer_->OnRejected(reason);
}

void Engine::NoteRejected(const Status& status) const {
  const std::string_view reason = crdt::RejectionReason(status);
  NoteRejected(reason.empty() ? std::string_view("corrupt") : reason);
}

}  // namespace geodatastore::engine
