#include "crdt/clock.h"

#include <algorithm>
#include <chrono>
#include <cstdio>

namespace geodatastore::crdt {

std::string Timestamp::ToString() const {
  return std::to_string(physical) + "." + std::to_string(logical);
}

std::string ReplicaIdHex(ReplicaId replica) {
  char hex[17];
  snprintf(hex, sizeof(hex), "%016llx", static_cast<unsigned long long>(replica));
  return hex;
}

uint64_t SystemClock::NowMillis() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

HybridLogicalClock::HybridLogicalClock(PhysicalClock* physical, uint64_t max_offset_ms)
    : physical_(physical), max_offset_ms_(max_offset_ms) {}

Timestamp HybridLogicalClock::Now() {
  const uint64_t pt = physical_->NowMillis();
  if (pt > last_.physical) {
    last_ = {pt, 0};
  } else {
    ++last_.logical;
  }
  return last_;
}

StatusOr<Timestamp> HybridLogicalClock::Update(Timestamp remote) {
  const uint64_t pt = physical_->NowMillis();
  if (remote.physical > pt && remote.physical - pt > max_offset_ms_) {
    return OutOfRange("remote timestamp " + remote.ToString() + " is " +
                      std::to_string(remote.physical - pt) +
                      " ms ahead of local time, more than the maximum offset of " +
                      std::to_string(max_offset_ms_) + " ms");
  }
  const uint64_t new_physical = std::max({pt, last_.physical, remote.physical});
  uint32_t logical = 0;
  if (new_physical == last_.physical && new_physical == remote.physical) {
    logical = std::max(last_.logical, remote.logical) + 1;
  } else if (new_physical == last_.physical) {
    logical = last_.logical + 1;
  } else if (new_physical == remote.physical) {
    logical = remote.logical + 1;
  }
  last_ = {new_physical, logical};
  return last_;
}

}  // namespace geodatastore::crdt
