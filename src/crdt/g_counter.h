// Grow-only counter: one monotonically growing count per replica; the value is their sum.
//
// Thread safety: plain value.
#pragma once

#include <cstdint>

#include "crdt/causal_context.h"
#include "crdt/crdt.h"

namespace geodatastore::crdt {

class GCounter {
 public:
  static constexpr v1::CrdtType kType = v1::G_COUNTER;
  static constexpr v1::CrdtValue::StateCase kStateCase = v1::CrdtValue::kGCounter;

  // Delta: replica's count raised by amount. kOutOfRange if the total would pass 2^64 - 1
  // or replica's count kMaxCount (crdt/validate.h: a larger count is refused as forged).
  StatusOr<GCounter> Increment(ReplicaId replica, uint64_t amount) const;

  // The sum of all counts; saturates at 2^64 - 1, which only concurrent increments that
  // each passed the check above can reach.
  uint64_t Value() const;
  void Join(const GCounter& other) { counts_.Join(other.counts_); }
  bool operator==(const GCounter&) const = default;
  const VersionVector& counts() const { return counts_; }
  // Replica ids nonzero, counts within kMaxCount; the total cannot overflow.
  Status Validate(const StateLimits&) const { return CheckCounts(counts_); }

  void EncodeState(v1::CrdtValue* out) const { EncodeTo(out->mutable_g_counter()); }
  static StatusOr<GCounter> DecodeState(const v1::CrdtValue& in) {
    return DecodeFrom(in.g_counter());
  }
  void EncodeTo(v1::GCounterState* out) const;
  static StatusOr<GCounter> DecodeFrom(const v1::GCounterState& in);

 private:
  VersionVector counts_;  // replica -> count; joins by entry-wise max
};

static_assert(Crdt<GCounter>);

}  // namespace geodatastore::crdt
