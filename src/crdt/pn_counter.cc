#include "crdt/pn_counter.h"

#include <limits>

namespace geodatastore::crdt {

namespace {
constexpr __int128 kMin = std::numeric_limits<int64_t>::min();
constexpr __int128 kMax = std::numeric_limits<int64_t>::max();
}  // namespace

StatusOr<PNCounter> PNCounter::Increment(ReplicaId replica, uint64_t amount) const {
  if (static_cast<__int128>(Value()) + amount > kMax) {
    return OutOfRange("increment by " + std::to_string(amount) + " would overflow the value " +
                      std::to_string(Value()));
  }
  PNCounter delta;
  GDS_ASSIGN_OR_RETURN(delta.increments_, increments_.Increment(replica, amount));
  return delta;
}

StatusOr<PNCounter> PNCounter::Decrement(ReplicaId replica, uint64_t amount) const {
  if (static_cast<__int128>(Value()) - amount < kMin) {
    return OutOfRange("decrement by " + std::to_string(amount) + " would underflow the value " +
                      std::to_string(Value()));
  }
  PNCounter delta;
  GDS_ASSIGN_OR_RETURN(delta.decrements_, decrements_.Increment(replica, amount));
  return delta;
}

int64_t PNCounter::Value() const {
  const __int128 v = static_cast<__int128>(increments_.Value()) - decrements_.Value();
  return static_cast<int64_t>(v < kMin ? kMin : (v > kMax ? kMax : v));
}

Status PNCounter::Validate(const StateLimits& limits) const {
  GDS_RETURN_IF_ERROR(increments_.Validate(limits));
  return decrements_.Validate(limits);
}

Status PNCounter::ValidateJoined() const {
  GDS_RETURN_IF_ERROR(Validate({}));
  const __int128 v = static_cast<__int128>(increments_.Value()) - decrements_.Value();
  if (v < kMin || v > kMax) return Rejected(kCounterOverflow, "value outside the int64 range");
  return Status::Ok();
}

void PNCounter::Join(const PNCounter& other) {
  increments_.Join(other.increments_);
  decrements_.Join(other.decrements_);
}

void PNCounter::EncodeState(v1::CrdtValue* out) const {
  v1::PNCounterState* s = out->mutable_pn_counter();
  increments_.EncodeTo(s->mutable_increments());
  decrements_.EncodeTo(s->mutable_decrements());
}

StatusOr<PNCounter> PNCounter::DecodeState(const v1::CrdtValue& in) {
  PNCounter out;
  GDS_ASSIGN_OR_RETURN(out.increments_, GCounter::DecodeFrom(in.pn_counter().increments()));
  GDS_ASSIGN_OR_RETURN(out.decrements_, GCounter::DecodeFrom(in.pn_counter().decrements()));
  return out;
}

}  // namespace geodatastore::crdt
