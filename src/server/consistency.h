// Write consistency: after a write, wait until enough replicas hold it (API.md):
//   local_quorum  a majority of the nodes of this node's region (this node counts)
//   quorum        a majority of regions (a region holds it once any of its nodes does)
//   all           every region
// A peer holds a write once it acknowledged the write's seq.
//
// Thread safety: stateless functions.
#pragma once

#include <chrono>
#include <string>

#include "antientropy/grpc_sync.h"
#include "common/status.h"
#include "engine/engine.h"
#include "engine/session.h"
#include "replication/grpc_transport.h"
#include "server/metrics.h"

namespace geodatastore::server {

// True when the peers' acknowledgements satisfy level for own seq.
bool Satisfied(engine::Consistency level, uint64_t seq, const std::string& self_region,
               const std::vector<replication::PeerView>& peers);

// Waits until Satisfied or the deadline; kDeadlineExceeded then (the write stays applied).
// replication may be null (no peers: this node alone satisfies every level).
Status AwaitConsistency(replication::GrpcReplication* replication, engine::Consistency level,
                        uint64_t seq, const std::string& self_region,
                        std::chrono::milliseconds timeout);

// Reads key at level: this node's state joined with the states of enough other replicas
// (counted as for writes). kDeadlineExceeded if not enough answer in time; kNotFound if no
// replica that answered has the key. A type conflict resolves as everywhere: lower tag wins.
// Read repair: the join is written back to every replica that answered with less (through
// anti_entropy, without waiting) and joined here if this node had less; metrics counts them.
StatusOr<engine::ObjectView> ReadAtLevel(engine::Engine* engine,
                                         replication::GrpcReplication* replication,
                                         engine::Consistency level, v1::Family family,
                                         const std::string& name, const std::string& self_region,
                                         std::chrono::milliseconds timeout,
                                         antientropy::GrpcAntiEntropy* anti_entropy = nullptr,
                                         Metrics* metrics = nullptr);

}  // namespace geodatastore::server
