// Write consistency: after a write, wait until enough replicas hold it (API.md):
//   local_quorum  a majority of the nodes of this node's region (this node counts)
//   quorum        a majority of regions (a region holds it once any of its nodes does)
//   all           every region
// A peer holds a write once it acknowledged the write's seq.
//
// Thread safety: stateless functions. Waiting requests hold no thread: they are parked in
// Waits and carried on by a continuation (done).
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <string_view>

#include "antientropy/grpc_sync.h"
#include "common/status.h"
#include "engine/engine.h"
#include "engine/session.h"
#include "replication/grpc_transport.h"
#include "server/metrics.h"
#include "server/waits.h"

namespace geodatastore::server {

// True when the peers' acknowledgements satisfy level for own seq.
bool Satisfied(engine::Consistency level, uint64_t seq, const std::string& self_region,
               const std::vector<replication::PeerView>& peers);

// Calls done(Ok) once Satisfied — at once when it already is (level eventual, no peers:
// replication null) — or done(kDeadlineExceeded) after timeout (the write stays applied).
// The request waits parked in waits, holding no thread; done(kUnavailable) when too many
// are parked. done runs on the caller's thread or one of waits' threads.
void AwaitConsistency(Waits* waits, replication::GrpcReplication* replication,
                      engine::Consistency level, uint64_t seq, const std::string& self_region,
                      std::chrono::milliseconds timeout, std::function<void(Status)> done);

// Calls done(Ok) once this node has applied everything a session token covers (at once
// for an empty token), done(kInvalidArgument) for a malformed token, done(kUnavailable)
// if not within timeout. Parked in waits meanwhile, as AwaitConsistency.
void AwaitSessionToken(Waits* waits, const engine::Engine* engine, std::string_view token,
                       std::chrono::milliseconds timeout, std::function<void(Status)> done);

// Reads key at level: this node's state joined with the states of enough other replicas
// (counted as for writes), then done(the join). kDeadlineExceeded if not enough answer in
// time; kNotFound if no replica that answered has the key. A type conflict resolves as
// everywhere: lower tag wins. Read repair: the join is written back to every replica that
// answered with less (through anti_entropy, without waiting) and joined here if this node
// had less; metrics counts them. While the answers come the request is parked in waits.
struct LevelRead {
  engine::Engine* engine;
  replication::GrpcReplication* replication;  // null: this node alone
  antientropy::GrpcAntiEntropy* anti_entropy = nullptr;
  Metrics* metrics = nullptr;
  Waits* waits;
  std::string self_region;
  std::chrono::milliseconds timeout;
};
void ReadAtLevel(const LevelRead& how, engine::Consistency level, v1::Family family,
                 const std::string& name, std::function<void(StatusOr<engine::ObjectView>)> done);

}  // namespace geodatastore::server
