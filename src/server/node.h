// Node: one geods process — config, store, engine, metrics and the front ends, started and
// stopped together.
//
// Thread safety: Start, Run and Stop are called from the main thread; Stop may also be
// called from a signal handler's strand.
#pragma once

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "antientropy/grpc_sync.h"
#include "config/config.h"
#include "engine/engine.h"
#include "engine/replication_host.h"
#include "engine/sync_host.h"
#include "engine/tombstones.h"
#include "replication/grpc_transport.h"
#include "security/auth.h"
#include "security/tls.h"
#include "server/grpc_service.h"
#include "server/http_server.h"
#include "server/metrics.h"
#include "server/reports.h"
#include "server/resp_server.h"
#include "server/waits.h"
#include "server/rest_api.h"

namespace geodatastore::server {

class Node {
 public:
  explicit Node(config::Config config);
  ~Node();

  // Opens the store and binds every listener.
  Status Start();
  // Serves until SIGTERM or SIGINT, then drains in-flight requests, flushes the store and
  // returns.
  void Run();

  // The bound ports (useful when the config asked for port 0).
  uint16_t http_port() const { return http_ ? http_->port() : 0; }
  int grpc_port() const { return grpc_ ? grpc_->port() : 0; }
  int peer_port() const { return grpc_ ? grpc_->peer_port() : 0; }
  uint16_t resp_port() const { return resp_ ? resp_->port() : 0; }
  // Writes {"http": port, ...} to path atomically (a temporary file renamed into place).
  Status WritePortsFile(const std::string& path) const;

 private:
  // Users, certificates and the TLS contexts built from them (security.*).
  Status StartSecurity();
  // What the status report says of tombstone collection.
  v1::TombstoneStatus TombstoneReport();
  // Re-reads the users file and the certificates (SIGHUP, or a certificate file changed).
  void ReloadSecurity();
  PeerLinks Links() const;
  // Every node id of the cluster, this one's included.
  std::set<std::string> ClusterNodes() const;
  // Refuses a certificate whose DNS subject alternative names do not name this node, or
  // name another node of the cluster too (peers would not know which node it is).
  Status CheckCertificateNamesNode(const security::CertificateInfo& cert) const;
  void Shutdown();
  // Until stopped, on its own thread: steps the tombstone collector's rounds, and keeps the
  // delta log of a node without peers short.
  // Measures this node's clock against its linked peers' and fences it (Engine::
  // SetClockFence) while most are more than 80% of clock.max_offset_ms away, and from its
  // start until they were compared (replication/clock_fence.h).
  void CheckClock(std::chrono::steady_clock::duration running);
  void Housekeeping();
  // from: the sending node; origin_region: the region of the node whose write lost or won.
  void RecordConflicts(const std::vector<engine::Conflict>& conflicts, const std::string& from,
                       const std::string& origin_region);

  config::Config config_;
  crdt::SystemClock clock_;
  std::unique_ptr<storage::Store> store_;
  std::unique_ptr<engine::Engine> engine_;
  std::unique_ptr<Metrics> metrics_;
  std::unique_ptr<security::Authenticator> auth_;
  std::unique_ptr<security::ReloadableSslContext> client_tls_;  // with security.tls.clients
  std::atomic<int64_t> cert_mtime_{0};  // of security.tls.cert_file when last loaded
  int64_t cert_not_after_ = 0;          // of the certificate checked at start
  std::unique_ptr<Waits> waits_;  // requests waiting for a condition (REST and gRPC)
  std::unique_ptr<Reports> reports_;
  std::unique_ptr<RestApi> rest_;
  boost::asio::io_context io_;
  std::unique_ptr<HttpServer> http_;
  std::unique_ptr<RespHandler> resp_handler_;
  std::unique_ptr<RespServer> resp_;
  std::unique_ptr<GrpcServer> grpc_;
  std::unique_ptr<engine::EngineReplicationHost> replication_host_;
  std::unique_ptr<replication::Replicator> replicator_;
  std::unique_ptr<replication::GrpcReplication> replication_;  // null without peers
  std::unique_ptr<engine::EngineSyncHost> sync_host_;
  std::unique_ptr<antientropy::GrpcAntiEntropy> anti_entropy_;  // null without peers
  std::vector<std::thread> threads_;
  std::unique_ptr<engine::TombstoneCollector> collector_;  // guarded by collector_mu_
  std::mutex collector_mu_;
  std::condition_variable collector_cv_;
  bool stopping_ = false;  // guarded by collector_mu_
  std::thread housekeeping_;
};

}  // namespace geodatastore::server
