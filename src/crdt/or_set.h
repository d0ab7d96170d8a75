// Add-wins observed-remove set without tombstones (Bieniusa et al. 2012; riak_dt's
// ORSWOT): each element carries the dots of the adds that put it there; a remove drops
// them, leaving nothing of the element but those dots in the causal context. An add
// concurrent with a remove carries a dot the remove never saw, so the element stays.
//
// Thread safety: as DotKernel.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "crdt/crdt.h"
#include "crdt/dot_kernel.h"

namespace geodatastore::crdt {

class ORSet {
 public:
  static constexpr v1::CrdtType kType = v1::OR_SET;
  static constexpr v1::CrdtValue::StateCase kStateCase = v1::CrdtValue::kOrSet;

  ORSet() = default;

  // Delta adding element with a fresh dot of replica. O(log n).
  ORSet Add(ReplicaId replica, std::string_view element) const;
  // Delta adding every element, as Add one after the other would. O(k log n) for k elements.
  ORSet AddAll(ReplicaId replica, std::span<const std::string> elements) const {
    return ORSet(kernel_.AddAllDelta(replica, elements));
  }
  // Delta removing the adds of element this replica has seen; empty if absent. O(log n).
  ORSet Remove(std::string_view element) const;

  bool Contains(std::string_view element) const { return kernel_.Contains(element); }
  size_t size() const { return kernel_.entries().size(); }
  // Elements held: the members (no tombstones). O(1).
  size_t held_elements() const { return size(); }
  std::vector<std::string> Value() const;
  const DotKernel& kernel() const { return kernel_; }
  void Join(const ORSet& other) { kernel_.Join(other.kernel_); }
  bool operator==(const ORSet&) const = default;
  Status Validate(const StateLimits& limits) const {
    return ValidateKernel(kernel_, "element", limits);
  }

  void EncodeState(v1::CrdtValue* out) const {
    EncodeKernel(kernel_, out->mutable_or_set()->mutable_kernel());
  }
  static StatusOr<ORSet> DecodeState(const v1::CrdtValue& in);

 private:
  explicit ORSet(DotKernel kernel) : kernel_(std::move(kernel)) {}

  DotKernel kernel_;
};

static_assert(Crdt<ORSet>);

}  // namespace geodatastore::crdt
