// Session tokens: a node's applied vector {replica -> highest seq applied} as text, handed to
// clients so that a later request, on any node, is served only once that node has applied
// at least as much (read-your-writes, monotonic reads).
//
//   token := entry ("," entry)*      entry := replica: 16 lowercase hex digits ":" seq: decimal
//
// Thread safety: pure functions.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"
#include "crdt/causal_context.h"

namespace geodatastore::engine {

enum class Consistency { kEventual, kLocalQuorum, kQuorum, kAll };

// "eventual" | "local_quorum" | "quorum" | "all"; kInvalidArgument otherwise.
StatusOr<Consistency> ParseConsistency(std::string_view level);

std::string FormatSessionToken(const crdt::VersionVector& applied);
// kInvalidArgument for anything that is not a token.
StatusOr<crdt::VersionVector> ParseSessionToken(std::string_view token);

}  // namespace geodatastore::engine
