// Reports: a node's admin reports — its status, its replication lag, the results of a full
// sync — each built once, here, as AdminService's reply message. gRPC answers with it as it
// is; REST renders it (reply/report_json.h) and geoctl prints what gRPC answered, so every
// front end says the same thing of the same node.
//
// Thread safety: the reports may be built from any thread at once. set_tombstones is called
// once, before serving.
#pragma once

#include <chrono>
#include <functional>
#include <string>

#include "antientropy/grpc_sync.h"
#include "config/config.h"
#include "engine/engine.h"
#include "geodatastore/v1/api.pb.h"
#include "replication/grpc_transport.h"

namespace geodatastore::server {

class Reports {
 public:
  // REQUIRES: engine outlives the reports, and so do replication and anti_entropy, which are
  // null on a node without peers.
  Reports(engine::Engine* engine, const config::Config& config,
          replication::GrpcReplication* replication, antientropy::GrpcAntiEntropy* anti_entropy);

  // What the status says of tombstone collection (unset: nothing).
  void set_tombstones(std::function<v1::TombstoneStatus()> status) {
    tombstones_ = std::move(status);
  }

  // Identity, uptime, every configured peer (its replication state and last anti-entropy
  // session), keys per type, the applied vector, tombstones and storage.
  v1::StatusReply NodeStatus() const;
  // Per peer: how far behind this node's own writes it is.
  v1::LagReply ReplicationLag() const;
  // Anti-entropy now with every peer (of region, if not empty), answered when done;
  // kFailedPrecondition on a node without peers, kNotFound without a peer in region.
  StatusOr<v1::FullSyncReply> FullSync(const std::string& region) const;

 private:
  void AddPeers(v1::StatusReply* out) const;

  engine::Engine* const engine_;
  const config::Config config_;
  replication::GrpcReplication* const replication_;
  antientropy::GrpcAntiEntropy* const anti_entropy_;
  std::function<v1::TombstoneStatus()> tombstones_;
  const std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
};

}  // namespace geodatastore::server
