#include "crdt/validate.h"

#include <algorithm>

namespace geodatastore::crdt {

namespace {
constexpr std::string_view kPrefix = "rejected ";
}  // namespace

Status Rejected(std::string_view reason, const std::string& detail) {
  return InvalidArgument(std::string(kPrefix) + std::string(reason) + ": " + detail);
}

std::string_view RejectionReason(const Status& status) {
  if (status.code() != StatusCode::kInvalidArgument) return {};
  std::string_view m = status.message();
  if (m.substr(0, kPrefix.size()) != kPrefix) return {};
  m.remove_prefix(kPrefix.size());
  const size_t colon = m.find(':');
  return colon == std::string_view::npos ? std::string_view() : m.substr(0, colon);
}

Status CheckStamp(const Stamp& stamp, const StateLimits& limits) {
  if (stamp.ts.physical > limits.max_physical_ms) {
    return Rejected(kClockOffset, "stamp " + stamp.ts.ToString() + " is beyond " +
                                      std::to_string(limits.max_physical_ms) + " ms");
  }
  limits.latest_stamp_ms = std::max(limits.latest_stamp_ms, stamp.ts.physical);
  return CheckReplica(stamp.replica);
}

Status CheckElement(std::string_view element, std::string_view what, const StateLimits& limits) {
  if (element.size() > limits.max_element_bytes) {
    return Rejected(kElementSize, std::string(what) + " of " + std::to_string(element.size()) +
                                      " bytes, over the limit of " +
                                      std::to_string(limits.max_element_bytes));
  }
  return Status::Ok();
}

Status CheckReplica(ReplicaId replica) {
  if (replica == 0) return Rejected(kReplicaId, "replica id 0");
  return Status::Ok();
}

Status CheckDot(const Dot& dot) {
  GDS_RETURN_IF_ERROR(CheckReplica(dot.replica));
  if (dot.counter == 0 || dot.counter >= kMaxDotCounter) {
    return Rejected(kBadDot, "dot counter " + std::to_string(dot.counter) + " of replica " +
                                 ReplicaIdHex(dot.replica));
  }
  return Status::Ok();
}

Status CheckCounts(const VersionVector& counts) {
  uint64_t total = 0;
  for (const auto& [replica, count] : counts.entries()) {
    GDS_RETURN_IF_ERROR(CheckReplica(replica));
    if (count > kMaxCount) {
      return Rejected(kCounterOverflow, "a count of " + std::to_string(count) + " for replica " +
                                            ReplicaIdHex(replica) + ", over 2^63");
    }
    if (count > std::numeric_limits<uint64_t>::max() - total) {
      return Rejected(kCounterOverflow, "counter entries whose total passes 2^64 - 1");
    }
    total += count;
  }
  return Status::Ok();
}

Status CheckContext(const CausalContext& context) {
  for (const auto& [replica, counter] : context.compact().entries())
    GDS_RETURN_IF_ERROR(CheckDot({replica, counter}));
  for (const Dot& dot : context.cloud()) GDS_RETURN_IF_ERROR(CheckDot(dot));
  return Status::Ok();
}

Status CheckKnowledge(const VersionVector& knowledge) {
  if (knowledge.entries().size() > kMaxKnowledgeEntries) {
    return Rejected(kKnowledge, std::to_string(knowledge.entries().size()) + " entries, over " +
                                    std::to_string(kMaxKnowledgeEntries));
  }
  for (const auto& [replica, seq] : knowledge.entries()) {
    GDS_RETURN_IF_ERROR(CheckReplica(replica));
    if (seq >= kMaxDotCounter) {
      return Rejected(kKnowledge,
                      "seq " + std::to_string(seq) + " of replica " + ReplicaIdHex(replica));
    }
  }
  return Status::Ok();
}

}  // namespace geodatastore::crdt
