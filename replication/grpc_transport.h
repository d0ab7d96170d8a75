// GrpcReplication: the gRPC adapter around the sans-IO Replicator. Each node keeps one
// outbound StreamDeltas stream per peer and writes its messages (delta batches, acks,
// heartbeats) there; streams that peers open to it are only read. A ticker thread drives
// the core's timers. Streams are gzip-compressed when configured, and reconnect with
// exponential backoff.
//
// The server side (grpc_inbound.cc) is on gRPC's callback API: an inbound stream is a
// reactor with one read outstanding, so an idle stream holds no thread. What a message
// asks for (applying deltas, reading a state) runs on a small pool of its own, never on
// gRPC's callback threads, which every callback service of the process shares.
//
// Thread safety: the core is guarded by core_mu_; every public method may be called from
// any thread.
#pragma once

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/peer_links.h"
#include "common/work_pool.h"
#include "geodatastore/v1/replication.grpc.pb.h"
#include "replication/replicator.h"

namespace geodatastore::replication {

struct PeerEndpoint {
  std::string id;
  std::string address;  // host:port of its gRPC listener
  std::string region;
};

class GrpcReplication final : public v1::ReplicationService::CallbackService {
 public:
  // REQUIRES: core outlives this object; core.Start() was called; the gRPC server hosting
  // this service is shut down before it is destroyed.
  GrpcReplication(std::vector<PeerEndpoint> peers, Replicator* core, uint64_t flush_interval_ms,
                  bool gzip);
  ~GrpcReplication() override;

  // How calls to and from peers are secured (PeerLinks). Set once, before Start; unset,
  // calls are plaintext and a message is from whom it says (in-process tests).
  void set_links(PeerLinks links) { links_ = std::move(links); }
  // An inbound stream on which nothing arrived for this long is closed (0: never). A live
  // peer sends at least a heartbeat every ReplicatorOptions::heartbeat_ms (100 ms), so only
  // a silent or stalled stream (or one a partition cut) reaches it. Set once, before Start.
  void set_idle_timeout(std::chrono::milliseconds timeout) { idle_timeout_ms_ = timeout.count(); }
  void Start();
  // Stops the ticker and the outbound streams, and cancels every inbound stream (each
  // finishes as its pending read fails); new inbound streams are refused. Returns without
  // waiting for them: the gRPC server's shutdown does.
  void Stop();

  // The server side (grpc_inbound.cc).
  grpc::ServerBidiReactor<v1::ReplicationMessage, v1::ReplicationMessage>* StreamDeltas(
      grpc::CallbackServerContext* context) override;
  grpc::ServerUnaryReactor* FetchState(grpc::CallbackServerContext* context,
                                       const v1::FetchStateRequest* request,
                                       v1::FetchStateReply* reply) override;
  // Inbound streams open now, and how many were closed for silence so far.
  size_t inbound_streams();
  uint64_t idle_closed() const { return idle_closed_; }

  // Serves FetchState: reads this node's state of a key. Set once, before Start.
  using StateReader = std::function<Status(const v1::FetchStateRequest&, v1::FetchStateReply*)>;
  void set_state_reader(StateReader reader) { state_reader_ = std::move(reader); }

  struct Fetched {
    std::string peer;
    std::string region;
    v1::FetchStateReply reply;
    bool intact = false;  // its checksum holds (replication::Intact)
  };
  // One FetchState round: every reachable peer asked in parallel, answers gathered as they
  // come. Dropping the last reference cancels the calls still out.
  class Fetch {
   public:
    ~Fetch();
    std::vector<Fetched> answers() const;  // so far
    // Every call answered or failed, or enough(the answers so far) — under the Fetch's lock.
    bool Done(const std::function<bool(const std::vector<Fetched>&)>& enough) const;
   private:
    friend class GrpcReplication;
    struct Call;
    struct Shared {
      mutable std::mutex mu;
      std::vector<Fetched> answers;  // guarded by mu
      size_t pending = 0;            // guarded by mu
    };
    std::shared_ptr<Shared> shared_ = std::make_shared<Shared>();
    std::vector<std::shared_ptr<Call>> calls_;
  };
  // Asks every reachable peer for its state of a key; calls end by the timeout.
  std::shared_ptr<Fetch> StartFetch(const v1::FetchStateRequest& request,
                                    std::chrono::milliseconds timeout);

  // Fault injection: drop all traffic to and from these peers (empty: none).
  void SetPartition(std::set<std::string> peers);
  std::set<std::string> partition() const;
  std::vector<PeerView> Peers();
  // Milliseconds on the clock PeerView::state_since_ms is read on.
  uint64_t now_ms() const { return NowMs(); }
  ReplicatorCounters Counters();
  // Every node's latest progress report, and how many nodes there are (Replicator).
  std::map<std::string, v1::Progress> Progress();
  size_t ClusterSize();
  // Replicator's resynchronization through anti-entropy, under the core's lock.
  std::vector<std::string> NeedsResync();
  std::map<crdt::ReplicaId, uint64_t> ResyncFloors();
  void Resynced(const std::string& peer, const std::map<crdt::ReplicaId, uint64_t>& floors);

 private:
  class InboundStream;  // one stream a peer opened to us (grpc_inbound.cc)
  struct Outbound {
    PeerEndpoint endpoint;
    std::mutex mu;
    std::condition_variable cv;
    std::deque<v1::ReplicationMessage> queue;  // guarded by mu
    std::atomic<bool> connected{false};
    std::atomic<bool> kick{false};  // the peer reached us: stop backing off
    std::thread thread;
    std::unique_ptr<v1::ReplicationService::Stub> fetch_stub;  // for FetchState
    std::string region;
  };
  static constexpr size_t kMaxQueued = 1000;  // beyond this the core's retransmits take over

  void Dispatch(std::vector<Outgoing> out);
  // A message from peer arrived: if our stream to it is down, reconnect now.
  void Kick(const std::string& peer);
  void SendLoop(Outbound* peer);
  // A new inbound stream: registers it, or returns why it is refused.
  grpc::Status Admit(InboundStream* stream, const grpc::ServerContextBase& context);
  void Forget(InboundStream* stream);
  // One message of an inbound stream: authenticated, dropped while partitioned, given to the
  // core. Returns the refusal that ends the stream.
  grpc::Status Accept(const grpc::ServerContextBase& context,
                      const v1::ReplicationMessage& message);
  // Cancels the inbound streams that match (each finishes as its pending read fails), each
  // once; returns how many it cancelled.
  size_t CancelInbound(const std::function<bool(const InboundStream&)>& match);
  // Cancels inbound streams silent for idle_timeout_ms_ (looks at most once a second).
  void CloseIdleInbound(uint64_t now_ms);
  bool Blocked(const std::string& peer) const;
  uint64_t NowMs() const;

  Replicator* const core_;
  std::mutex core_mu_;
  const uint64_t flush_interval_ms_;
  const bool gzip_;
  const std::chrono::steady_clock::time_point epoch_ = std::chrono::steady_clock::now();
  std::vector<std::unique_ptr<Outbound>> outbound_;
  std::thread ticker_;
  std::atomic<bool> stopping_{false};
  std::mutex inbound_mu_;
  std::set<InboundStream*> inbound_;  // streams peers opened to us; guarded by inbound_mu_
  uint64_t idle_timeout_ms_ = 0;
  uint64_t idle_checked_ms_ = 0;  // the ticker's
  std::atomic<uint64_t> idle_closed_{0};
  mutable std::mutex partition_mu_;
  std::set<std::string> partition_;  // guarded by partition_mu_
  StateReader state_reader_;
  std::optional<PeerLinks> links_;
  // Inbound messages and FetchState. Last member: destroyed first, it runs what was posted
  // while every other member is still there.
  WorkPool workers_{4};
};

}  // namespace geodatastore::replication
