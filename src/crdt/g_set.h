// Grow-only set of byte strings: elements are added, never removed.
//
// Thread safety: plain value.
#pragma once

#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "crdt/containers.h"
#include "crdt/crdt.h"

namespace geodatastore::crdt {

class GSet {
 public:
  static constexpr v1::CrdtType kType = v1::G_SET;
  static constexpr v1::CrdtValue::StateCase kStateCase = v1::CrdtValue::kGSet;

  // Delta: {element}.
  GSet Add(std::string_view element) const;

  bool Contains(std::string_view element) const { return elements_.count(element) > 0; }
  size_t size() const { return elements_.size(); }
  // Elements held (the cap of a collection counts these). O(1).
  size_t held_elements() const { return elements_.size(); }
  std::vector<std::string> Value() const { return {elements_.begin(), elements_.end()}; }
  const StringSet& elements() const { return elements_; }
  void Join(const GSet& other) { UnionInto(elements_, other.elements_); }
  bool operator==(const GSet&) const = default;
  Status Validate(const StateLimits& limits) const;

  void EncodeState(v1::CrdtValue* out) const;
  static StatusOr<GSet> DecodeState(const v1::CrdtValue& in);

 private:
  StringSet elements_;
};

static_assert(Crdt<GSet>);

}  // namespace geodatastore::crdt
