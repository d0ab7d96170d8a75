// Dots, version vectors and the causal context shared by every causal CRDT (OR-Set,
// MV-Register): what a replica has seen, as a compact version vector plus a dot cloud
// (Almeida, Shoker, Baquero, "Delta State Replicated Data Types", 2016).
//
// Thread safety: plain values.
// Invariant (canonical form, kept by every mutator): no cloud dot is covered by the compact
// vector, and no cloud dot is (r, compact[r] + 1) — it would have been folded in. Two
// contexts that cover the same dots are therefore structurally equal.
#pragma once

#include <compare>
#include <cstdint>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "crdt/clock.h"

namespace geodatastore::crdt {

// The counter-th event issued by a replica (counter >= 1).
struct Dot {
  ReplicaId replica = 0;
  uint64_t counter = 0;

  auto operator<=>(const Dot&) const = default;
};

// replica -> counter, kept sorted by replica; absent means 0.
class VersionVector {
 public:
  using Entry = std::pair<ReplicaId, uint64_t>;

  uint64_t Get(ReplicaId replica) const;
  // Raises the entry to at least counter.
  void Raise(ReplicaId replica, uint64_t counter);
  void Join(const VersionVector& other);
  bool Covers(const Dot& dot) const { return dot.counter <= Get(dot.replica); }
  // Every entry of this is <= the matching entry of other.
  bool LessOrEqual(const VersionVector& other) const;
  // Sum of all entries: how many dots the vector covers.
  uint64_t DotCount() const;

  const std::vector<Entry>& entries() const { return entries_; }
  bool empty() const { return entries_.empty(); }
  bool operator==(const VersionVector&) const = default;

 private:
  std::vector<Entry> entries_;  // sorted by replica, counters >= 1
};

class CausalContext {
 public:
  bool Contains(const Dot& dot) const;
  // The next dot for replica: one past every dot of replica this context has seen.
  Dot Next(ReplicaId replica) const;
  void Add(const Dot& dot);
  void Join(const CausalContext& other);

  // How many dots the context covers (compact entries summed, plus the cloud).
  uint64_t DotCount() const { return compact_.DotCount() + cloud_.size(); }
  // Calls fn(dot) for every covered dot. Cost: DotCount().
  template <typename Fn>
  void ForEachDot(Fn&& fn) const;

  const VersionVector& compact() const { return compact_; }
  const std::set<Dot>& cloud() const { return cloud_; }
  bool empty() const { return compact_.empty() && cloud_.empty(); }
  bool operator==(const CausalContext&) const = default;

  // Rebuilds a context from decoded parts; false if they are not in canonical form.
  static bool FromParts(VersionVector compact, std::set<Dot> cloud, CausalContext* out);

 private:
  // Folds cloud dots that extend the compact vector into it; drops covered ones.
  void Compact();

  VersionVector compact_;
  std::set<Dot> cloud_;
};

template <typename Fn>
void CausalContext::ForEachDot(Fn&& fn) const {
  for (const auto& [replica, counter] : compact_.entries()) {
    for (uint64_t c = 1; c <= counter; ++c) fn(Dot{replica, c});
  }
  for (const Dot& dot : cloud_) fn(dot);
}

}  // namespace geodatastore::crdt
