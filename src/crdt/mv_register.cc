#include "crdt/mv_register.h"

namespace geodatastore::crdt {

std::vector<std::string> MVRegister::Value() const {
  std::vector<std::string> out;
  for (const auto& [value, dots] : kernel_.entries()) out.push_back(value);
  return out;
}

StatusOr<MVRegister> MVRegister::DecodeState(const v1::CrdtValue& in) {
  GDS_ASSIGN_OR_RETURN(DotKernel kernel, DecodeKernel(in.mv_register().kernel()));
  return MVRegister(std::move(kernel));
}

}  // namespace geodatastore::crdt
