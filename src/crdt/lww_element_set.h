// Last-writer-wins element set: each element keeps its latest add and latest remove stamp;
// it is present when the add is later. On equal timestamps the set's bias decides
// (remove wins unless the set was created add-wins).
//
// Thread safety: plain value.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "crdt/crdt.h"
#include "crdt/lww_element.h"

namespace geodatastore::crdt {

class LWWElementSet {
 public:
  static constexpr v1::CrdtType kType = v1::LWW_SET;
  static constexpr v1::CrdtValue::StateCase kStateCase = v1::CrdtValue::kLwwSet;

  LWWElementSet() = default;
  // An empty set with the given bias. The bias of a join is the greater of the two
  // (add-wins is sticky), so every replica agrees on it.
  explicit LWWElementSet(LwwBias bias) : bias_(bias) {}

  // Deltas: element added / removed at stamp.
  LWWElementSet Add(Stamp stamp, std::string_view element) const;
  LWWElementSet Remove(Stamp stamp, std::string_view element) const;

  bool Contains(std::string_view element) const;
  std::vector<std::string> Value() const;
  LwwBias bias() const { return bias_; }
  // Elements held: members and tombstones. O(1).
  size_t held_elements() const { return elements_.size(); }
  // Tombstones: elements whose remove currently wins, and remove stamps older than the
  // element's add (crdt/lww_element.h, TombstonePart).
  size_t tombstones() const;
  // Tombstone collection: the tombstones, as a state; Collect drops those that are still as
  // they were (a later add or remove keeps a removed element). True if anything changed.
  LWWElementSet Tombstones() const;
  bool Collect(const LWWElementSet& tombstones);
  // The latest stamp in the state (none: nullopt).
  std::optional<Stamp> LatestStamp() const;
  void Join(const LWWElementSet& other);
  bool operator==(const LWWElementSet&) const = default;
  Status Validate(const StateLimits& limits) const;

  void EncodeState(v1::CrdtValue* out) const;
  static StatusOr<LWWElementSet> DecodeState(const v1::CrdtValue& in);

 private:
  LwwBias bias_ = LwwBias::kRemoveWins;
  SortedMap<std::string, LwwEntry> elements_;
};

static_assert(Crdt<LWWElementSet>);

}  // namespace geodatastore::crdt
