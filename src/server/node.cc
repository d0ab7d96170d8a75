#include "server/node.h"

#include <spdlog/spdlog.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/signal_set.hpp>
#include <algorithm>
#include <chrono>
#include <filesystem>

#include "replication/clock_fence.h"
#include "replication/message_checksum.h"

namespace geodatastore::server {

Node::Node(config::Config config) : config_(std::move(config)) {}

Node::~Node() {
  grpc_.reset();  // the server first: it waits for the calls of the services it hosts
  {
    std::lock_guard<std::mutex> lock(collector_mu_);
    stopping_ = true;
  }
  collector_cv_.notify_all();
  if (housekeeping_.joinable()) housekeeping_.join();
  io_.stop();
  for (std::thread& t : threads_) {
    if (t.joinable()) t.join();
  }
}

namespace {

int64_t ModifiedTime(const std::string& path) {
  std::error_code ec;
  const auto t = std::filesystem::last_write_time(path, ec);
  return ec ? 0 : static_cast<int64_t>(t.time_since_epoch().count());
}

}  // namespace

std::set<std::string> Node::ClusterNodes() const {
  std::set<std::string> nodes{config_.node.id};
  for (const config::Peer& p : config_.cluster.peers) nodes.insert(p.id);
  return nodes;
}

Status Node::CheckCertificateNamesNode(const security::CertificateInfo& cert) const {
  // Peers take a call's node from the certificate's SANs (security::AuthenticatedNode): it
  // must name this node, and no other node of the cluster.
  const std::set<std::string> nodes = ClusterNodes();
  std::string names;
  bool self = false, other = false;
  for (const std::string& dns : cert.dns_names) {
    names += (names.empty() ? "" : ", ") + dns;
    self = self || dns == config_.node.id;
    other = other || (dns != config_.node.id && nodes.count(dns) > 0);
  }
  if (self && !other) return Status::Ok();
  if (names.empty()) names = "none";
  return InvalidArgument("security.tls.cert_file: its DNS subject alternative names (" + names +
                         ") must name this node's id '" + config_.node.id + "' and no other node");
}

Status Node::StartSecurity() {
  GDS_ASSIGN_OR_RETURN(auth_, security::Authenticator::Load(config_.security.users_file));
  auth_->set_failure_hook([this](std::string_view frontend, std::string_view reason) {
    if (metrics_) metrics_->OnAuthFailure(frontend, reason);
  });
  if (!config_.security.tls_enabled()) return Status::Ok();
  const security::TlsFiles files = TlsFilesOf(config_);
  GDS_RETURN_IF_ERROR(security::CheckTlsFiles(files));
  GDS_ASSIGN_OR_RETURN(security::CertificateInfo cert,
                       security::InspectCertificate(files.cert_file));
  GDS_RETURN_IF_ERROR(CheckCertificateNamesNode(cert));
  cert_mtime_ = ModifiedTime(files.cert_file);
  cert_not_after_ = cert.not_after_unix;
  if (config_.security.tls.clients) {
    GDS_ASSIGN_OR_RETURN(client_tls_, security::ReloadableSslContext::Create(files));
  }
  return Status::Ok();
}

void Node::ReloadSecurity() {
  if (Status s = auth_->Reload(); !s.ok()) spdlog::error("reloading users: {}", s.ToString());
  if (!config_.security.tls_enabled()) return;
  cert_mtime_ = ModifiedTime(config_.security.tls.cert_file);
  // gRPC's credentials watch the files themselves; the REST and RESP contexts are rebuilt.
  if (client_tls_) {
    if (Status s = client_tls_->Reload(); !s.ok()) {
      spdlog::error("reloading TLS certificates (keeping the old ones): {}", s.ToString());
    }
  }
  auto cert = security::InspectCertificate(config_.security.tls.cert_file);
  if (cert.ok() && metrics_) metrics_->SetCertificateExpiry(cert->not_after_unix);
  spdlog::info("reloaded users and certificates");
}

PeerLinks Node::Links() const {
  PeerLinks links;
  for (const config::Peer& p : config_.cluster.peers) links.peers.insert(p.id);
  links.on_refused = [this](const char* reason) {
    if (metrics_) metrics_->OnRejected(reason);
  };
  if (config_.security.tls_enabled()) {
    links.credentials = security::ChannelCredentials(TlsFilesOf(config_));
    links.authenticated_node = [nodes = ClusterNodes()](const grpc::ServerContextBase& context) {
      auto auth = context.auth_context();
      return auth ? security::AuthenticatedNode(*auth, nodes) : std::string();
    };
  }
  return links;
}

Status Node::Start() {
  GDS_RETURN_IF_ERROR(StartSecurity());
  std::error_code ec;
  std::filesystem::create_directories(config_.node.data_dir, ec);
  if (ec)
    return InvalidArgument("cannot create data_dir " + config_.node.data_dir + ": " + ec.message());
  GDS_ASSIGN_OR_RETURN(store_,
                       storage::Store::Open({config_.node.data_dir, config_.storage.sync_writes}));
  GDS_ASSIGN_OR_RETURN(storage::NodeIdentity identity,
                       storage::LoadIdentity(*store_, config_.node.id));
  if (!identity.new_epoch_reason.empty()) {
    spdlog::warn("took the new replica epoch {}: {}; the writes it lost are repaired from peers",
                 identity.epoch, identity.new_epoch_reason);
  }
  engine::EngineOptions options;
  options.limits.max_key_bytes = config_.limits.max_key_bytes;
  options.limits.max_element_bytes = config_.limits.max_element_bytes;
  options.limits.max_collection_elements = config_.limits.max_collection_elements;
  options.limits.paths = {config_.limits.max_paths, config_.limits.max_path_steps};
  options.max_clock_offset_ms = config_.clock.max_offset_ms;
  engine_ = std::make_unique<engine::Engine>(store_.get(), identity, &clock_, options);
  GDS_RETURN_IF_ERROR(engine_->Start());
  // A node with peers stamps no LWW write before its clock was compared with theirs: a
  // node started with its clock far ahead would otherwise acknowledge writes its peers
  // refuse until real time catches up (docs/durability.md).
  if (!config_.cluster.peers.empty()) {
    engine_->SetClockFence(std::string(replication::kUnverifiedClock));
  }
  const PeerLinks links = Links();  // one set of peer credentials for both adapters
  if (!config_.cluster.peers.empty()) {
    replication_host_ = std::make_unique<engine::EngineReplicationHost>(
        engine_.get(), [this](const std::vector<engine::Conflict>& conflicts,
                              const std::string& from, const std::string& origin_region) {
          RecordConflicts(conflicts, from, origin_region);
        });
    std::vector<replication::PeerInfo> peers;
    std::vector<replication::PeerEndpoint> endpoints;
    for (const config::Peer& p : config_.cluster.peers) {
      peers.push_back({p.id, p.region});
      endpoints.push_back({p.id, p.grpc, p.region});
    }
    replication::ReplicatorOptions options;
    options.flush_interval_ms = config_.replication.flush_interval_ms;
    options.max_batch_bytes = config_.replication.max_batch_bytes;
    options.join_deltas = config_.replication.delta_groups;
    options.seed = static_cast<uint32_t>(identity.replica);
    options.topology = config_.replication.topology == "gateway" ? replication::Topology::kGateway
                                                                 : replication::Topology::kMesh;
    replicator_ = std::make_unique<replication::Replicator>(
        replication::PeerInfo{config_.node.id, config_.node.region}, peers, replication_host_.get(),
        options);
    GDS_RETURN_IF_ERROR(replicator_->Start(1));
    replication_ = std::make_unique<replication::GrpcReplication>(
        endpoints, replicator_.get(), config_.replication.flush_interval_ms,
        config_.replication.compression == "gzip");
    replication_->set_links(links);
    replication_->set_idle_timeout(std::chrono::seconds(config_.limits.idle_timeout_s));
    replication_->set_state_reader(
        [this](const v1::FetchStateRequest& request, v1::FetchStateReply* reply) -> Status {
          auto view = engine_->Read(request.family(), request.name());
          if (view.ok()) {
            reply->set_found(true);
            reply->set_type(view->type);
            reply->set_state(crdt::EncodeAny(view->state));
            crdt::EncodeVersionVector(engine_->Knowledge(), reply->mutable_knowledge());
          } else if (view.status().code() != StatusCode::kNotFound) {
            return view.status();
          }
          replication::Seal(reply);
          return Status::Ok();
        });
  }
  if (replication_) {
    sync_host_ = std::make_unique<engine::EngineSyncHost>(
        engine_.get(), [this](const std::vector<engine::Conflict>& conflicts) {
          RecordConflicts(conflicts, "anti-entropy", "");
        });
    std::vector<antientropy::SyncPeer> sync_peers;
    for (const config::Peer& p : config_.cluster.peers)
      sync_peers.push_back({p.id, p.region, p.grpc});
    antientropy::SyncOptions sync;
    sync.interval_ms = uint64_t{config_.anti_entropy.interval_s} * 1000;
    sync.max_objects_per_second = config_.anti_entropy.max_objects_per_second;
    sync.seed = static_cast<uint32_t>(identity.replica >> 32);
    anti_entropy_ = std::make_unique<antientropy::GrpcAntiEntropy>(
        config_.node.id, config_.node.region, std::move(sync_peers), sync_host_.get(), sync,
        [this] {
          std::vector<antientropy::PeerStatus> out;
          for (const replication::PeerView& v : replication_->Peers()) {
            out.push_back({v.id, v.region, v.state == replication::PeerState::kUp,
                           v.state == replication::PeerState::kDown});
          }
          return out;
        },
        [this](const antientropy::SyncResult& r) {
          if (metrics_) metrics_->OnSync(r);
          if (r.result != "ok") {
            spdlog::warn("anti-entropy with {}: {} ({})", r.peer, r.result, r.error);
          } else if (r.stats.repaired_here + r.stats.repaired_there > 0) {
            spdlog::info("anti-entropy with {}: {} objects repaired here, {} there, {:.3f} s",
                         r.peer, r.stats.repaired_here, r.stats.repaired_there, r.seconds);
          }
        });
  }
  if (anti_entropy_) {
    anti_entropy_->set_links(links);
    anti_entropy_->set_blocked(
        [this](const std::string& peer) { return replication_->partition().count(peer) > 0; });
    anti_entropy_->set_resync([this] { return replication_->NeedsResync(); },
                              [this](const std::string& peer) -> std::function<void(bool)> {
                                auto floors = replication_->ResyncFloors();
                                return [this, peer, floors](bool ok) {
                                  if (ok) replication_->Resynced(peer, floors);
                                };
                              });
  }
  metrics_ = std::make_unique<Metrics>(config_.node.region, store_.get(), replication_.get());
  engine_->set_observer(metrics_.get());
  if (config_.security.tls_enabled()) metrics_->SetCertificateExpiry(cert_not_after_);
  waits_ = std::make_unique<Waits>(config_.limits.max_waiting_requests);
  metrics_->set_waiting([this] { return waits_->parked(); });
  // Before any listener serves: the status report reads it.
  if (config_.anti_entropy.tombstone_interval_s > 0) {
    collector_ = std::make_unique<engine::TombstoneCollector>(
        engine_.get(),
        engine::TombstoneOptions{.interval_ms =
                                     uint64_t{config_.anti_entropy.tombstone_interval_s} * 1000});
  }
  reports_ =
      std::make_unique<Reports>(engine_.get(), config_, replication_.get(), anti_entropy_.get());
  reports_->set_tombstones([this] { return TombstoneReport(); });
  rest_ = std::make_unique<RestApi>(engine_.get(), metrics_.get(), config_, auth_.get(),
                                    waits_.get(), reports_.get(), replication_.get());
  rest_->set_anti_entropy(anti_entropy_.get());

  std::string host;
  uint16_t port = 0;
  config::SplitHostPort(config_.listen.http, &host, &port);
  HttpServer::Options http_options{
      .max_body_bytes = config_.limits.max_request_bytes,
      .max_connections = static_cast<int>(config_.limits.max_connections),
      .tls = client_tls_.get(),
      .on_handshake_failure = [this] { metrics_->OnHandshakeFailure("http"); }};
  http_ = std::make_unique<HttpServer>(
      io_, std::move(http_options),
      [this](const HttpRequest& req, HttpResponse& res, std::function<void()> done) {
        rest_->Handle(req, res, std::move(done));
      });
  GDS_RETURN_IF_ERROR(http_->Start(host, port));
  resp_handler_ = std::make_unique<RespHandler>(engine_.get(), config_, auth_.get());
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  RespServer::Options resp_options{
      .max_request_bytes = config_.limits.max_request_bytes,
      .threads = config_.storage.sync_writes ? 4 * cores : cores,
      .max_connections = static_cast<int>(config_.limits.max_connections),
      .idle_timeout = std::chrono::seconds(config_.limits.idle_timeout_s),
      .tls = client_tls_.get(),
      .on_handshake_failure = [this] { metrics_->OnHandshakeFailure("resp"); }};
  resp_ = std::make_unique<RespServer>(resp_handler_.get(), std::move(resp_options));
  config::SplitHostPort(config_.listen.resp, &host, &port);
  GDS_RETURN_IF_ERROR(resp_->Start(host, port));
  grpc_ = std::make_unique<GrpcServer>(engine_.get(), metrics_.get(), config_, auth_.get(),
                                       waits_.get(), reports_.get(), replication_.get(),
                                       anti_entropy_.get());
  GDS_RETURN_IF_ERROR(grpc_->Start());
  if (replication_) replication_->Start();
  if (anti_entropy_) anti_entropy_->Start();
  housekeeping_ = std::thread([this] { Housekeeping(); });
  spdlog::info(
      "node {} (region {}, replica epoch {}) serving REST on port {}, gRPC on port {}, "
      "RESP on port {}, node-to-node on port {}; clients {}, peers {}, users {}",
      identity.node_id, config_.node.region, identity.epoch, http_->port(), grpc_->port(),
      resp_->port(), grpc_->peer_port(), config_.security.tls.clients ? "TLS" : "plaintext",
      config_.security.tls_enabled() ? "mutual TLS" : "plaintext",
      auth_->enabled() ? "required" : "off");
  return Status::Ok();
}

v1::TombstoneStatus Node::TombstoneReport() {
  static constexpr const char* kPhases[] = {"idle", "waiting until every replica saw the removals",
                                            "waiting until no older write is on its way"};
  v1::TombstoneStatus out;
  std::lock_guard<std::mutex> lock(collector_mu_);
  if (!collector_) {
    out.set_collection("off");
    return out;
  }
  out.set_collection(kPhases[collector_->phase()]);
  out.set_rounds(collector_->rounds());
  out.set_collected(collector_->collected());
  return out;
}

void Node::CheckClock(std::chrono::steady_clock::duration running) {
  const replication::ClockCheck check =
      replication::CheckClock(replication_->Peers(), config_.clock.max_offset_ms);
  const std::string current = engine_->clock_fence();
  const std::string next = replication::NextFence(
      check, current, std::chrono::duration_cast<std::chrono::milliseconds>(running).count());
  if (next != current) {
    if (next.empty() && !check.measured) {
      spdlog::warn("no peer's clock known after {} ms: taking LWW writes on this node's clock",
                   replication::kUnverifiedClockGraceMs);
    } else if (next.empty()) {
      spdlog::info("clock within the offset of its peers': LWW writes accepted");
    } else if (current.empty() || current == replication::kUnverifiedClock) {
      spdlog::error("fenced: {}; LWW writes are refused until it is fixed", next);
    }
    engine_->SetClockFence(next);
  }
  if (metrics_) metrics_->SetClock(check.offset_ms, !next.empty());
}

void Node::Housekeeping() {
  const auto started = std::chrono::steady_clock::now();
  uint64_t truncated = 0;
  std::unique_lock<std::mutex> lock(collector_mu_);
  for (uint64_t tick = 0;
       !collector_cv_.wait_for(lock, std::chrono::milliseconds(200), [this] { return stopping_; });
       ++tick) {
    // Nobody to ship the delta log to: keep it short, once a second (peers added later are
    // repaired by anti-entropy, as after any truncation).
    if (Status s = engine_->SaveHighWater(); !s.ok()) {
      spdlog::error("saving the high-water marks: {}", s.ToString());
    }
    if (replication_) CheckClock(std::chrono::steady_clock::now() - started);
    const uint64_t committed = engine_->CommittedSeq();
    if (!replication_ && tick % 5 == 0 && committed > truncated) {
      Status s = store_->TruncateLog(engine_->identity().replica, committed);
      if (s.ok()) truncated = committed;
      if (!s.ok()) spdlog::warn("truncating the delta log: {}", s.ToString());
    }
    // Large objects' deferred Merkle digests (anti-entropy brings them up to date before it
    // compares; this bounds what a restart recomputes): once a minute.
    if (tick % 300 == 299) {
      auto flushed = engine_->FlushDigests();
      if (!flushed.ok()) spdlog::warn("deferred digests: {}", flushed.status().ToString());
    }
    // A renewed certificate is picked up without a restart (gRPC watches its files itself).
    if (tick % 10 == 0 && config_.security.tls_enabled() &&
        ModifiedTime(config_.security.tls.cert_file) != cert_mtime_) {
      ReloadSecurity();
    }
    if (!collector_) continue;
    std::map<std::string, v1::Progress> progress;
    size_t nodes = 1;
    if (replication_) {
      progress = replication_->Progress();
      nodes = replication_->ClusterSize();
    } else {
      progress[config_.node.id] = engine_->ProgressReport();  // alone: no one else to wait for
    }
    const uint64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                std::chrono::steady_clock::now() - started)
                                .count();
    auto collected = collector_->Step(progress, nodes, now_ms);
    if (!collected.ok()) {
      spdlog::warn("tombstone collection: {}", collected.status().ToString());
    } else if (*collected > 0) {
      spdlog::info("collected {} tombstones", *collected);
      metrics_->OnTombstonesCollected(*collected);
    }
  }
}

void Node::RecordConflicts(const std::vector<engine::Conflict>& conflicts, const std::string& from,
                           const std::string& origin_region) {
  std::vector<v1::ConflictRecord> records;
  const uint64_t now = clock_.NowMillis();
  std::string from_region = origin_region;
  for (const config::Peer& p : config_.cluster.peers) {
    if (from_region.empty() && p.id == from) from_region = p.region;
  }
  for (const engine::Conflict& c : conflicts) {
    if (metrics_) metrics_->OnConflict(c.type, c.kind);
    v1::ConflictRecord r;
    r.set_family(c.key.family);
    r.set_name(c.key.name);
    r.set_type(c.type);
    r.set_kind(c.kind);
    r.set_winner(c.winner);
    for (const std::string& l : c.losers) r.add_losers(l);
    r.set_origin(c.origin);
    r.set_time_ms(now);
    r.add_regions(config_.node.region);
    if (!from_region.empty() && from_region != config_.node.region) r.add_regions(from_region);
    r.set_from_node(from);
    records.push_back(std::move(r));
  }
  spdlog::debug("resolved {} conflict(s), first: {} on '{}'", conflicts.size(), conflicts[0].kind,
                conflicts[0].key.name);
  if (Status s = store_->AppendConflicts(records); !s.ok())
    spdlog::warn("conflict log: {}", s.ToString());
}

Status Node::WritePortsFile(const std::string& path) const {
  const std::string tmp = path + ".tmp";
  FILE* f = fopen(tmp.c_str(), "w");
  if (f == nullptr) return InvalidArgument("cannot write " + tmp);
  fprintf(f, "{\"http\": %u, \"grpc\": %d, \"resp\": %u, \"peer\": %d}\n",
          static_cast<unsigned>(http_port()), grpc_port(), static_cast<unsigned>(resp_port()),
          peer_port());
  fclose(f);
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) return InvalidArgument("cannot rename " + tmp + ": " + ec.message());
  return Status::Ok();
}

void Node::Run() {
  boost::asio::signal_set signals(io_, SIGTERM, SIGINT, SIGHUP);
  std::function<void(const boost::system::error_code&, int)> on_signal =
      [this, &signals, &on_signal](const boost::system::error_code& ec, int signal) {
        if (ec) return;
        if (signal == SIGHUP) {
          ReloadSecurity();
          return signals.async_wait(on_signal);
        }
        spdlog::info("signal {}: stopping", signal);
        Shutdown();
      };
  signals.async_wait(on_signal);
  auto work = boost::asio::make_work_guard(io_);
  // Ready before the first request is handled (a request queued since Start must not see
  // "not ready" because it won the race against this line).
  rest_->set_ready(true);
  // Handlers block on storage (an fsync per batch with sync_writes), so more threads than
  // cores keep enough writers in flight for RocksDB to group their commits.
  const unsigned n = std::max(16u, 4 * std::thread::hardware_concurrency());
  for (unsigned i = 0; i + 1 < n; ++i) threads_.emplace_back([this] { io_.run(); });
  io_.run();
  for (std::thread& t : threads_) t.join();
  threads_.clear();
  if (housekeeping_.joinable()) housekeeping_.join();
  waits_->Stop();
  grpc_.reset();
  replication_.reset();
  replicator_.reset();
  replication_host_.reset();
  engine_.reset();
  if (Status flushed = store_->Flush(); !flushed.ok())
    spdlog::error("flush: {}", flushed.ToString());
  store_.reset();
  spdlog::info("stopped");
}

void Node::Shutdown() {
  rest_->set_ready(false);
  http_->Stop();
  resp_->Stop();
  // Let requests already read finish; connections idle in keep-alive are closed with io_.
  {
    std::lock_guard<std::mutex> lock(collector_mu_);
    stopping_ = true;
  }
  collector_cv_.notify_all();
  std::thread([this] {
    waits_->Stop();  // what waits is answered now, before the servers stop
    if (anti_entropy_) anti_entropy_->Stop();
    if (replication_) replication_->Stop();
    grpc_->Shutdown(std::chrono::seconds(10));
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (http_->in_flight() > 0 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    io_.stop();
  }).detach();
}

}  // namespace geodatastore::server
