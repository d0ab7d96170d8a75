// Positive-negative counter: two grow-only counters, increments and decrements; the value
// is their difference, a signed 64-bit integer.
//
// Thread safety: plain value.
#pragma once

#include <cstdint>

#include "crdt/crdt.h"
#include "crdt/g_counter.h"

namespace geodatastore::crdt {

class PNCounter {
 public:
  static constexpr v1::CrdtType kType = v1::PN_COUNTER;
  static constexpr v1::CrdtValue::StateCase kStateCase = v1::CrdtValue::kPnCounter;

  // Deltas; kOutOfRange if the value would leave the int64 range or a total pass 2^64 - 1.
  StatusOr<PNCounter> Increment(ReplicaId replica, uint64_t amount) const;
  StatusOr<PNCounter> Decrement(ReplicaId replica, uint64_t amount) const;

  // increments - decrements, clamped to the int64 range (only concurrent updates that each
  // passed the checks above can leave it).
  int64_t Value() const;
  void Join(const PNCounter& other);
  bool operator==(const PNCounter&) const = default;
  Status Validate(const StateLimits& limits) const;
  // Validate, and the value within the int64 range (not clamped): for a joined state.
  Status ValidateJoined() const;
  const GCounter& increments() const { return increments_; }
  // A G-Counter as the PN-Counter with its counts as increments and no decrements: the
  // embedding keeps joins (Join(FromGCounter(a), FromGCounter(b)) = FromGCounter(a ⊔ b)).
  static PNCounter FromGCounter(GCounter increments) {
    PNCounter c;
    c.increments_ = std::move(increments);
    return c;
  }
  const GCounter& decrements() const { return decrements_; }

  void EncodeState(v1::CrdtValue* out) const;
  static StatusOr<PNCounter> DecodeState(const v1::CrdtValue& in);

 private:
  GCounter increments_;
  GCounter decrements_;
};

static_assert(Crdt<PNCounter>);

}  // namespace geodatastore::crdt
