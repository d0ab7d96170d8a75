#include "server/consistency.h"

#include <map>
#include <thread>

namespace geodatastore::server {

bool Satisfied(engine::Consistency level, uint64_t seq, const std::string& self_region,
               const std::vector<replication::PeerView>& peers) {
  if (level == engine::Consistency::kEventual || seq == 0) return true;
  if (level == engine::Consistency::kLocalQuorum) {
    size_t nodes = 1, holding = 1;
    for (const replication::PeerView& p : peers) {
      if (p.region != self_region) continue;
      ++nodes;
      if (p.acked >= seq) ++holding;
    }
    return holding >= nodes / 2 + 1;
  }
  std::map<std::string, bool> regions{{self_region, true}};
  for (const replication::PeerView& p : peers) regions[p.region] = regions[p.region] || p.acked >= seq;
  size_t holding = 0;
  for (const auto& [region, holds] : regions) holding += holds;
  return level == engine::Consistency::kAll ? holding == regions.size() : holding >= regions.size() / 2 + 1;
}

Status AwaitConsistency(replication::GrpcReplication* replication, engine::Consistency level, uint64_t seq,
                        const std::string& self_region, std::chrono::milliseconds timeout) {
  if (replication == nullptr || level == engine::Consistency::kEventual || seq == 0) return Status::Ok();
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!Satisfied(level, seq, self_region, replication->Peers())) {
    if (std::chrono::steady_clock::now() >= deadline) {
      return Status(StatusCode::kDeadlineExceeded,
                    "not enough replicas acknowledged the write in time; it stays applied on this node");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return Status::Ok();
}

}  // namespace geodatastore::server
