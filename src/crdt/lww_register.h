// Last-writer-wins register: the value with the greatest (stamp, value) wins, whatever the
// order in which writes arrive. Stamps come from a hybrid logical clock (or the caller);
// equal timestamps are decided by replica id, and equal stamps by the value bytes, so
// every replica picks the same winner.
//
// Thread safety: plain value.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "crdt/clock.h"
#include "crdt/crdt.h"

namespace geodatastore::crdt {

class LWWRegister {
 public:
  static constexpr v1::CrdtType kType = v1::LWW_REGISTER;
  static constexpr v1::CrdtValue::StateCase kStateCase = v1::CrdtValue::kLwwRegister;

  // Delta: value written at stamp. It loses against the state if the state is later.
  LWWRegister Set(Stamp stamp, std::string_view value) const;

  // The winning value; empty for a register never written.
  std::vector<std::string> Value() const;
  const std::optional<Stamp>& stamp() const { return stamp_; }
  void Join(const LWWRegister& other);
  bool operator==(const LWWRegister&) const = default;
  Status Validate(const StateLimits& limits) const;

  void EncodeState(v1::CrdtValue* out) const;
  static StatusOr<LWWRegister> DecodeState(const v1::CrdtValue& in);

 private:
  std::optional<Stamp> stamp_;
  std::string value_;
};

static_assert(Crdt<LWWRegister>);

}  // namespace geodatastore::crdt
