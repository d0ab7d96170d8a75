// The server side of ReplicationService, on gRPC's callback API: streams peers open to this
// node (StreamDeltas, only read: answers go back over this node's own outbound stream) and
// FetchState.
//
// An inbound stream is an InboundStream reactor with one read outstanding. A message that
// arrives is handed to workers_ (the core may write to RocksDB, which must not hold one of
// gRPC's callback threads), and the next read starts once it was handled, so a stream's
// messages reach the core in order. A stream ends, exactly once, through Finish:
//   - its read fails (the peer closed it, or it was cancelled: Stop, idle timeout) -> OK;
//   - a message is refused (Accept)                                              -> refusal;
//   - it is refused at the start (Admit: stopping, a certificate of no peer)     -> refusal.
// It is registered in inbound_ from Admit until OnDone, which unregisters it under
// inbound_mu_ before deleting it, so that CancelInbound (under the same lock) only ever
// touches live reactors; cancelling one that already finished is harmless.
#include "replication/grpc_transport.h"

namespace geodatastore::replication {

class GrpcReplication::InboundStream final
    : public grpc::ServerBidiReactor<v1::ReplicationMessage, v1::ReplicationMessage> {
 public:
  InboundStream(GrpcReplication* owner, grpc::CallbackServerContext* context)
      : owner_(owner), context_(context), last_heard_ms_(owner->NowMs()) {}

  // Starts reading, or ends the stream at once with the refusal.
  void Begin(const grpc::Status& refused) {
    if (!refused.ok()) return Finish(refused);
    StartRead(&message_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) return Finish(grpc::Status::OK);
    last_heard_ms_ = owner_->NowMs();
    owner_->workers_.Post([this] { Handle(); });
  }

  void OnDone() override {
    owner_->Forget(this);
    delete this;
  }

  // Cancels the call, unless that was done before; returns whether it did.
  // REQUIRES: owner_->inbound_mu_ held (the reactor is live).
  bool Cancel() {
    if (cancelled_.exchange(true)) return false;
    context_->TryCancel();
    return true;
  }
  uint64_t last_heard_ms() const { return last_heard_ms_; }

 private:
  // On a worker: hands the message read to the core, then reads the next one. Nothing of
  // this reactor is touched after Finish or StartRead (either may end it on another thread).
  void Handle() {
    const grpc::Status refused = owner_->Accept(*context_, message_);
    if (!refused.ok()) return Finish(refused);
    StartRead(&message_);
  }

  GrpcReplication* const owner_;
  grpc::CallbackServerContext* const context_;
  v1::ReplicationMessage message_;
  std::atomic<uint64_t> last_heard_ms_;
  std::atomic<bool> cancelled_{false};
};

grpc::ServerBidiReactor<v1::ReplicationMessage, v1::ReplicationMessage>*
GrpcReplication::StreamDeltas(grpc::CallbackServerContext* context) {
  auto* stream = new InboundStream(this, context);
  stream->Begin(Admit(stream, *context));
  return stream;
}

grpc::Status GrpcReplication::Admit(InboundStream* stream, const grpc::ServerContextBase& context) {
  // With TLS a stream speaks for the peer its certificate names: a certificate of anybody
  // else may not even hold a stream open. (Without TLS a stream is from whom each message
  // says; Accept checks that.)
  if (links_) {
    std::string node;
    if (grpc::Status allowed = links_->Authenticate(context, "", &node); !allowed.ok())
      return allowed;
  }
  std::lock_guard<std::mutex> lock(inbound_mu_);
  if (stopping_) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "stopping");
  inbound_.insert(stream);
  return grpc::Status::OK;
}

void GrpcReplication::Forget(InboundStream* stream) {
  std::lock_guard<std::mutex> lock(inbound_mu_);
  inbound_.erase(stream);
}

grpc::Status GrpcReplication::Accept(const grpc::ServerContextBase& context,
                                     const v1::ReplicationMessage& message) {
  // A stream speaks for the node its certificate names, and only for it (without links:
  // in-process tests, for whom it says).
  std::string sender = message.from();
  if (links_) {
    if (grpc::Status refused = links_->Authenticate(context, message.from(), &sender);
        !refused.ok())
      return refused;
  }
  if (Blocked(message.from())) return grpc::Status::OK;
  Kick(message.from());
  std::vector<Outgoing> out;
  {
    std::lock_guard<std::mutex> lock(core_mu_);
    out = core_->Receive(message, sender, NowMs());
  }
  Dispatch(std::move(out));
  return grpc::Status::OK;
}

size_t GrpcReplication::CancelInbound(const std::function<bool(const InboundStream&)>& match) {
  std::lock_guard<std::mutex> lock(inbound_mu_);
  size_t cancelled = 0;
  for (InboundStream* stream : inbound_) {
    if (match(*stream) && stream->Cancel()) ++cancelled;
  }
  return cancelled;
}

void GrpcReplication::CloseIdleInbound(uint64_t now_ms) {
  if (idle_timeout_ms_ == 0 || now_ms - idle_checked_ms_ < 1000) return;
  idle_checked_ms_ = now_ms;
  idle_closed_ += CancelInbound([&](const InboundStream& stream) {
    const uint64_t heard = stream.last_heard_ms();
    return now_ms > heard && now_ms - heard >= idle_timeout_ms_;
  });
}

size_t GrpcReplication::inbound_streams() {
  std::lock_guard<std::mutex> lock(inbound_mu_);
  return inbound_.size();
}

grpc::ServerUnaryReactor* GrpcReplication::FetchState(grpc::CallbackServerContext* context,
                                                      const v1::FetchStateRequest* request,
                                                      v1::FetchStateReply* reply) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (links_) {
    std::string node;
    if (grpc::Status allowed = links_->Authenticate(*context, "", &node); !allowed.ok()) {
      reactor->Finish(allowed);
      return reactor;
    }
  }
  if (!state_reader_) {
    reactor->Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "not serving reads"));
    return reactor;
  }
  workers_.Post([this, reactor, request, reply] {
    const Status s = state_reader_(*request, reply);
    reactor->Finish(s.ok() ? grpc::Status::OK
                           : grpc::Status(grpc::StatusCode::INTERNAL, s.message()));
  });
  return reactor;
}

}  // namespace geodatastore::replication
