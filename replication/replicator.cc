#include "replication/replicator.h"

#include <algorithm>
#include <tuple>

#include "crdt/any_crdt.h"

namespace geodatastore::replication {

std::string_view PeerStateName(PeerState state) {
  switch (state) {
    case PeerState::kUp:
      return "up";
    case PeerState::kSuspect:
      return "suspect";
    case PeerState::kDown:
      return "down";
  }
  return "unknown";
}

Replicator::Replicator(std::string self_id, std::vector<PeerInfo> peers, ReplicationHost* host,
                       ReplicatorOptions options)
    : self_id_(std::move(self_id)), host_(host), options_(options), rng_(options.seed) {
  for (PeerInfo& p : peers) {
    Peer peer;
    peer.info = std::move(p);
    peer.timeout_ms = options_.retransmit_ms;
    peers_.emplace(peer.info.id, std::move(peer));
  }
}

Status Replicator::Start(uint64_t now_ms) {
  for (auto& [id, peer] : peers_) {
    GDS_ASSIGN_OR_RETURN(peer.acked, host_->LoadCursor(id));
    peer.sent = peer.acked;
    peer.saved_acked = peer.acked;
    peer.state_since_ms = now_ms;
  }
  return Status::Ok();
}

v1::ReplicationMessage Replicator::Envelope() const {
  v1::ReplicationMessage m;
  m.set_from(self_id_);
  return m;
}

uint64_t Replicator::Jittered(uint64_t ms) {
  return ms + std::uniform_int_distribution<uint64_t>(0, ms / 4)(rng_);
}

bool Replicator::BuildBatch(Peer& peer, v1::DeltaBatch* batch) {
  const uint64_t committed = host_->CommittedSeq();
  if (peer.sent >= committed) return false;
  auto records = host_->ReadLog(peer.sent + 1, committed, options_.max_batch_bytes);
  if (!records.ok() || records->empty() || (*records)[0].seq() != peer.sent + 1) {
    // Not in the log any more (truncated past this peer): only anti-entropy can repair it.
    return false;
  }
  batch->set_origin(host_->self_replica());
  batch->set_from_seq(peer.sent + 1);
  batch->set_oldest_wall_time_ms((*records)[0].wall_time_ms());
  // Delta group: one joined delta per key, in key order.
  using Key = std::tuple<int, std::string>;
  std::map<Key, std::pair<v1::CrdtType, crdt::AnyCrdt>> joined;
  uint64_t last = peer.sent;
  for (const v1::DeltaRecord& r : *records) {
    if (r.seq() != last + 1) break;  // the log always holds contiguous seqs; be safe anyway
    if (!options_.join_deltas) {
      v1::KeyDelta* kd = batch->add_deltas();
      kd->set_family(r.family());
      kd->set_name(r.name());
      kd->set_type(r.type());
      kd->set_delta(r.delta());
      last = r.seq();
      continue;
    }
    auto delta = crdt::DecodeAnyAs(r.type(), r.delta());
    if (!delta.ok()) break;
    Key key{r.family(), r.name()};
    auto it = joined.find(key);
    if (it == joined.end()) {
      joined.emplace(std::move(key), std::make_pair(r.type(), std::move(delta).value()));
    } else if (it->second.first != r.type() || !crdt::JoinAny(it->second.second, *delta).ok()) {
      break;  // the key changed type (a resolved conflict): end the group before it
    }
    last = r.seq();
  }
  if (last == peer.sent) return false;
  for (auto& [key, typed] : joined) {
    v1::KeyDelta* kd = batch->add_deltas();
    kd->set_family(static_cast<v1::Family>(std::get<0>(key)));
    kd->set_name(std::get<1>(key));
    kd->set_type(typed.first);
    kd->set_delta(crdt::EncodeAny(typed.second));
  }
  batch->set_to_seq(last);
  const crdt::Timestamp now = host_->HlcNow();
  batch->set_hlc_physical(now.physical);
  batch->set_hlc_logical(now.logical);
  return true;
}

void Replicator::UpdateState(Peer& peer, uint64_t now_ms) {
  const uint64_t silent = now_ms - std::min(now_ms, peer.last_heard_ms);
  PeerState state = PeerState::kUp;
  if (peer.last_heard_ms == 0 || silent >= options_.down_after_ms) {
    state = PeerState::kDown;
  } else if (silent >= options_.suspect_after_ms) {
    state = PeerState::kSuspect;
  }
  if (state != peer.state) {
    peer.state = state;
    peer.state_since_ms = now_ms;
  }
}

std::vector<Outgoing> Replicator::Tick(uint64_t now_ms) {
  std::vector<Outgoing> out;
  const bool flush = now_ms - std::min(now_ms, last_flush_ms_) >= options_.flush_interval_ms;
  if (flush) last_flush_ms_ = now_ms;
  uint64_t min_acked = UINT64_MAX;
  for (auto& [id, peer] : peers_) {
    UpdateState(peer, now_ms);
    // Nothing acknowledged in time: go back to the acknowledgement and resend.
    if (peer.sent > peer.acked && now_ms - peer.last_data_ms >= peer.timeout_ms) {
      peer.sent = peer.acked;
      peer.timeout_ms = std::min(peer.timeout_ms * 2, options_.max_retransmit_ms);
      ++counters_.retransmits;
    }
    bool sent_data = false;
    if (flush) {
      v1::ReplicationMessage m = Envelope();
      // Only one batch in flight beyond the acknowledgement keeps resends cheap.
      if (peer.sent == peer.acked && BuildBatch(peer, m.mutable_deltas())) {
        peer.sent = m.deltas().to_seq();
        peer.last_data_ms = now_ms;
        peer.bytes_sent += m.ByteSizeLong();
        ++counters_.batches_sent;
        out.push_back({id, std::move(m)});
        sent_data = true;
      }
    }
    if (!sent_data && now_ms - peer.last_send_ms >= options_.heartbeat_ms) {
      v1::ReplicationMessage m = Envelope();
      m.mutable_heartbeat()->set_wall_time_ms(now_ms);
      out.push_back({id, std::move(m)});
      sent_data = true;
    }
    if (sent_data) peer.last_send_ms = now_ms;
    if (peer.acked != peer.saved_acked && host_->SaveCursor(id, peer.acked).ok())
      peer.saved_acked = peer.acked;
    min_acked = std::min(min_acked, peer.saved_acked);
  }
  if (!peers_.empty() && min_acked != UINT64_MAX && min_acked > truncated_) {
    if (host_->TruncateLog(min_acked).ok()) truncated_ = min_acked;
  }
  return out;
}

std::vector<Outgoing> Replicator::Receive(const v1::ReplicationMessage& message, uint64_t now_ms) {
  std::vector<Outgoing> out;
  auto it = peers_.find(message.from());
  if (it == peers_.end()) return out;  // not a configured peer
  Peer& peer = it->second;
  peer.last_heard_ms = now_ms;
  peer.bytes_received += message.ByteSizeLong();
  UpdateState(peer, now_ms);
  switch (message.body_case()) {
    case v1::ReplicationMessage::kDeltas: {
      const v1::DeltaBatch& batch = message.deltas();
      const Status applied = host_->ApplyRemote(batch, message.from());
      if (applied.ok()) {
        ++counters_.batches_applied;
      } else if (applied.code() == StatusCode::kFailedPrecondition) {
        ++counters_.gaps;
      } else if (applied.code() == StatusCode::kOutOfRange) {
        ++counters_.rejected_clock;
        return out;  // no acknowledgement: the sender retries once clocks agree
      } else {
        ++counters_.rejected_corrupt;
        return out;
      }
      v1::ReplicationMessage ack = Envelope();
      ack.mutable_ack()->set_origin(batch.origin());
      ack.mutable_ack()->set_applied_seq(host_->Applied(batch.origin()));
      out.push_back({message.from(), std::move(ack)});
      break;
    }
    case v1::ReplicationMessage::kAck: {
      if (message.ack().origin() != host_->self_replica()) break;  // an ack for another epoch
      const uint64_t acked = message.ack().applied_seq();
      if (acked > peer.acked) {
        peer.acked = acked;
        peer.timeout_ms = options_.retransmit_ms;
      }
      if (peer.acked >= peer.sent) {
        peer.sent = peer.acked;
      } else if (acked < peer.sent && acked == peer.acked) {
        // The peer dropped what we sent after its acknowledgement (a gap): resend now.
        peer.sent = peer.acked;
      }
      break;
    }
    default:
      break;
  }
  return out;
}

void Replicator::OnDisconnected(const std::string& peer) {
  auto it = peers_.find(peer);
  if (it != peers_.end()) it->second.sent = it->second.acked;
}

std::vector<PeerView> Replicator::Peers(uint64_t now_ms) const {
  std::vector<PeerView> out;
  const uint64_t committed = host_->CommittedSeq();
  for (const auto& [id, peer] : peers_) {
    PeerView v;
    v.id = id;
    v.region = peer.info.region;
    v.state = peer.state;
    v.state_since_ms = peer.state_since_ms;
    v.acked = peer.acked;
    v.behind_ops = committed > peer.acked ? committed - peer.acked : 0;
    v.bytes_sent = peer.bytes_sent;
    v.bytes_received = peer.bytes_received;
    if (peer.acked < committed) {
      auto next = host_->ReadLog(peer.acked + 1, peer.acked + 1, 1);
      if (next.ok() && !next->empty()) v.oldest_unacked_wall_ms = (*next)[0].wall_time_ms();
    }
    (void)now_ms;
    out.push_back(std::move(v));
  }
  return out;
}

}  // namespace geodatastore::replication
