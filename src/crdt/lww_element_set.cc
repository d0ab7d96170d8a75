#include "crdt/lww_element_set.h"

#include <algorithm>

namespace geodatastore::crdt {

LWWElementSet LWWElementSet::Add(Stamp stamp, std::string_view element) const {
  LWWElementSet delta;
  delta.elements_.emplace(std::string(element), LwwEntry::Add(stamp));
  return delta;
}

LWWElementSet LWWElementSet::Remove(Stamp stamp, std::string_view element) const {
  LWWElementSet delta;
  delta.elements_.emplace(std::string(element), LwwEntry::Remove(stamp));
  return delta;
}

bool LWWElementSet::Contains(std::string_view element) const {
  auto it = elements_.find(element);
  return it != elements_.end() && it->second.Present(bias_);
}

std::vector<std::string> LWWElementSet::Value() const {
  std::vector<std::string> out;
  for (const auto& [element, entry] : elements_) {
    if (entry.Present(bias_)) out.push_back(element);
  }
  return out;
}

size_t LWWElementSet::tombstones() const { return CountTombstones(elements_, bias_); }

LWWElementSet LWWElementSet::Tombstones() const {
  LWWElementSet out(bias_);
  out.elements_ = TombstoneEntries(elements_, bias_);
  return out;
}

bool LWWElementSet::Collect(const LWWElementSet& tombstones) {
  return CollectEntries(elements_, tombstones.elements_, bias_);
}

std::optional<Stamp> LWWElementSet::LatestStamp() const { return LatestStampOf(elements_); }

void LWWElementSet::Join(const LWWElementSet& other) {
  bias_ = std::max(bias_, other.bias_);
  JoinEntries(elements_, other.elements_);
}

void LWWElementSet::EncodeState(v1::CrdtValue* out) const {
  v1::LwwSetState* s = out->mutable_lww_set();
  s->set_bias(static_cast<v1::LwwBias>(bias_));
  for (const auto& [element, entry] : elements_) {
    v1::LwwElement* e = s->add_elements();
    e->set_element(element);
    EncodeLwwEntry(entry, e);
  }
}

StatusOr<LWWElementSet> LWWElementSet::DecodeState(const v1::CrdtValue& in) {
  const v1::LwwSetState& s = in.lww_set();
  if (s.bias() != v1::REMOVE_WINS && s.bias() != v1::ADD_WINS) {
    return Corruption("lww_set with unknown bias " + std::to_string(s.bias()));
  }
  LWWElementSet out(static_cast<LwwBias>(s.bias()));
  for (int i = 0; i < s.elements_size(); ++i) {
    const v1::LwwElement& e = s.elements(i);
    if (i > 0 && !(s.elements(i - 1).element() < e.element())) {
      return Corruption("lww_set elements not strictly sorted");
    }
    LwwEntry entry;
    if (!DecodeLwwEntry(e, &entry)) {
      return Corruption("lww_set element with neither an add nor a remove stamp");
    }
    out.elements_.emplace_hint(out.elements_.end(), e.element(), entry);
  }
  return out;
}

Status LWWElementSet::Validate(const StateLimits& limits) const {
  for (const auto& [element, entry] : elements_) {
    GDS_RETURN_IF_ERROR(CheckElement(element, "element", limits));
    GDS_RETURN_IF_ERROR(ValidateLwwEntry(entry, limits));
  }
  return Status::Ok();
}

}  // namespace geodatastore::crdt
