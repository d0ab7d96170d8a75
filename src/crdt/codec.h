// Canonical protobuf encoding of CRDT states (grammar: proto/geodatastore/v1/crdt.proto).
//
//   bytes     := CrdtValue{type: T::kType, version: T::kVersion, state: <T's message>}
//                serialized deterministically
//   canonical := every repeated field sorted by its key and without duplicates
//
// Decoders validate everything before building a state: wrong tag or version, unsorted or
// duplicate entries, zero counters, dots outside the context are errors (kCorruption),
// never crashes and never partial states.
//
// Thread safety: free functions on values.
#pragma once

#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "crdt/causal_context.h"
#include "crdt/clock.h"
#include "crdt/containers.h"
#include "crdt/dot_kernel.h"
#include "geodatastore/v1/crdt.pb.h"

namespace geodatastore::crdt {

inline constexpr uint32_t kEncodingVersion = 1;

std::string_view TypeName(v1::CrdtType type);

void EncodeDot(const Dot& dot, v1::Dot* out);
void EncodeVersionVector(const VersionVector& vv, v1::VersionVector* out);
StatusOr<VersionVector> DecodeVersionVector(const v1::VersionVector& in);
void EncodeKernel(const DotKernel& kernel, v1::DotKernel* out);
StatusOr<DotKernel> DecodeKernel(const v1::DotKernel& in);
void EncodeStamp(const Stamp& stamp, v1::LwwStamp* out);
Stamp DecodeStamp(const v1::LwwStamp& in);

// Copies a sorted unique range of strings into a repeated bytes field.
template <typename Range>
void EncodeStrings(const Range& strings, google::protobuf::RepeatedPtrField<std::string>* out) {
  out->Reserve(static_cast<int>(std::size(strings)));
  for (const std::string& s : strings) out->Add(std::string(s));
}
// REQUIRES nothing of in; fails unless it is strictly increasing.
StatusOr<StringSet> DecodeStringSet(const google::protobuf::RepeatedPtrField<std::string>& in,
                                    std::string_view what);

// Serializes with deterministic field order (no protobuf maps are used, so this is canonical).
std::string SerializeCanonical(const google::protobuf::MessageLite& message);

}  // namespace geodatastore::crdt
