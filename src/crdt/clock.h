// Timestamps for last-writer-wins decisions, and the hybrid logical clock that issues them.
//
// Thread safety: HybridLogicalClock is not synchronized; its owner serializes calls.
// PhysicalClock implementations must be safe to call from any thread.
#pragma once

#include <algorithm>
#include <compare>
#include <cstdint>
#include <string>

#include "common/status.h"

namespace geodatastore::crdt {

using ReplicaId = uint64_t;

// A hybrid logical clock reading (Kulkarni et al. 2014): physical milliseconds, plus a
// logical counter that orders events within one millisecond.
struct Timestamp {
  uint64_t physical = 0;
  uint32_t logical = 0;

  auto operator<=>(const Timestamp&) const = default;
  std::string ToString() const;
};

// A timestamp with the replica that wrote it: a total order, ties broken by replica id.
struct Stamp {
  Timestamp ts;
  ReplicaId replica = 0;

  auto operator<=>(const Stamp&) const = default;
};

// A replica id as 16 lowercase hex digits, the form every API shows.
std::string ReplicaIdHex(ReplicaId replica);

class PhysicalClock {
 public:
  virtual ~PhysicalClock() = default;
  virtual uint64_t NowMillis() = 0;
};

// Wall clock (std::chrono::system_clock) in milliseconds since the Unix epoch.
class SystemClock final : public PhysicalClock {
 public:
  uint64_t NowMillis() override;
};

// A clock that tests set by hand.
class ManualClock final : public PhysicalClock {
 public:
  explicit ManualClock(uint64_t now_ms = 0) : now_ms_(now_ms) {}
  uint64_t NowMillis() override { return now_ms_; }
  void Set(uint64_t now_ms) { now_ms_ = now_ms; }
  void Advance(uint64_t ms) { now_ms_ += ms; }

 private:
  uint64_t now_ms_;
};

// Issues timestamps that never go backwards, stay close to physical time, and follow
// every timestamp received from a peer (so causally later writes get later stamps).
class HybridLogicalClock {
 public:
  // REQUIRES: physical outlives this clock.
  HybridLogicalClock(PhysicalClock* physical, uint64_t max_offset_ms);

  // A timestamp for a local event, greater than every timestamp issued or received before.
  Timestamp Now();

  // Merges a timestamp received from a peer and returns the new reading. A remote
  // timestamp more than max_offset_ms ahead of local physical time is rejected with
  // kOutOfRange and leaves the clock unchanged.
  StatusOr<Timestamp> Update(Timestamp remote);

  Timestamp Current() const { return last_; }
  // After a restart: every later reading is above floor_ms (the persisted ceiling of the
  // stamps issued before), whatever the physical clock says.
  void Restore(uint64_t floor_ms) { last_ = std::max(last_, Timestamp{floor_ms, 0}); }
  uint64_t max_offset_ms() const { return max_offset_ms_; }

 private:
  PhysicalClock* const physical_;
  const uint64_t max_offset_ms_;
  Timestamp last_;
};

}  // namespace geodatastore::crdt
