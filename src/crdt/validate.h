// Validation of CRDT states and deltas that come from outside the process (DESIGN.md,
// principles 5 and 6): before a remote delta, a remote state or a client's stamp is joined,
// every stamp, element, replica id, dot and counter in it is checked against limits.
//
// A failure is a Rejected status: kInvalidArgument with the message "rejected <reason>:
// <detail>", where reason is one of the k* names below, the label of
// geodatastore_rejected_payloads_total.
//
// Thread safety: free functions on values.
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

#include "common/status.h"
#include "crdt/causal_context.h"
#include "crdt/clock.h"

namespace geodatastore::crdt {

// Rejection reasons (metric labels).
inline constexpr std::string_view kClockOffset = "clock_offset";  // stamp beyond now + offset
inline constexpr std::string_view kCounterOverflow = "counter_overflow";
inline constexpr std::string_view kElementSize = "element_size";  // element or value too large
inline constexpr std::string_view kKeySize = "key_size";          // object name empty or too long
inline constexpr std::string_view kReplicaId = "replica_id";      // replica id 0
inline constexpr std::string_view kBadDot = "dot";  // a dot counter no replica can reach
// A knowledge vector (what a sender's states may hold; tombstone collection) that claims
// seqs no replica has issued.
inline constexpr std::string_view kKnowledge = "knowledge";

struct StateLimits {
  // The latest HLC physical time a stamp may carry: local physical time plus the maximum
  // clock offset.
  uint64_t max_physical_ms = std::numeric_limits<uint64_t>::max();
  size_t max_element_bytes = std::numeric_limits<size_t>::max();
  // Raised to the physical time of every stamp CheckStamp passes: the receiver's clock
  // follows what it merges (Engine::FollowStamp).
  mutable uint64_t latest_stamp_ms = 0;
};

// Dot counters and per-replica counts at or above this are refused: no replica issues 2^62
// events, and a counter near 2^64 would freeze its replica (its next dot or increment
// would overflow).
inline constexpr uint64_t kMaxDotCounter = uint64_t{1} << 62;

// One replica's count (a G-Counter entry, either half of a PN-Counter) above this is
// refused. A client's amount is a signed 64-bit integer and GCounter::Increment keeps a
// replica's count within 2^63, so a larger count can only be forged; a count near 2^64 would
// freeze the counter (every later increment would overflow its total).
inline constexpr uint64_t kMaxCount = uint64_t{1} << 63;

Status Rejected(std::string_view reason, const std::string& detail);
// The reason of a Rejected status (a view into its message); empty for any other status.
std::string_view RejectionReason(const Status& status);

Status CheckStamp(const Stamp& stamp, const StateLimits& limits);
// what names the element in the message ("element", "value", "vertex").
Status CheckElement(std::string_view element, std::string_view what, const StateLimits& limits);
Status CheckReplica(ReplicaId replica);
// Replica nonzero, counter below kMaxDotCounter.
Status CheckDot(const Dot& dot);
// Per-replica counts (a G-Counter's): replica ids nonzero, each count at most kMaxCount, and
// the total cannot overflow.
Status CheckCounts(const VersionVector& counts);
Status CheckContext(const CausalContext& context);

// A knowledge vector with more entries is refused: one entry per replica (node incarnation)
// the cluster ever had.
inline constexpr size_t kMaxKnowledgeEntries = 4096;
// A knowledge vector from elsewhere: replica ids nonzero (kReplicaId), seqs below
// kMaxDotCounter and at most kMaxKnowledgeEntries entries (kKnowledge).
Status CheckKnowledge(const VersionVector& knowledge);

}  // namespace geodatastore::crdt
