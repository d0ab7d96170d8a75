#include "crdt/two_p_set.h"

namespace geodatastore::crdt {

StatusOr<TwoPSet> TwoPSet::Add(std::string_view element) const {
  if (removed_.count(element) > 0) {
    return FailedPrecondition("element '" + std::string(element) +
                              "' was removed from this 2p_set; removal is permanent");
  }
  TwoPSet delta;
  delta.added_.emplace(element);
  return delta;
}

TwoPSet TwoPSet::Remove(std::string_view element) const {
  TwoPSet delta;
  if (Contains(element)) delta.removed_.emplace(element);
  return delta;
}

std::vector<std::string> TwoPSet::Value() const {
  std::vector<std::string> out;
  for (const std::string& e : added_) {
    if (removed_.count(e) == 0) out.push_back(e);
  }
  return out;
}

TwoPSet TwoPSet::Tombstones() const {
  TwoPSet out;
  out.removed_ = removed_;
  return out;
}

bool TwoPSet::Collect(const TwoPSet& tombstones) {
  bool changed = false;
  for (const std::string& e : tombstones.removed_) {
    changed = removed_.erase(e) > 0 || changed;
    added_.erase(e);
  }
  return changed;
}

TwoPSet TwoPSet::FromGSet(const GSet& added) {
  TwoPSet s;
  s.added_ = added.elements();
  return s;
}

void TwoPSet::Join(const TwoPSet& other) {
  UnionInto(added_, other.added_);
  UnionInto(removed_, other.removed_);
}

Status TwoPSet::Validate(const StateLimits& limits) const {
  for (const StringSet* set : {&added_, &removed_}) {
    for (const std::string& e : *set) GDS_RETURN_IF_ERROR(CheckElement(e, "element", limits));
  }
  return Status::Ok();
}

void TwoPSet::EncodeState(v1::CrdtValue* out) const {
  EncodeStrings(added_, out->mutable_two_p_set()->mutable_added());
  EncodeStrings(removed_, out->mutable_two_p_set()->mutable_removed());
}

StatusOr<TwoPSet> TwoPSet::DecodeState(const v1::CrdtValue& in) {
  TwoPSet out;
  GDS_ASSIGN_OR_RETURN(out.added_, DecodeStringSet(in.two_p_set().added(), "2p_set added"));
  GDS_ASSIGN_OR_RETURN(out.removed_, DecodeStringSet(in.two_p_set().removed(), "2p_set removed"));
  return out;
}

}  // namespace geodatastore::crdt
