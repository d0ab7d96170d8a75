// The shape every CRDT type has (as every riak_dt module does), and the envelope codec
// built on it.
//
// A type T is a join-semilattice of states:
//   - delta mutators are const members that return a delta of type T (or StatusOr<T> when the
//     op can be refused); the caller joins the delta into the state: x' = x.Join(delta);
//   - Join is idempotent, commutative and associative;
//   - operator== is structural equality, Value() is what users read;
//   - EncodeState/DecodeState fill and read T's member of CrdtValue's oneof; Encode and
//     Decode below add and check the type tag and version;
//   - Validate checks a decoded state or delta from outside the process against limits
//     (crdt/validate.h): stamps, element sizes, replica ids, dots, counter totals.
#pragma once

#include <google/protobuf/arena.h>

#include <concepts>
#include <string>
#include <string_view>

#include "common/status.h"
#include "crdt/codec.h"
#include "crdt/validate.h"
#include "geodatastore/v1/crdt.pb.h"

namespace geodatastore::crdt {

template <typename T>
concept Crdt = std::regular<T> && requires(T& state, const T& other, const v1::CrdtValue& in,
                                           v1::CrdtValue* out, const StateLimits& limits) {
  { T::kType } -> std::convertible_to<v1::CrdtType>;
  { T::kStateCase } -> std::convertible_to<v1::CrdtValue::StateCase>;
  { state.Join(other) } -> std::same_as<void>;
  {other.Value()};
  { other.EncodeState(out) } -> std::same_as<void>;
  { T::DecodeState(in) } -> std::same_as<StatusOr<T>>;
  { other.Validate(limits) } -> std::same_as<Status>;
};

template <Crdt T>
v1::CrdtValue Encode(const T& state) {
  v1::CrdtValue out;
  out.set_type(T::kType);
  out.set_version(kEncodingVersion);
  state.EncodeState(&out);
  return out;
}

template <Crdt T>
StatusOr<T> Decode(const v1::CrdtValue& in) {
  if (in.type() != T::kType) {
    return Corruption("type tag " + std::string(TypeName(in.type())) + " where " +
                      std::string(TypeName(T::kType)) + " was expected");
  }
  if (in.version() != kEncodingVersion) {
    return Corruption("unsupported encoding version " + std::to_string(in.version()));
  }
  if (in.state_case() != T::kStateCase) {
    return Corruption("state does not match type tag " + std::string(TypeName(T::kType)));
  }
  return T::DecodeState(in);
}

template <Crdt T>
std::string EncodeToBytes(const T& state) {
  // The message is built on an arena that starts in a per-thread block: a large state's
  // message (a sub-message and a string per element) costs a few block allocations and one
  // release instead of a malloc and a free per piece, and a small one none.
  thread_local char block[64 << 10];
  google::protobuf::ArenaOptions options;
  options.initial_block = block;
  options.initial_block_size = sizeof block;
  google::protobuf::Arena arena(options);
  auto* out = google::protobuf::Arena::CreateMessage<v1::CrdtValue>(&arena);
  out->set_type(T::kType);
  out->set_version(kEncodingVersion);
  state.EncodeState(out);
  return SerializeCanonical(*out);
}

template <Crdt T>
StatusOr<T> DecodeFromBytes(std::string_view bytes) {
  v1::CrdtValue value;
  if (!value.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return Corruption("undecodable " + std::string(TypeName(T::kType)) + " bytes");
  }
  return Decode<T>(value);
}

template <Crdt T>
T Joined(T a, const T& b) {
  a.Join(b);
  return a;
}

}  // namespace geodatastore::crdt
