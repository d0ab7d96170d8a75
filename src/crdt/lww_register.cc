#include "crdt/lww_register.h"

#include <tuple>

namespace geodatastore::crdt {

LWWRegister LWWRegister::Set(Stamp stamp, std::string_view value) const {
  LWWRegister delta;
  delta.stamp_ = stamp;
  delta.value_ = std::string(value);
  return delta;
}

std::vector<std::string> LWWRegister::Value() const {
  if (!stamp_) return {};
  return {value_};
}

void LWWRegister::Join(const LWWRegister& other) {
  if (!other.stamp_) return;
  if (!stamp_ || std::tie(*stamp_, value_) < std::tie(*other.stamp_, other.value_)) {
    stamp_ = other.stamp_;
    value_ = other.value_;
  }
}

Status LWWRegister::Validate(const StateLimits& limits) const {
  if (!stamp_) return Status::Ok();
  GDS_RETURN_IF_ERROR(CheckStamp(*stamp_, limits));
  return CheckElement(value_, "value", limits);
}

void LWWRegister::EncodeState(v1::CrdtValue* out) const {
  v1::LwwRegisterState* s = out->mutable_lww_register();
  if (stamp_) {
    EncodeStamp(*stamp_, s->mutable_stamp());
    s->set_value(value_);
  }
}

StatusOr<LWWRegister> LWWRegister::DecodeState(const v1::CrdtValue& in) {
  const v1::LwwRegisterState& s = in.lww_register();
  LWWRegister out;
  if (s.has_stamp()) {
    out.stamp_ = DecodeStamp(s.stamp());
    out.value_ = s.value();
  } else if (!s.value().empty()) {
    return Corruption("lww_register value without a stamp");
  }
  return out;
}

}  // namespace geodatastore::crdt
