// Clock fencing (CockroachDB's rule, docs/durability.md): a node whose clock is more than
// 80% of the maximum offset from most of its linked peers' refuses writes that need a
// timestamp. The decision, from the offsets the replicator measured (PeerView).
//
// Thread safety: a pure function.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "replication/replicator.h"

namespace geodatastore::replication {

struct ClockCheck {
  // Whether more than half of the linked peers' offsets are known and agree: all within
  // the limit (then fence is empty) or all beyond it (then fence says why). Otherwise the
  // node keeps its current state.
  bool measured = false;
  int64_t offset_ms = 0;  // this node's clock minus the median of the known peers'
  std::string fence;
};

inline ClockCheck CheckClock(const std::vector<PeerView>& peers, uint64_t max_offset_ms) {
  std::vector<int64_t> offsets;  // the peers' clocks minus this node's
  size_t linked = 0;
  for (const PeerView& v : peers) {
    if (!v.via.empty()) continue;
    ++linked;
    if (v.clock_offset_ms) offsets.push_back(*v.clock_offset_ms);
  }
  ClockCheck out;
  if (offsets.empty()) return out;
  std::sort(offsets.begin(), offsets.end());
  out.offset_ms = -offsets[offsets.size() / 2];
  const auto limit = static_cast<int64_t>(max_offset_ms * 8 / 10);
  const auto far = static_cast<size_t>(std::count_if(
      offsets.begin(), offsets.end(), [&](int64_t o) { return o > limit || o < -limit; }));
  const size_t near = offsets.size() - far;
  out.measured = far * 2 > linked || near * 2 > linked;
  if (far * 2 > linked) {
    out.fence = "this node's clock is " + std::to_string(out.offset_ms) +
                " ms from the median of its peers', beyond 80% of clock.max_offset_ms (" +
                std::to_string(max_offset_ms) + ")";
  }
  return out;
}

// A node with peers starts fenced, until its clock was compared with theirs: a node started
// with its clock far ahead would otherwise acknowledge LWW writes its peers refuse until
// real time catches up. A node that reaches no peer for kUnverifiedClockGraceMs takes LWW
// writes on its own clock (a region cut off keeps taking writes).
inline constexpr std::string_view kUnverifiedClock =
    "its clock is not yet compared with its peers' (their progress reports)";
inline constexpr uint64_t kUnverifiedClockGraceMs = 10'000;

// The fence a node should have after check, given its current one and how long it has run.
inline std::string NextFence(const ClockCheck& check, const std::string& current,
                             uint64_t running_ms) {
  if (check.measured) return check.fence;
  if (current == kUnverifiedClock && running_ms >= kUnverifiedClockGraceMs) return "";
  return current;
}

}  // namespace geodatastore::replication
