#include "server/grpc_service.h"

#include <boost/asio/post.hpp>
#include <limits>
#include <thread>

#include "engine/session.h"
#include "reply/object_reply.h"
#include "security/backup_path.h"
#include "security/tls.h"
#include "server/consistency.h"

namespace geodatastore::server {

using engine::Op;
using Kind = engine::Op::Kind;

namespace {

void ViewToProto(const engine::ObjectView& view, v1::ObjectValue* out) {
  reply::ToProto(reply::Describe(view.key.name, view.state, view.created), out);
}

std::string Metadata(grpc::CallbackServerContext* context, const char* key) {
  auto it = context->client_metadata().find(key);
  return it == context->client_metadata().end() ? ""
                                                : std::string(it->second.data(), it->second.size());
}

Op CreateOp(const v1::CreateRequest& r) {
  Op op{.kind = Kind::kCreate, .initial_value = r.initial_value()};
  if (r.type() != v1::CRDT_TYPE_UNSPECIFIED) op.type = r.type();
  if (r.type() == v1::LWW_SET) op.bias = static_cast<crdt::LwwBias>(r.bias());
  return op;
}

Op SetOp(Kind kind, const v1::SetUpdate& r) {
  return {.kind = kind, .elements = {r.elements().begin(), r.elements().end()}};
}

Op RegisterOp(const v1::RegisterWrite& r) {
  Op op{.kind = Kind::kSet, .value = r.value()};
  if (r.type() != v1::CRDT_TYPE_UNSPECIFIED) op.type = r.type();
  if (r.timestamp() != 0) op.timestamp = r.timestamp();
  return op;
}

// The name and op of one batch operation; kInvalidArgument for an empty one.
StatusOr<std::pair<std::string, Op>> BatchOp(const v1::Operation& o) {
  switch (o.op_case()) {
    case v1::Operation::kCreate:
      return std::pair{o.create().name(), CreateOp(o.create())};
    case v1::Operation::kIncrement:
      return std::pair{o.increment().name(),
                       Op{.kind = Kind::kIncrement, .amount = o.increment().amount()}};
    case v1::Operation::kDecrement:
      return std::pair{o.decrement().name(),
                       Op{.kind = Kind::kDecrement, .amount = o.decrement().amount()}};
    case v1::Operation::kAdd:
      return std::pair{o.add().name(), SetOp(Kind::kAdd, o.add())};
    case v1::Operation::kRemove:
      return std::pair{o.remove().name(), SetOp(Kind::kRemove, o.remove())};
    case v1::Operation::kSetRegister:
      return std::pair{o.set_register().name(), RegisterOp(o.set_register())};
    case v1::Operation::kAddVertex:
      return std::pair{o.add_vertex().name(),
                       Op{.kind = Kind::kAddVertex, .vertex = o.add_vertex().vertex()}};
    case v1::Operation::kRemoveVertex:
      return std::pair{o.remove_vertex().name(),
                       Op{.kind = Kind::kRemoveVertex, .vertex = o.remove_vertex().vertex()}};
    case v1::Operation::kAddEdge:
      return std::pair{
          o.add_edge().name(),
          Op{.kind = Kind::kAddEdge, .from = o.add_edge().from(), .to = o.add_edge().to()}};
    case v1::Operation::kRemoveEdge:
      return std::pair{o.remove_edge().name(), Op{.kind = Kind::kRemoveEdge,
                                                  .from = o.remove_edge().from(),
                                                  .to = o.remove_edge().to()}};
    case v1::Operation::OP_NOT_SET:
      break;
  }
  return InvalidArgument("empty operation");
}

// Answers a unary call with a precomputed status.
grpc::ServerUnaryReactor* Finish(grpc::CallbackServerContext* context, const grpc::Status& status) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(status);
  return reactor;
}

}  // namespace

CrdtService::CrdtService(engine::Engine* engine, Metrics* metrics, const config::Config& config,
                         security::Authenticator* auth, Waits* waits,
                         replication::GrpcReplication* replication,
                         antientropy::GrpcAntiEntropy* anti_entropy)
    : engine_(engine),
      metrics_(metrics),
      auth_(auth),
      timeout_(config.consistency.timeout_ms),
      replication_(replication),
      anti_entropy_(anti_entropy),
      region_(config.node.region),
      default_write_(config.consistency.default_write),
      default_read_(config.consistency.default_read),
      waits_(waits),
      workers_(std::max(16u, 4 * std::thread::hardware_concurrency())) {}

CrdtService::Reactor* CrdtService::Serve(Context* context, security::Action action,
                                         std::function<Status()> fn) {
  return Serve(context, action, [fn = std::move(fn)](const Done& finish) { finish(fn()); });
}

CrdtService::Reactor* CrdtService::Serve(Context* context, security::Action action, Work work) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  auto wrote = std::make_shared<std::atomic<uint64_t>>(0);
  Done finish{[this, context, reactor, wrote](Status status) {
                context->AddInitialMetadata("x-session-token",
                                            engine_->SessionTokenFor(wrote->load()));
                metrics_->OnRefused(status);
                reactor->Finish(ToGrpcStatus(status));
              },
              wrote};
  boost::asio::post(workers_, [this, context, reactor, action, work = std::move(work),
                               finish = std::move(finish)]() mutable {
    // Refused callers learn nothing, not even the session token.
    const Status allowed = auth_->Check(Metadata(context, "authorization"), action, "grpc");
    if (!allowed.ok()) return reactor->Finish(ToGrpcStatus(allowed));
    if (std::string level = Metadata(context, "x-consistency"); !level.empty()) {
      if (auto parsed = engine::ParseConsistency(level); !parsed.ok())
        return finish(parsed.status());
    }
    const std::string token = Metadata(context, "x-session-token");
    if (token.empty()) return work(finish);
    AwaitSessionToken(waits_, engine_, token, timeout_,
                      [this, work = std::move(work), finish](Status served) mutable {
                        if (!served.ok()) return finish(served);
                        boost::asio::post(workers_, [work = std::move(work), finish] {
                          work(finish);
                        });
                      });
  });
  return reactor;
}

CrdtService::Reactor* CrdtService::Write(Context* context, const std::string& name, const Op& op,
                                         v1::ObjectValue* reply) {
  return Serve(context, security::Action::kWrite,
               [this, context, name, op, reply](const Done& finish) {
                 StatusOr<engine::ObjectView> view = engine_->Apply(name, op);
                 if (!view.ok()) return finish(view.status());
                 finish.Wrote(view->seq);
                 ViewToProto(*view, reply);
                 const std::string level = Metadata(context, "x-consistency");
                 auto consistency = engine::ParseConsistency(level.empty() ? default_write_ : level);
                 if (!consistency.ok()) return finish(consistency.status());
                 AwaitConsistency(waits_, replication_, *consistency, view->seq, region_, timeout_,
                                  finish);
               });
}

CrdtService::Reactor* CrdtService::Read(Context* context, v1::Family family,
                                        const std::string& name, v1::ObjectValue* reply) {
  return Serve(context, security::Action::kRead, [this, context, family, name,
                                                  reply](const Done& finish) {
    const auto start = std::chrono::steady_clock::now();
    const std::string level = Metadata(context, "x-consistency");
    auto consistency = engine::ParseConsistency(level.empty() ? default_read_ : level);
    if (!consistency.ok()) return finish(consistency.status());
    const LevelRead how{.engine = engine_,
                        .replication = replication_,
                        .anti_entropy = anti_entropy_,
                        .metrics = metrics_,
                        .waits = waits_,
                        .self_region = region_,
                        .timeout = timeout_};
    ReadAtLevel(how, *consistency, family, name,
                [this, reply, start, finish](StatusOr<engine::ObjectView> view) {
                  if (!view.ok()) return finish(view.status());
                  ViewToProto(*view, reply);
                  metrics_->OnRead(view->type, std::chrono::duration<double>(
                                                   std::chrono::steady_clock::now() - start)
                                                   .count());
                  finish(Status::Ok());
                });
  });
}

CrdtService::Reactor* CrdtService::CreateObject(Context* c, const v1::CreateRequest* r,
                                                v1::ObjectValue* out) {
  if (r->type() == v1::CRDT_TYPE_UNSPECIFIED || !v1::CrdtType_IsValid(r->type())) {
    return Finish(c, grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "type is required"));
  }
  return Write(c, r->name(), CreateOp(*r), out);
}
CrdtService::Reactor* CrdtService::IncrementCounter(Context* c, const v1::CounterUpdate* r,
                                                    v1::ObjectValue* out) {
  return Write(c, r->name(), {.kind = Kind::kIncrement, .amount = r->amount()}, out);
}
CrdtService::Reactor* CrdtService::DecrementCounter(Context* c, const v1::CounterUpdate* r,
                                                    v1::ObjectValue* out) {
  return Write(c, r->name(), {.kind = Kind::kDecrement, .amount = r->amount()}, out);
}
CrdtService::Reactor* CrdtService::GetCounter(Context* c, const v1::GetRequest* r,
                                              v1::ObjectValue* out) {
  return Read(c, v1::COUNTERS, r->name(), out);
}
CrdtService::Reactor* CrdtService::AddToSet(Context* c, const v1::SetUpdate* r,
                                            v1::ObjectValue* out) {
  return Write(c, r->name(), SetOp(Kind::kAdd, *r), out);
}
CrdtService::Reactor* CrdtService::RemoveFromSet(Context* c, const v1::SetUpdate* r,
                                                 v1::ObjectValue* out) {
  return Write(c, r->name(), SetOp(Kind::kRemove, *r), out);
}
CrdtService::Reactor* CrdtService::GetSet(Context* c, const v1::GetRequest* r,
                                          v1::ObjectValue* out) {
  return Read(c, v1::SETS, r->name(), out);
}
CrdtService::Reactor* CrdtService::SetRegister(Context* c, const v1::RegisterWrite* r,
                                               v1::ObjectValue* out) {
  if (r->type() != v1::CRDT_TYPE_UNSPECIFIED && r->type() != v1::LWW_REGISTER &&
      r->type() != v1::MV_REGISTER) {
    return Finish(c, grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                  "a register is an lww_register or an mv_register"));
  }
  return Write(c, r->name(), RegisterOp(*r), out);
}
CrdtService::Reactor* CrdtService::GetRegister(Context* c, const v1::GetRequest* r,
                                               v1::ObjectValue* out) {
  return Read(c, v1::REGISTERS, r->name(), out);
}
CrdtService::Reactor* CrdtService::AddVertex(Context* c, const v1::VertexRequest* r,
                                             v1::ObjectValue* out) {
  return Write(c, r->name(), {.kind = Kind::kAddVertex, .vertex = r->vertex()}, out);
}
CrdtService::Reactor* CrdtService::RemoveVertex(Context* c, const v1::VertexRequest* r,
                                                v1::ObjectValue* out) {
  return Write(c, r->name(), {.kind = Kind::kRemoveVertex, .vertex = r->vertex()}, out);
}
CrdtService::Reactor* CrdtService::AddEdge(Context* c, const v1::EdgeRequest* r,
                                           v1::ObjectValue* out) {
  return Write(c, r->name(), {.kind = Kind::kAddEdge, .from = r->from(), .to = r->to()}, out);
}
CrdtService::Reactor* CrdtService::RemoveEdge(Context* c, const v1::EdgeRequest* r,
                                              v1::ObjectValue* out) {
  return Write(c, r->name(), {.kind = Kind::kRemoveEdge, .from = r->from(), .to = r->to()}, out);
}
CrdtService::Reactor* CrdtService::GetGraph(Context* c, const v1::GetRequest* r,
                                            v1::ObjectValue* out) {
  return Read(c, v1::GRAPHS, r->name(), out);
}

CrdtService::Reactor* CrdtService::GetNeighbors(Context* c, const v1::VertexRequest* r,
                                                v1::NeighborsReply* out) {
  return Serve(c, security::Action::kRead, [this, r, out]() -> Status {
    GDS_ASSIGN_OR_RETURN(engine::ObjectView view, engine_->Read(v1::GRAPHS, r->name()));
    const auto& g = std::get<crdt::LWWGraph>(view.state);
    if (!g.HasVertex(r->vertex())) return NotFound("vertex '" + r->vertex() + "' not found");
    for (const std::string& n : g.Neighbors(r->vertex())) out->add_neighbors(n);
    return Status::Ok();
  });
}

CrdtService::Reactor* CrdtService::GetPaths(Context* c, const v1::PathsRequest* r,
                                            v1::PathsReply* out) {
  return Serve(c, security::Action::kRead, [this, r, out]() -> Status {
    GDS_ASSIGN_OR_RETURN(engine::ObjectView view, engine_->Read(v1::GRAPHS, r->name()));
    const auto& g = std::get<crdt::LWWGraph>(view.state);
    const size_t limit = r->max_paths() == 0 ? std::numeric_limits<size_t>::max() : r->max_paths();
    GDS_ASSIGN_OR_RETURN(auto paths, g.Paths(r->from(), r->to(), engine_->limits().paths, limit));
    for (const auto& path : paths) {
      v1::Path* p = out->add_paths();
      for (const std::string& v : path) p->add_vertices(v);
    }
    return Status::Ok();
  });
}

CrdtService::Reactor* CrdtService::ListKeys(Context* c, const v1::ListKeysRequest* r,
                                            v1::ListKeysReply* out) {
  return Serve(c, security::Action::kRead, [this, r, out]() -> Status {
    std::optional<v1::CrdtType> type;
    if (r->type() != v1::CRDT_TYPE_UNSPECIFIED) type = r->type();
    GDS_ASSIGN_OR_RETURN(auto keys,
                         engine_->ListKeys(type, r->prefix(), r->limit() == 0 ? 1000 : r->limit()));
    for (const auto& [key, t] : keys) {
      v1::KeyEntry* e = out->add_keys();
      e->set_name(key.name);
      e->set_type(t);
    }
    return Status::Ok();
  });
}

uint64_t CrdtService::RunBatch(const v1::BatchRequest& request, v1::BatchReply* reply) {
  std::vector<std::pair<std::string, Op>> ops;
  std::vector<int> index;  // position in ops of each operation, -1 for an invalid one
  std::vector<Status> invalid(request.operations_size());
  for (int i = 0; i < request.operations_size(); ++i) {
    auto op = BatchOp(request.operations(i));
    if (op.ok()) {
      index.push_back(static_cast<int>(ops.size()));
      ops.push_back(std::move(op).value());
    } else {
      index.push_back(-1);
      invalid[i] = op.status();
    }
  }
  std::vector<StatusOr<engine::ObjectView>> results = engine_->ApplyBatch(ops);
  uint64_t wrote = 0;
  for (const StatusOr<engine::ObjectView>& r : results) {
    if (r.ok()) wrote = std::max(wrote, r->seq);
  }
  for (int i = 0; i < request.operations_size(); ++i) {
    v1::OperationResult* r = reply->add_results();
    const Status status = index[i] < 0 ? invalid[i] : results[index[i]].status();
    const grpc::Status g = ToGrpcStatus(status);
    r->set_code(static_cast<uint32_t>(g.error_code()));
    if (!status.ok()) {
      r->set_error(status.message());
    } else if (request.return_values()) {
      ViewToProto(*results[index[i]], r->mutable_value());
    }
  }
  return wrote;
}

CrdtService::Reactor* CrdtService::ApplyBatch(Context* c, const v1::BatchRequest* r,
                                              v1::BatchReply* out) {
  return Serve(c, security::Action::kWrite, [this, r, out](const Done& finish) {
    finish.Wrote(RunBatch(*r, out));
    finish(Status::Ok());
  });
}

namespace {

// One StreamBatches call: read a batch, apply it, write its reply, repeat.
class BatchStream final : public grpc::ServerBidiReactor<v1::BatchRequest, v1::BatchReply> {
 public:
  // refused: the caller's credentials do not allow writes (the stream ends with it).
  BatchStream(CrdtService* service, grpc::Status refused) : service_(service) {
    if (refused.ok()) {
      StartRead(&request_);
    } else {
      Finish(refused);
    }
  }

  void OnReadDone(bool ok) override {
    if (!ok) return Finish(grpc::Status::OK);
    reply_.Clear();
    service_->RunBatch(request_, &reply_);
    StartWrite(&reply_);
  }
  void OnWriteDone(bool ok) override {
    if (!ok) return Finish(grpc::Status(grpc::StatusCode::CANCELLED, "stream closed"));
    StartRead(&request_);
  }
  void OnDone() override { delete this; }

 private:
  CrdtService* const service_;
  v1::BatchRequest request_;
  v1::BatchReply reply_;
};

}  // namespace

grpc::ServerBidiReactor<v1::BatchRequest, v1::BatchReply>* CrdtService::StreamBatches(Context* c) {
  return new BatchStream(this, ToGrpcStatus(auth_->Check(Metadata(c, "authorization"),
                                                         security::Action::kWrite, "grpc")));
}

CrdtService::Reactor* CrdtService::Echo(Context* c, const v1::EchoRequest* r, v1::EchoReply* out) {
  const Status allowed =
      auth_->Check(Metadata(c, "authorization"), security::Action::kRead, "grpc");
  if (allowed.ok()) out->set_payload(r->payload());
  return Finish(c, ToGrpcStatus(allowed));
}

AdminService::AdminService(engine::Engine* engine, const config::Config& config,
                           security::Authenticator* auth, const Reports* reports)
    : engine_(engine), config_(config), auth_(auth), reports_(reports) {}

Status AdminService::Allowed(Context* c) const {
  return auth_->Check(Metadata(c, "authorization"), security::Action::kAdmin, "grpc");
}

AdminService::Reactor* AdminService::GetStatus(Context* c, const v1::StatusRequest*,
                                               v1::StatusReply* out) {
  if (Status allowed = Allowed(c); !allowed.ok()) return Finish(c, ToGrpcStatus(allowed));
  *out = reports_->NodeStatus();
  return Finish(c, grpc::Status::OK);
}

AdminService::Reactor* AdminService::Checkpoint(Context* c, const v1::CheckpointRequest* r,
                                                v1::CheckpointReply* out) {
  if (Status allowed = Allowed(c); !allowed.ok()) return Finish(c, ToGrpcStatus(allowed));
  auto dir = security::BackupPath(config_.security.backup_dir, r->dir());
  if (!dir.ok()) return Finish(c, ToGrpcStatus(dir.status()));
  const Status made = engine_->store()->Checkpoint(*dir);
  if (made.ok()) out->set_dir(*dir);
  return Finish(
      c, ToGrpcStatus(made.ok() ? made : Status(StatusCode::kFailedPrecondition, made.message())));
}

AdminService::Reactor* AdminService::GetReplicationLag(Context* c, const v1::LagRequest*,
                                                       v1::LagReply* out) {
  if (Status allowed = Allowed(c); !allowed.ok()) return Finish(c, ToGrpcStatus(allowed));
  *out = reports_->ReplicationLag();
  return Finish(c, grpc::Status::OK);
}

AdminService::Reactor* AdminService::FullSync(Context* c, const v1::FullSyncRequest* r,
                                              v1::FullSyncReply* out) {
  if (Status allowed = Allowed(c); !allowed.ok()) return Finish(c, ToGrpcStatus(allowed));
  // Sessions take a while: off the callback thread.
  auto* reactor = c->DefaultReactor();
  std::thread([this, reactor, region = r->region(), out] {
    StatusOr<v1::FullSyncReply> done = reports_->FullSync(region);
    if (done.ok()) *out = std::move(done).value();
    reactor->Finish(ToGrpcStatus(done.status()));
  }).detach();
  return reactor;
}

AdminService::Reactor* AdminService::GetConflicts(Context* c, const v1::ConflictsRequest* r,
                                                  v1::ConflictsReply* out) {
  if (Status allowed = Allowed(c); !allowed.ok()) return Finish(c, ToGrpcStatus(allowed));
  auto records = engine_->store()->RecentConflicts(r->limit() == 0 ? 100 : r->limit());
  if (!records.ok()) return Finish(c, ToGrpcStatus(records.status()));
  for (v1::ConflictRecord& record : *records) *out->add_conflicts() = std::move(record);
  return Finish(c, grpc::Status::OK);
}

GrpcServer::GrpcServer(engine::Engine* engine, Metrics* metrics, const config::Config& config,
                       security::Authenticator* auth, Waits* waits, const Reports* reports,
                       replication::GrpcReplication* replication,
                       antientropy::GrpcAntiEntropy* anti_entropy)
    : config_(config),
      crdt_(engine, metrics, config, auth, waits, replication, anti_entropy),
      admin_(engine, config, auth, reports),
      replication_(replication),
      anti_entropy_(anti_entropy) {}

GrpcServer::~GrpcServer() {
  const auto now = std::chrono::system_clock::now();
  if (server_) server_->Shutdown(now);
  if (peer_server_) peer_server_->Shutdown(now);
}

security::TlsFiles TlsFilesOf(const config::Config& config) {
  return {config.security.tls.ca_file, config.security.tls.cert_file, config.security.tls.key_file};
}

namespace {

// Calls at once on one connection (HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS; a client past it
// waits for a slot).
constexpr int kMaxStreamsPerConnection = 1000;

// What bounds a gRPC listener (docs/security.md, "Limits against denial of service"): a
// connection without a call for limits.idle_timeout_s is closed (an open StreamDeltas stream
// is a call: a peer's connection never idles while it streams, and the replication adapter
// closes silent streams itself), and a connection carries at most kMaxStreamsPerConnection
// calls. gRPC 1.51 cannot cap the number of connections; every service is on the callback
// API, so an open call costs memory, not a thread.
void ApplyLimits(const config::Config& config, uint64_t max_receive_bytes,
                 grpc::ServerBuilder* builder) {
  builder->SetMaxReceiveMessageSize(static_cast<int>(max_receive_bytes));
  if (config.limits.idle_timeout_s > 0) {
    builder->AddChannelArgument(
        GRPC_ARG_MAX_CONNECTION_IDLE_MS,
        static_cast<int>(std::min<uint64_t>(uint64_t{config.limits.idle_timeout_s} * 1000,
                                            std::numeric_limits<int>::max())));
  }
  builder->AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS, kMaxStreamsPerConnection);
}

}  // namespace

Status GrpcServer::Start() {
  const bool peer_listener = !config_.listen.peer.empty();
  grpc::ServerBuilder builder;
  builder.AddListeningPort(config_.listen.grpc,
                           config_.security.tls.clients
                               ? security::ClientServerCredentials(TlsFilesOf(config_))
                               : grpc::InsecureServerCredentials(),
                           &port_);
  builder.RegisterService(&crdt_);
  builder.RegisterService(&admin_);
  if (!peer_listener && replication_ != nullptr) builder.RegisterService(replication_);
  if (!peer_listener && anti_entropy_ != nullptr) builder.RegisterService(anti_entropy_);
  ApplyLimits(config_, std::max<uint64_t>(config_.limits.max_request_bytes, 16 << 20), &builder);
  server_ = builder.BuildAndStart();
  if (!server_ || port_ == 0) {
    return Status(StatusCode::kUnavailable, "cannot listen for gRPC on " + config_.listen.grpc);
  }
  if (!peer_listener || (replication_ == nullptr && anti_entropy_ == nullptr)) {
    return Status::Ok();
  }
  grpc::ServerBuilder peer;
  peer.AddListeningPort(config_.listen.peer,
                        config_.security.tls_enabled()
                            ? security::PeerServerCredentials(TlsFilesOf(config_))
                            : grpc::InsecureServerCredentials(),
                        &peer_port_);
  if (replication_ != nullptr) peer.RegisterService(replication_);
  if (anti_entropy_ != nullptr) peer.RegisterService(anti_entropy_);
  ApplyLimits(config_, 64 << 20, &peer);
  peer_server_ = peer.BuildAndStart();
  if (!peer_server_ || peer_port_ == 0) {
    return Status(StatusCode::kUnavailable,
                  "cannot listen for node-to-node gRPC on " + config_.listen.peer);
  }
  return Status::Ok();
}

void GrpcServer::Shutdown(std::chrono::milliseconds deadline) {
  const auto now = std::chrono::system_clock::now();
  // Node-to-node calls are not waited for: peers retry what is cut short. gRPC's shutdown
  // also waits for every connection to close, which a client holding calls open (or just
  // not closing after GOAWAY) would delay up to the deadline.
  if (peer_server_) peer_server_->Shutdown(now);
  if (server_) server_->Shutdown(now + deadline);
}

}  // namespace geodatastore::server
