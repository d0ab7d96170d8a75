#include "crdt/g_set.h"

namespace geodatastore::crdt {

GSet GSet::Add(std::string_view element) const {
  GSet delta;
  delta.elements_.emplace(element);
  return delta;
}

Status GSet::Validate(const StateLimits& limits) const {
  for (const std::string& e : elements_) GDS_RETURN_IF_ERROR(CheckElement(e, "element", limits));
  return Status::Ok();
}

void GSet::EncodeState(v1::CrdtValue* out) const {
  EncodeStrings(elements_, out->mutable_g_set()->mutable_elements());
}

StatusOr<GSet> GSet::DecodeState(const v1::CrdtValue& in) {
  GSet out;
  GDS_ASSIGN_OR_RETURN(out.elements_, DecodeStringSet(in.g_set().elements(), "g_set elements"));
  return out;
}

}  // namespace geodatastore::crdt
