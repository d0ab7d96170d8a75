// A dot kernel: keys (set elements, register values) each tagged with the dots of the
// writes that put them there, plus the causal context of everything seen. It is the
// shared core of the add-wins OR-Set (no per-element tombstones: a removed key leaves only
// its dots in the context) and of the MV-Register.
//
// Thread safety: plain value; a const kernel may be read from many threads only when no
// thread calls Join or the delta mutators, which build a private dot index lazily.
//
// Invariants: every dot in entries() is covered by context(); no dot tags two keys; every
// key has at least one dot; dot lists are sorted.
//
// Cost: delta mutators are O(log n). Join(delta) with a context much smaller than this
// kernel is O(|delta| log n) through a dot -> key index built on first use; a join with a
// large state is one O(n + m) merge.
#pragma once

#include <absl/container/flat_hash_map.h>

#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "crdt/causal_context.h"
#include "crdt/containers.h"
#include "crdt/dot_list.h"
#include "crdt/validate.h"

namespace geodatastore::crdt {

class DotKernel {
 public:
  using Entries = SortedMap<std::string, DotList>;

  DotKernel() = default;
  DotKernel(const DotKernel& other);
  DotKernel& operator=(const DotKernel& other);
  DotKernel(DotKernel&&) noexcept = default;
  DotKernel& operator=(DotKernel&&) noexcept = default;

  bool Contains(std::string_view key) const { return entries_.find(key) != entries_.end(); }
  const Entries& entries() const { return entries_; }
  const CausalContext& context() const { return context_; }

  // Delta: key tagged with a fresh dot of replica; the dots key had are superseded.
  DotKernel AddDelta(ReplicaId replica, std::string_view key) const;
  // Delta: AddDelta of every key, as if applied one after the other (a key named twice gets
  // one dot). O(k log n) for k keys: one delta, no copy of this kernel.
  DotKernel AddAllDelta(ReplicaId replica, std::span<const std::string> keys) const;
  // Delta: like AddDelta, but every other key is superseded too (an MV-Register write).
  DotKernel ReplaceAllDelta(ReplicaId replica, std::string_view key) const;
  // Delta: key's dots superseded, nothing added. Empty if key is absent.
  DotKernel RemoveDelta(std::string_view key) const;

  // How Join finds the dots of this kernel that other has removed. Both give the same
  // result; kAuto picks the cheaper. Tests force each to check them against each other.
  enum class JoinStrategy { kAuto, kScan, kIndex };
  void Join(const DotKernel& other, JoinStrategy strategy = JoinStrategy::kAuto);

  bool operator==(const DotKernel& other) const {
    return entries_ == other.entries_ && context_ == other.context_;
  }

  // Builds a kernel from decoded parts; false if they break an invariant above.
  static bool FromParts(CausalContext context, Entries entries, DotKernel* out);

 private:
  struct DotHash {
    size_t operator()(const Dot& d) const {
      return std::hash<uint64_t>()(d.replica * 0x9E3779B97F4A7C15ull ^ d.counter);
    }
  };
  // Dot -> the key it tags.
  using Index = absl::flat_hash_map<Dot, std::string, DotHash>;

  void JoinByScan(const DotKernel& other);
  void JoinByIndex(const DotKernel& other);
  void BuildIndex();
  void Reindex(const std::string& key, const DotList& before, const DotList& after);

  CausalContext context_;
  Entries entries_;
  Index index_;
  bool index_valid_ = false;
};

// Validation (crdt/validate.h): the context's dots, and every key's size (what names the
// keys: "element", "value"). Entry dots need no check: the context covers them.
Status ValidateKernel(const DotKernel& kernel, std::string_view what, const StateLimits& limits);

}  // namespace geodatastore::crdt
