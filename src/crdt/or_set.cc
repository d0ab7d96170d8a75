#include "crdt/or_set.h"

namespace geodatastore::crdt {

ORSet ORSet::Add(ReplicaId replica, std::string_view element) const {
  return ORSet(kernel_.AddDelta(replica, element));
}

ORSet ORSet::Remove(std::string_view element) const { return ORSet(kernel_.RemoveDelta(element)); }

std::vector<std::string> ORSet::Value() const {
  std::vector<std::string> out;
  out.reserve(kernel_.entries().size());
  for (const auto& [element, dots] : kernel_.entries()) out.push_back(element);
  return out;
}

StatusOr<ORSet> ORSet::DecodeState(const v1::CrdtValue& in) {
  GDS_ASSIGN_OR_RETURN(DotKernel kernel, DecodeKernel(in.or_set().kernel()));
  return ORSet(std::move(kernel));
}

}  // namespace geodatastore::crdt
