// Two-phase set: a grow-only set of additions and one of removals (tombstones). An element
// is present when added and not removed; removal is permanent.
//
// Thread safety: plain value.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "crdt/crdt.h"
#include "crdt/g_set.h"

namespace geodatastore::crdt {

class TwoPSet {
 public:
  static constexpr v1::CrdtType kType = v1::TWO_P_SET;
  static constexpr v1::CrdtValue::StateCase kStateCase = v1::CrdtValue::kTwoPSet;

  // Delta adding element; kFailedPrecondition if this replica has seen it removed.
  StatusOr<TwoPSet> Add(std::string_view element) const;
  // Delta removing element for good; empty when element is not present here.
  TwoPSet Remove(std::string_view element) const;

  bool Contains(std::string_view element) const {
    return added_.count(element) > 0 && removed_.count(element) == 0;
  }
  std::vector<std::string> Value() const;
  // Elements held: every element added, removed ones included until collected. O(1).
  size_t held_elements() const { return added_.size(); }
  // Removed elements held as tombstones.
  size_t tombstones() const { return removed_.size(); }
  // Tombstone collection (antientropy/tombstones.h): the removed elements, as a state that
  // Collect takes back out once every replica has seen their removal. A collected element
  // is forgotten: adding it again afterwards is a new element.
  TwoPSet Tombstones() const;
  // Drops the elements of tombstones (a Tombstones() of this object) from added and removed;
  // true if anything changed.
  bool Collect(const TwoPSet& tombstones);
  void Join(const TwoPSet& other);
  // A G-Set as the 2P-Set that added its elements and removed none (keeps joins).
  static TwoPSet FromGSet(const GSet& added);
  bool operator==(const TwoPSet&) const = default;
  Status Validate(const StateLimits& limits) const;

  void EncodeState(v1::CrdtValue* out) const;
  static StatusOr<TwoPSet> DecodeState(const v1::CrdtValue& in);

 private:
  StringSet added_;
  StringSet removed_;
};

static_assert(Crdt<TwoPSet>);

}  // namespace geodatastore::crdt
