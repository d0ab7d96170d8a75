#include "antientropy/grpc_sync.h"

#include <algorithm>

#include "antientropy/message_checksum.h"
#include "common/peer_channel.h"
#include "crdt/codec.h"

namespace geodatastore::antientropy {

namespace {

v1::FullSyncReply SummarizeSyncs(const std::vector<SyncResult>& results, double seconds) {
  v1::FullSyncReply out;
  for (const SyncResult& r : results) {
    v1::PeerSync* p = out.add_peers();
    p->set_peer(r.peer);
    p->set_region(r.region);
    p->set_result(r.result);
    p->set_error(r.error);
    p->set_nodes_compared(r.stats.nodes_compared);
    p->set_keys_compared(r.stats.keys_compared);
    p->set_keys_repaired(r.stats.repaired_here + r.stats.repaired_there);
    p->set_pulled(r.stats.pulled);
    p->set_pushed(r.stats.pushed);
    p->set_bytes(r.stats.bytes_sent + r.stats.bytes_received);
    p->set_seconds(r.seconds);
    out.set_keys_compared(out.keys_compared() + p->keys_compared());
    out.set_keys_repaired(out.keys_repaired() + p->keys_repaired());
    out.set_bytes(out.bytes() + p->bytes());
  }
  out.set_seconds(seconds);
  return out;
}

}  // namespace

GrpcAntiEntropy::GrpcAntiEntropy(std::string self_id, std::string self_region,
                                 std::vector<SyncPeer> peers, SyncHost* host, SyncOptions options,
                                 PeerStates peer_states, Observer observer)
    : self_id_(std::move(self_id)),
      self_region_(std::move(self_region)),
      peers_(std::move(peers)),
      host_(host),
      options_(options),
      peer_states_(std::move(peer_states)),
      observer_(std::move(observer)) {}

GrpcAntiEntropy::~GrpcAntiEntropy() { Stop(); }

void GrpcAntiEntropy::Start() {
  scheduler_ = std::thread([this] {
    Scheduler scheduler(self_region_, options_.interval_ms, options_.seed);
    const auto started = std::chrono::steady_clock::now();
    while (!stopping_) {
      const uint64_t now_ms =
          static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                    std::chrono::steady_clock::now() - started)
                                    .count()) +
          1;
      std::vector<PeerStatus> states = peer_states_ ? peer_states_() : std::vector<PeerStatus>{};
      std::vector<std::string> due = scheduler.Due(now_ms, states);
      if (urgent_) {
        for (const std::string& id : urgent_()) {
          const bool up = std::any_of(states.begin(), states.end(),
                                      [&](const PeerStatus& p) { return p.id == id && p.up; });
          if (up && std::find(due.begin(), due.end(), id) == due.end()) due.push_back(id);
        }
      }
      for (const std::string& id : due) {
        for (const SyncPeer& p : peers_) {
          if (p.id == id && !stopping_) RunSession(p);
        }
      }
      std::unique_lock<std::mutex> lock(stop_mu_);
      stop_cv_.wait_for(lock, std::chrono::milliseconds(100), [&] { return stopping_.load(); });
    }
  });
}

void GrpcAntiEntropy::Stop() {
  {
    std::lock_guard<std::mutex> lock(stop_mu_);
    if (stopping_.exchange(true)) return;
  }
  stop_cv_.notify_all();
  if (scheduler_.joinable()) scheduler_.join();
}

grpc::ServerUnaryReactor* GrpcAntiEntropy::Sync(grpc::CallbackServerContext* context,
                                                const v1::SyncRequest* request,
                                                v1::SyncReply* reply) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (grpc::Status refused = Admit(*context, *request); !refused.ok()) {
    reactor->Finish(refused);
    return reactor;
  }
  workers_.Post([this, reactor, request, reply] { reactor->Finish(Answer(*request, reply)); });
  return reactor;
}

grpc::Status GrpcAntiEntropy::Admit(const grpc::ServerContextBase& context,
                                    const v1::SyncRequest& request) const {
  if (links_) {
    std::string node;
    if (grpc::Status allowed = links_->Authenticate(context, request.from(), &node);
        !allowed.ok()) {
      return allowed;
    }
  }
  if (blocked_ && blocked_(request.from()))
    return grpc::Status(grpc::StatusCode::UNAVAILABLE, "partitioned (fault injection)");
  return grpc::Status::OK;
}

grpc::Status GrpcAntiEntropy::Answer(const v1::SyncRequest& request, v1::SyncReply* reply) {
  const Status s = Respond(host_, request, reply);
  if (s.ok()) return grpc::Status::OK;
  const grpc::StatusCode code =
      s.code() == StatusCode::kFailedPrecondition ? grpc::StatusCode::FAILED_PRECONDITION
      : s.code() == StatusCode::kInvalidArgument || s.code() == StatusCode::kCorruption
          ? grpc::StatusCode::INVALID_ARGUMENT
          : grpc::StatusCode::INTERNAL;
  return grpc::Status(code, s.message());
}

v1::AntiEntropyService::Stub* GrpcAntiEntropy::StubFor(const SyncPeer& peer) {
  std::lock_guard<std::mutex> lock(stubs_mu_);
  auto& stub = stubs_[peer.id];
  if (!stub) {
    grpc::ChannelArguments args = PeerChannelArgs();
    args.SetMaxReceiveMessageSize(64 << 20);
    stub = v1::AntiEntropyService::NewStub(DialPeer(links_, peer.address, peer.id, args));
  }
  return stub.get();
}

SyncResult GrpcAntiEntropy::RunSession(const SyncPeer& peer) {
  const auto started = std::chrono::steady_clock::now();
  SyncResult result{peer.id, peer.region, "ok", "", {}, 0};
  std::mutex* mu;
  {
    std::lock_guard<std::mutex> lock(session_mu_);
    auto& m = peer_mu_[peer.id];
    if (!m) m = std::make_unique<std::mutex>();
    mu = m.get();
  }
  std::lock_guard<std::mutex> one_at_a_time(*mu);
  if (blocked_ && blocked_(peer.id)) {
    result.result = "unreachable";
    result.error = "partitioned (fault injection)";
  } else {
    Run(peer, started, &result);
  }
  result.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  {
    std::lock_guard<std::mutex> lock(session_mu_);
    last_[peer.id] = {result, std::chrono::system_clock::now()};
  }
  if (observer_) observer_(result);
  return result;
}

void GrpcAntiEntropy::Run(const SyncPeer& peer, std::chrono::steady_clock::time_point started,
                          SyncResult* out) {
  SyncResult& result = *out;
  std::function<void(bool)> done = begin_ ? begin_(peer.id) : nullptr;
  Session session(host_, self_id_);
  v1::AntiEntropyService::Stub* stub = StubFor(peer);
  uint64_t objects = 0;
  while (auto request = session.Next()) {
    if (stopping_) {
      session.Fail(Status(StatusCode::kUnavailable, "stopping"));
      continue;
    }
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::milliseconds(options_.step_timeout_ms));
    v1::SyncReply reply;
    const grpc::Status s = stub->Sync(&context, *request, &reply);
    if (!s.ok()) {
      result.result = s.error_code() == grpc::StatusCode::FAILED_PRECONDITION ? "not_ready"
                      : s.error_code() == grpc::StatusCode::UNAVAILABLE ||
                              s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED
                          ? "unreachable"
                          : "error";
      session.Fail(Status(StatusCode::kUnavailable, s.error_message()));
      continue;
    }
    session.OnReply(reply);
    // Pace the repair: objects moved so far may not run ahead of the rate limit.
    objects += request->pull().objects_size() + request->push().states_size();
    if (options_.max_objects_per_second > 0) {
      const auto due =
          started + std::chrono::microseconds(objects * 1000000 / options_.max_objects_per_second);
      std::unique_lock<std::mutex> lock(stop_mu_);
      stop_cv_.wait_until(lock, due, [&] { return stopping_.load(); });
    }
  }
  if (!session.status().ok()) {
    if (result.result == "ok") {
      result.result =
          session.status().code() == StatusCode::kFailedPrecondition ? "not_ready" : "error";
    }
    result.error = session.status().message();
  }
  result.stats = session.stats();
  if (done) done(result.result == "ok");
}

bool GrpcAntiEntropy::PushAsync(const std::string& peer, std::vector<v1::ObjectState> states,
                                const crdt::VersionVector& knowledge) {
  auto it =
      std::find_if(peers_.begin(), peers_.end(), [&](const SyncPeer& p) { return p.id == peer; });
  if (it == peers_.end() || (blocked_ && blocked_(peer))) return false;
  struct Call {
    grpc::ClientContext context;
    v1::SyncRequest request;
    v1::SyncReply reply;
  };
  auto call = std::make_shared<Call>();
  call->request.set_from(self_id_);
  for (v1::ObjectState& s : states) *call->request.mutable_push()->add_states() = std::move(s);
  crdt::EncodeVersionVector(knowledge, call->request.mutable_push()->mutable_knowledge());
  Seal(&call->request);
  call->context.set_deadline(std::chrono::system_clock::now() +
                             std::chrono::milliseconds(options_.step_timeout_ms));
  StubFor(*it)->async()->Sync(&call->context, &call->request, &call->reply,
                              [call](grpc::Status) {});  // best effort: anti-entropy backs it
  return true;
}

std::map<std::string, GrpcAntiEntropy::Last> GrpcAntiEntropy::LastSessions() const {
  std::lock_guard<std::mutex> lock(session_mu_);
  return last_;
}

bool GrpcAntiEntropy::HasPeersIn(const std::string& region) const {
  return region.empty() || std::any_of(peers_.begin(), peers_.end(),
                                       [&](const SyncPeer& p) { return p.region == region; });
}

v1::FullSyncReply GrpcAntiEntropy::SyncAll(const std::string& region) {
  const auto started = std::chrono::steady_clock::now();
  std::vector<SyncResult> results;
  for (const SyncPeer& p : peers_) {
    if (region.empty() || p.region == region) results.push_back(RunSession(p));
  }
  return SummarizeSyncs(
      results, std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
}

}  // namespace geodatastore::antientropy
