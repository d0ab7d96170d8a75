#include "engine/session.h"

#include <cstdio>

namespace geodatastore::engine {

StatusOr<Consistency> ParseConsistency(std::string_view level) {
  if (level == "eventual") return Consistency::kEventual;
  if (level == "local_quorum") return Consistency::kLocalQuorum;
  if (level == "quorum") return Consistency::kQuorum;
  if (level == "all") return Consistency::kAll;
  return InvalidArgument("consistency is one of eventual, local_quorum, quorum, all; not '" +
                         std::string(level) + "'");
}

std::string FormatSessionToken(const crdt::VersionVector& applied) {
  std::string out;
  for (const auto& [replica, seq] : applied.entries()) {
    if (!out.empty()) out += ",";
    out += crdt::ReplicaIdHex(replica) + ":" + std::to_string(seq);
  }
  return out;
}

StatusOr<crdt::VersionVector> ParseSessionToken(std::string_view token) {
  crdt::VersionVector vv;
  const Status bad = InvalidArgument("malformed session token");
  if (token.empty()) return vv;
  while (!token.empty()) {
    const size_t comma = token.find(',');
    const std::string_view entry = token.substr(0, comma);
    token = comma == std::string_view::npos ? std::string_view() : token.substr(comma + 1);
    if (comma != std::string_view::npos && token.empty()) return bad;
    const size_t colon = entry.find(':');
    if (colon != 16 || entry.size() < 18 || entry.size() > 37) return bad;
    uint64_t replica = 0, seq = 0;
    for (char c : entry.substr(0, 16)) {
      int digit = (c >= '0' && c <= '9') ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
      if (digit < 0) return bad;
      replica = replica << 4 | static_cast<uint64_t>(digit);
    }
    for (char c : entry.substr(17)) {
      if (c < '0' || c > '9' || seq > (UINT64_MAX - 9) / 10) return bad;
      seq = seq * 10 + static_cast<uint64_t>(c - '0');
    }
    vv.Raise(replica, seq);
  }
  return vv;
}

}  // namespace geodatastore::engine
