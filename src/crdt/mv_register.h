// Multi-value register with dotted version vectors (Almeida et al. 2014): a write replaces
// every value its replica had seen; writes concurrent with it survive, so a read returns
// every concurrent value. Built on the same dot kernel as the OR-Set: each value is a key
// tagged with the dots of the writes that wrote it.
//
// Thread safety: as DotKernel.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "crdt/crdt.h"
#include "crdt/dot_kernel.h"

namespace geodatastore::crdt {

class MVRegister {
 public:
  static constexpr v1::CrdtType kType = v1::MV_REGISTER;
  static constexpr v1::CrdtValue::StateCase kStateCase = v1::CrdtValue::kMvRegister;

  MVRegister() = default;

  // Delta: value written by replica, superseding every value seen here.
  MVRegister Write(ReplicaId replica, std::string_view value) const {
    return MVRegister(kernel_.ReplaceAllDelta(replica, value));
  }

  // Every concurrent value, sorted; empty for a register never written.
  std::vector<std::string> Value() const;
  const DotKernel& kernel() const { return kernel_; }
  void Join(const MVRegister& other) { kernel_.Join(other.kernel_); }
  bool operator==(const MVRegister&) const = default;
  Status Validate(const StateLimits& limits) const {
    return ValidateKernel(kernel_, "value", limits);
  }

  void EncodeState(v1::CrdtValue* out) const {
    EncodeKernel(kernel_, out->mutable_mv_register()->mutable_kernel());
  }
  static StatusOr<MVRegister> DecodeState(const v1::CrdtValue& in);

 private:
  explicit MVRegister(DotKernel kernel) : kernel_(std::move(kernel)) {}

  DotKernel kernel_;
};

static_assert(Crdt<MVRegister>);

}  // namespace geodatastore::crdt
