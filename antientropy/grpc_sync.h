// GrpcAntiEntropy: the gRPC adapter around anti-entropy sessions. It serves
// AntiEntropyService.Sync from the local node, runs sessions with peers (one unary call per
// step), paced to a rate limit in objects per second, and a scheduler thread that starts
// them as the Scheduler says.
//
// Sync is served on gRPC's callback API: a request is checked on the callback thread and
// answered from a small pool of its own (reading and joining states may take a while, and
// gRPC's callback threads are few and shared by every callback service of the process).
//
// Thread safety: every public method may be called from any thread; sessions may run
// concurrently (their joins are atomic per batch).
#pragma once

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "antientropy/scheduler.h"
#include "antientropy/session.h"
#include "common/peer_links.h"
#include "common/work_pool.h"
#include "crdt/causal_context.h"
#include "geodatastore/v1/antientropy.grpc.pb.h"
#include "geodatastore/v1/api.pb.h"

namespace geodatastore::antientropy {

struct SyncPeer {
  std::string id;
  std::string region;
  std::string address;  // host:port of its gRPC listener
};

struct SyncResult {
  std::string peer;
  std::string region;
  std::string result;  // ok | not_ready | unreachable | error
  std::string error;   // with result != ok
  SessionStats stats;
  double seconds = 0;
};

struct SyncOptions {
  uint64_t interval_ms = 30000;
  uint64_t max_objects_per_second = 0;  // objects pulled plus pushed; 0: no limit
  uint64_t step_timeout_ms = 30000;     // one request and its reply
  uint32_t seed = 1;
};

class GrpcAntiEntropy final : public v1::AntiEntropyService::CallbackService {
 public:
  using PeerStates = std::function<std::vector<PeerStatus>()>;
  using Observer = std::function<void(const SyncResult&)>;
  // Peers that need a session at once (replication cannot carry on without it).
  using Urgent = std::function<std::vector<std::string>()>;
  // Called as a session with peer starts; what it returns is called with whether it
  // succeeded.
  using Begin = std::function<std::function<void(bool ok)>(const std::string& peer)>;
  // REQUIRES: host outlives this object; the gRPC server hosting this service is shut down
  // before it is destroyed. peer_states feeds the scheduler; observer hears of every
  // finished session (metrics, logs).
  GrpcAntiEntropy(std::string self_id, std::string self_region, std::vector<SyncPeer> peers,
                  SyncHost* host, SyncOptions options, PeerStates peer_states, Observer observer);
  ~GrpcAntiEntropy() override;

  // Set once, before Start.
  void set_resync(Urgent urgent, Begin begin) {
    urgent_ = std::move(urgent);
    begin_ = std::move(begin);
  }
  // Fault injection: peers cut off (no session either way). Set once, before Start.
  void set_blocked(std::function<bool(const std::string& peer)> blocked) {
    blocked_ = std::move(blocked);
  }
  // How calls to and from peers are secured (PeerLinks). Set once, before Start; unset, calls
  // are plaintext and unchecked (in-process tests).
  void set_links(PeerLinks links) { links_ = std::move(links); }
  void Start();  // the scheduler thread
  void Stop();

  grpc::ServerUnaryReactor* Sync(grpc::CallbackServerContext* context,
                                 const v1::SyncRequest* request, v1::SyncReply* reply) override;

  // Whether some peer is in region (any peer if region is empty).
  bool HasPeersIn(const std::string& region) const;
  // Runs a session with every peer (of region, if not empty), one after another; the admin
  // answer: per peer and in total, with the time it all took.
  v1::FullSyncReply SyncAll(const std::string& region);
  SyncResult RunSession(const SyncPeer& peer);
  // Read repair: asks peer to join these states, without waiting for its answer. False if
  // peer is unknown or cut off. knowledge: what the states may hold (Engine::Knowledge).
  bool PushAsync(const std::string& peer, std::vector<v1::ObjectState> states,
                 const crdt::VersionVector& knowledge);
  // The last session this node started with each peer, and when it ended.
  struct Last {
    SyncResult result;
    std::chrono::system_clock::time_point ended;
  };
  std::map<std::string, Last> LastSessions() const;

 private:
  // Whether the caller may send this request (peer identity, fault injection); on a callback
  // thread.
  grpc::Status Admit(const grpc::ServerContextBase& context, const v1::SyncRequest& request) const;
  // The answer to a request; on a worker.
  grpc::Status Answer(const v1::SyncRequest& request, v1::SyncReply* reply);
  v1::AntiEntropyService::Stub* StubFor(const SyncPeer& peer);
  // The session itself, into result (RunSession records and reports it).
  void Run(const SyncPeer& peer, std::chrono::steady_clock::time_point started, SyncResult* result);

  const std::string self_id_;
  const std::string self_region_;
  const std::vector<SyncPeer> peers_;
  std::optional<PeerLinks> links_;
  SyncHost* const host_;
  const SyncOptions options_;
  PeerStates peer_states_;
  Observer observer_;
  Urgent urgent_;
  Begin begin_;
  std::function<bool(const std::string&)> blocked_;
  mutable std::mutex session_mu_;
  std::map<std::string, Last> last_;                            // guarded by session_mu_
  std::map<std::string, std::unique_ptr<std::mutex>> peer_mu_;  // one session per peer at once
  std::mutex stubs_mu_;
  std::map<std::string, std::unique_ptr<v1::AntiEntropyService::Stub>> stubs_;
  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  std::atomic<bool> stopping_{false};
  std::thread scheduler_;
  // Serves Sync. Last member: destroyed first, it answers what was posted while every other
  // member is still there.
  WorkPool workers_{2};
};

}  // namespace geodatastore::antientropy
