#include "replication/grpc_transport.h"

#include <grpc/compression.h>

#include "common/peer_channel.h"
#include "replication/message_checksum.h"

namespace geodatastore::replication {

GrpcReplication::GrpcReplication(std::vector<PeerEndpoint> peers, Replicator* core,
                                 uint64_t flush_interval_ms, bool gzip)
    : core_(core), flush_interval_ms_(std::max<uint64_t>(flush_interval_ms, 1)), gzip_(gzip) {
  for (PeerEndpoint& p : peers) {
    auto out = std::make_unique<Outbound>();
    out->region = p.region;
    out->endpoint = std::move(p);
    outbound_.push_back(std::move(out));
  }
}

GrpcReplication::~GrpcReplication() { Stop(); }

uint64_t GrpcReplication::NowMs() const {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::steady_clock::now() - epoch_)
                                   .count() +
                               1);
}

void GrpcReplication::Start() {
  for (auto& peer : outbound_) {
    peer->fetch_stub = v1::ReplicationService::NewStub(
        DialPeer(links_, peer->endpoint.address, peer->endpoint.id, PeerChannelArgs()));
    // Streams only to linked peers (all in mesh); FetchState reaches every peer.
    if (core_->Linked(peer->endpoint.id))
      peer->thread = std::thread([this, p = peer.get()] { SendLoop(p); });
  }
  ticker_ = std::thread([this] {
    while (!stopping_) {
      std::vector<Outgoing> out;
      {
        std::lock_guard<std::mutex> lock(core_mu_);
        out = core_->Tick(NowMs());
      }
      Dispatch(std::move(out));
      CloseIdleInbound(NowMs());
      std::this_thread::sleep_for(std::chrono::milliseconds(flush_interval_ms_));
    }
  });
}

void GrpcReplication::Stop() {
  if (stopping_.exchange(true)) return;
  CancelInbound([](const InboundStream&) { return true; });
  if (ticker_.joinable()) ticker_.join();
  for (auto& peer : outbound_) {
    peer->cv.notify_all();
    if (peer->thread.joinable()) peer->thread.join();
  }
}

bool GrpcReplication::Blocked(const std::string& peer) const {
  std::lock_guard<std::mutex> lock(partition_mu_);
  return partition_.count(peer) > 0;
}

void GrpcReplication::SetPartition(std::set<std::string> peers) {
  std::lock_guard<std::mutex> lock(partition_mu_);
  partition_ = std::move(peers);
}

std::set<std::string> GrpcReplication::partition() const {
  std::lock_guard<std::mutex> lock(partition_mu_);
  return partition_;
}

std::vector<PeerView> GrpcReplication::Peers() {
  std::lock_guard<std::mutex> lock(core_mu_);
  return core_->Peers(NowMs());
}

std::vector<std::string> GrpcReplication::NeedsResync() {
  std::lock_guard<std::mutex> lock(core_mu_);
  return core_->NeedsResync();
}

std::map<crdt::ReplicaId, uint64_t> GrpcReplication::ResyncFloors() {
  std::lock_guard<std::mutex> lock(core_mu_);
  return core_->ResyncFloors();
}

void GrpcReplication::Resynced(const std::string& peer,
                               const std::map<crdt::ReplicaId, uint64_t>& floors) {
  std::lock_guard<std::mutex> lock(core_mu_);
  core_->Resynced(peer, floors);
}

std::map<std::string, v1::Progress> GrpcReplication::Progress() {
  std::lock_guard<std::mutex> lock(core_mu_);
  return core_->progress();
}

size_t GrpcReplication::ClusterSize() {
  std::lock_guard<std::mutex> lock(core_mu_);
  return core_->cluster_size();
}

ReplicatorCounters GrpcReplication::Counters() {
  std::lock_guard<std::mutex> lock(core_mu_);
  return core_->counters();
}

void GrpcReplication::Dispatch(std::vector<Outgoing> out) {
  for (Outgoing& o : out) {
    if (Blocked(o.to)) continue;
    for (auto& peer : outbound_) {
      if (peer->endpoint.id != o.to) continue;
      std::lock_guard<std::mutex> lock(peer->mu);
      if (peer->queue.size() < kMaxQueued) peer->queue.push_back(std::move(o.message));
      peer->cv.notify_one();
    }
  }
}

void GrpcReplication::SendLoop(Outbound* peer) {
  grpc::ChannelArguments args = PeerChannelArgs();
  if (gzip_) args.SetCompressionAlgorithm(GRPC_COMPRESS_GZIP);
  auto channel = DialPeer(links_, peer->endpoint.address, peer->endpoint.id, args);
  auto stub = v1::ReplicationService::NewStub(channel);
  std::chrono::milliseconds backoff(100);
  while (!stopping_) {
    grpc::ClientContext context;
    auto stream = stub->StreamDeltas(&context);
    peer->connected = true;
    bool healthy = true;
    while (!stopping_ && healthy) {
      v1::ReplicationMessage message;
      {
        std::unique_lock<std::mutex> lock(peer->mu);
        peer->cv.wait_for(lock, std::chrono::milliseconds(100),
                          [&] { return stopping_ || !peer->queue.empty(); });
        if (stopping_ || peer->queue.empty()) continue;
        message = std::move(peer->queue.front());
        peer->queue.pop_front();
      }
      healthy = stream->Write(message);
      if (healthy) backoff = std::chrono::milliseconds(100);
    }
    peer->connected = false;
    context.TryCancel();
    stream->Finish().ok();
    if (stopping_) break;
    {
      std::lock_guard<std::mutex> lock(core_mu_);
      core_->OnDisconnected(peer->endpoint.id);
    }
    {
      std::lock_guard<std::mutex> lock(peer->mu);
      peer->queue.clear();  // the core resends from the peer's acknowledgement
    }
    peer->kick = false;
    for (auto waited = std::chrono::milliseconds(0); waited < backoff && !stopping_ && !peer->kick;
         waited += std::chrono::milliseconds(10)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    backoff = peer->kick.exchange(false) ? std::chrono::milliseconds(100)
                                         : std::min(backoff * 2, std::chrono::milliseconds(2000));
  }
}

struct GrpcReplication::Fetch::Call {
  grpc::ClientContext context;
  v1::FetchStateRequest request;  // owned here: the call may outlive its Fetch
  v1::FetchStateReply reply;
};

GrpcReplication::Fetch::~Fetch() {
  for (auto& call : calls_) call->context.TryCancel();  // the rest are no longer needed
}

std::vector<GrpcReplication::Fetched> GrpcReplication::Fetch::answers() const {
  std::lock_guard<std::mutex> lock(shared_->mu);
  return shared_->answers;
}

bool GrpcReplication::Fetch::Done(
    const std::function<bool(const std::vector<Fetched>&)>& enough) const {
  std::lock_guard<std::mutex> lock(shared_->mu);
  return shared_->pending == 0 || enough(shared_->answers);
}

std::shared_ptr<GrpcReplication::Fetch> GrpcReplication::StartFetch(
    const v1::FetchStateRequest& request, std::chrono::milliseconds timeout) {
  auto fetch = std::make_shared<Fetch>();
  const auto deadline = std::chrono::system_clock::now() + timeout;
  for (auto& peer : outbound_) {
    if (Blocked(peer->endpoint.id) || !peer->fetch_stub) continue;
    auto call = std::make_shared<Fetch::Call>();
    call->request = request;
    call->context.set_deadline(deadline);
    fetch->calls_.push_back(call);
    {
      std::lock_guard<std::mutex> lock(fetch->shared_->mu);
      ++fetch->shared_->pending;
    }
    peer->fetch_stub->async()->FetchState(
        &call->context, &call->request, &call->reply,
        [shared = fetch->shared_, call, id = peer->endpoint.id,
         region = peer->region](grpc::Status status) {
          const bool intact = status.ok() && Intact(call->reply);
          std::lock_guard<std::mutex> lock(shared->mu);
          --shared->pending;
          if (status.ok()) shared->answers.push_back({id, region, call->reply, intact});
        });
  }
  return fetch;
}

void GrpcReplication::Kick(const std::string& peer) {
  for (auto& out : outbound_) {
    if (out->endpoint.id == peer && !out->connected) out->kick = true;
  }
}

}  // namespace geodatastore::replication
