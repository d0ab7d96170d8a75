// The gRPC front end (proto/geodatastore/v1/api.proto): CRDTService and AdminService on
// gRPC's callback API, and the server that hosts them.
//
// Thread safety: handlers run concurrently. Work that may block (storage, fsync, waiting for
// a session token) runs on the service's own thread pool, never on gRPC's few callback
// threads; the engine serializes what must be.
#pragma once

#include <grpcpp/grpcpp.h>

#include <boost/asio/thread_pool.hpp>
#include <atomic>
#include <functional>
#include <memory>
#include <string>

#include "antientropy/grpc_sync.h"
#include "config/config.h"
#include "engine/engine.h"
#include "geodatastore/v1/api.grpc.pb.h"
#include "replication/grpc_transport.h"
#include "security/auth.h"
#include "security/tls.h"
#include "server/metrics.h"
#include "server/waits.h"
#include "server/reports.h"
#include "server/status_codes.h"

namespace geodatastore::server {

// The certificate files of config's security.tls section.
security::TlsFiles TlsFilesOf(const config::Config& config);

class CrdtService final : public v1::CRDTService::CallbackService {
 public:
  // REQUIRES: auth outlives the service.
  CrdtService(engine::Engine* engine, Metrics* metrics, const config::Config& config,
              security::Authenticator* auth, Waits* waits, replication::GrpcReplication* replication,
              antientropy::GrpcAntiEntropy* anti_entropy);

  using Context = grpc::CallbackServerContext;
  using Reactor = grpc::ServerUnaryReactor;
  Reactor* CreateObject(Context*, const v1::CreateRequest*, v1::ObjectValue*) override;
  Reactor* IncrementCounter(Context*, const v1::CounterUpdate*, v1::ObjectValue*) override;
  Reactor* DecrementCounter(Context*, const v1::CounterUpdate*, v1::ObjectValue*) override;
  Reactor* GetCounter(Context*, const v1::GetRequest*, v1::ObjectValue*) override;
  Reactor* AddToSet(Context*, const v1::SetUpdate*, v1::ObjectValue*) override;
  Reactor* RemoveFromSet(Context*, const v1::SetUpdate*, v1::ObjectValue*) override;
  Reactor* GetSet(Context*, const v1::GetRequest*, v1::ObjectValue*) override;
  Reactor* SetRegister(Context*, const v1::RegisterWrite*, v1::ObjectValue*) override;
  Reactor* GetRegister(Context*, const v1::GetRequest*, v1::ObjectValue*) override;
  Reactor* AddVertex(Context*, const v1::VertexRequest*, v1::ObjectValue*) override;
  Reactor* RemoveVertex(Context*, const v1::VertexRequest*, v1::ObjectValue*) override;
  Reactor* AddEdge(Context*, const v1::EdgeRequest*, v1::ObjectValue*) override;
  Reactor* RemoveEdge(Context*, const v1::EdgeRequest*, v1::ObjectValue*) override;
  Reactor* GetGraph(Context*, const v1::GetRequest*, v1::ObjectValue*) override;
  Reactor* GetNeighbors(Context*, const v1::VertexRequest*, v1::NeighborsReply*) override;
  Reactor* GetPaths(Context*, const v1::PathsRequest*, v1::PathsReply*) override;
  Reactor* ListKeys(Context*, const v1::ListKeysRequest*, v1::ListKeysReply*) override;
  Reactor* ApplyBatch(Context*, const v1::BatchRequest*, v1::BatchReply*) override;
  grpc::ServerBidiReactor<v1::BatchRequest, v1::BatchReply>* StreamBatches(Context*) override;
  Reactor* Echo(Context*, const v1::EchoRequest*, v1::EchoReply*) override;

  // Applies a batch; shared by ApplyBatch and StreamBatches.
  // Returns the highest seq it wrote (0: none).
  uint64_t RunBatch(const v1::BatchRequest& request, v1::BatchReply* reply);

 private:
  // Work for one call: runs on the worker pool (it must own what it captures, besides the
  // call's request and reply) and calls finish exactly once — at once, or later from a
  // continuation when it waits (parked in waits_, holding no thread).
  // A write records the seq it wrote (Wrote) before it finishes, so that the session token
  // the call returns covers it (Engine::SessionTokenFor).
  struct Done {
    std::function<void(Status)> finish;
    std::shared_ptr<std::atomic<uint64_t>> wrote;
    void operator()(Status status) const { finish(std::move(status)); }
    void Wrote(uint64_t seq) const {
      uint64_t seen = wrote->load();
      while (seen < seq && !wrote->compare_exchange_weak(seen, seq)) {
      }
    }
  };
  using Work = std::function<void(Done)>;
  // Checks credentials and metadata, waits for the session token if any, runs work and
  // finishes the call with its status and the node's session token.
  Reactor* Serve(Context* context, security::Action action, Work work);
  // The same for work that never waits.
  Reactor* Serve(Context* context, security::Action action, std::function<Status()> fn);
  Reactor* Write(Context* context, const std::string& name, const engine::Op& op,
                 v1::ObjectValue* reply);
  Reactor* Read(Context* context, v1::Family family, const std::string& name,
                v1::ObjectValue* reply);

  engine::Engine* const engine_;
  Metrics* const metrics_;
  security::Authenticator* const auth_;
  const std::chrono::milliseconds timeout_;
  replication::GrpcReplication* const replication_;   // null without peers
  antientropy::GrpcAntiEntropy* const anti_entropy_;  // null without peers (read repair)
  const std::string region_;
  const std::string default_write_;
  const std::string default_read_;
  Waits* const waits_;
  boost::asio::thread_pool workers_;
};

// The admin calls; status, lag and full sync answer with the node's Reports, which REST
// renders too.
class AdminService final : public v1::AdminService::CallbackService {
 public:
  // REQUIRES: engine, auth and reports outlive the service.
  AdminService(engine::Engine* engine, const config::Config& config, security::Authenticator* auth,
               const Reports* reports);

  using Context = grpc::CallbackServerContext;
  using Reactor = grpc::ServerUnaryReactor;
  Reactor* GetStatus(Context*, const v1::StatusRequest*, v1::StatusReply*) override;
  Reactor* Checkpoint(Context*, const v1::CheckpointRequest*, v1::CheckpointReply*) override;
  Reactor* GetReplicationLag(Context*, const v1::LagRequest*, v1::LagReply*) override;
  Reactor* FullSync(Context*, const v1::FullSyncRequest*, v1::FullSyncReply*) override;
  Reactor* GetConflicts(Context*, const v1::ConflictsRequest*, v1::ConflictsReply*) override;

 private:
  // OK for a caller with the admin role (or when authentication is off).
  Status Allowed(Context* context) const;

  engine::Engine* const engine_;
  const config::Config config_;
  security::Authenticator* const auth_;
  const Reports* const reports_;
};

// The gRPC servers: CRDTService and AdminService on config.listen.grpc (TLS with
// security.tls.clients); ReplicationService and AntiEntropyService on config.listen.peer with
// mutual TLS (a client certificate required and verified), or, without a peer listener, on
// the client listener.
class GrpcServer {
 public:
  // reports: the admin reports, owned by the caller; replication, anti_entropy: the
  // node-to-node services, owned by the caller (null without peers).
  GrpcServer(engine::Engine* engine, Metrics* metrics, const config::Config& config,
             security::Authenticator* auth, Waits* waits, const Reports* reports,
             replication::GrpcReplication* replication = nullptr,
             antientropy::GrpcAntiEntropy* anti_entropy = nullptr);
  ~GrpcServer();
  Status Start();
  int port() const { return port_; }
  int peer_port() const { return peer_port_; }
  // Stops accepting and waits (up to the deadline) for in-flight client calls; calls on the
  // peer listener are cancelled at once.
  void Shutdown(std::chrono::milliseconds deadline);

 private:
  const config::Config config_;
  CrdtService crdt_;
  AdminService admin_;
  replication::GrpcReplication* const replication_;
  antientropy::GrpcAntiEntropy* const anti_entropy_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<grpc::Server> peer_server_;  // null without a peer listener
  int port_ = 0;
  int peer_port_ = 0;
};

}  // namespace geodatastore::server
