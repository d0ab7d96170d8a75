#include "replication/replicator.h"

#include <algorithm>
#include <tuple>

#include "crdt/any_crdt.h"
#include "crdt/validate.h"
#include "replication/message_checksum.h"

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

namespace {

// Deltas joined per key, in key order: a delta group.
class DeltaGroup {
 public:
  // Whether a delta for (family, name) of type can join the group (the key did not change
  // type within it: a resolved type conflict ends a group).
  bool Fits(v1::Family family, const std::string& name, v1::CrdtType type) const {
    auto it = deltas_.find({family, name});
    return it == deltas_.end() || it->second.first == type;
  }
  // REQUIRES: Fits. False if the delta does not decode.
  bool Add(v1::Family family, const std::string& name, v1::CrdtType type,
           const std::string& delta) {
    auto decoded = crdt::DecodeAnyAs(type, delta);
    if (!decoded.ok()) return false;
    auto [it, fresh] = deltas_.try_emplace({family, name}, type, crdt::AnyCrdt());
    if (fresh) {
      it->second.second = std::move(decoded).value();
      return true;
    }
    return crdt::JoinAny(it->second.second, *decoded).ok();
  }
  void WriteTo(v1::DeltaBatch* batch) const {
    for (const auto& [key, typed] : deltas_) {
      v1::KeyDelta* kd = batch->add_deltas();
      kd->set_family(key.first);
      kd->set_name(key.second);
      kd->set_type(typed.first);
      kd->set_delta(crdt::EncodeAny(typed.second));
    }
  }

 private:
  std::map<std::pair<v1::Family, std::string>, std::pair<v1::CrdtType, crdt::AnyCrdt>> deltas_;
};

}  // namespace

Replicator::Replicator(PeerInfo self, std::vector<PeerInfo> peers, ReplicationHost* host,
                       ReplicatorOptions options)
    : self_(std::move(self)), host_(host), options_(options), rng_(options.seed) {
  // Each region's gateway: its node with the lowest id; every node computes the same.
  gateway_of_[self_.region] = self_.id;
  for (const PeerInfo& p : peers) {
    auto [it, fresh] = gateway_of_.try_emplace(p.region, p.id);
    if (!fresh && p.id < it->second) it->second = p.id;
  }
  const bool gateways = options_.topology == Topology::kGateway;
  gateway_ = gateways && gateway_of_[self_.region] == self_.id;
  for (PeerInfo& p : peers) {
    const bool peer_gateway = gateways && gateway_of_[p.region] == p.id;
    if (gateways && p.region != self_.region && !(gateway_ && peer_gateway)) {
      unlinked_.emplace(p.id, std::move(p));
      continue;
    }
    Peer peer;
    peer.info = std::move(p);
    peer.gateway = peer_gateway;
    peers_.emplace(peer.info.id, std::move(peer));
  }
}

StatusOr<storage::Cursor> Replicator::LoadCursorOfThisEpoch(const std::string& peer) {
  GDS_ASSIGN_OR_RETURN(storage::Cursor cursor, host_->LoadCursor(peer));
  // A cursor beyond what is committed counts seqs of an epoch the store went back from
  // (storage::LoadIdentity took a new one): the new replica's seqs start again at 1. It is
  // persisted at once, or a later restart would take the old count again.
  if (cursor.acked > host_->CommittedSeq()) {
    cursor.acked = host_->CommittedSeq();
    GDS_RETURN_IF_ERROR(host_->SaveCursor(peer, cursor));
  }
  return cursor;
}

Status Replicator::Start(uint64_t now_ms) {
  const crdt::ReplicaId self = host_->self_replica();
  for (auto& [id, peer] : peers_) {
    Stream& own = peer.streams[self];
    GDS_ASSIGN_OR_RETURN(storage::Cursor cursor, LoadCursorOfThisEpoch(id));
    own.acked = cursor.acked;
    own.peer_replica = cursor.replica;
    own.sent = own.acked;
    own.shipped = own.acked;
    own.sent_before = std::max(own.acked, host_->CommittedSeq());
    own.saved_acked = own.acked;
    own.timeout_ms = options_.retransmit_ms;
    own.confirmed = true;  // persisted
    peer.state_since_ms = now_ms;
  }
  for (const auto& [id, info] : unlinked_) {
    GDS_ASSIGN_OR_RETURN(storage::Cursor cursor, LoadCursorOfThisEpoch(id));
    reported_[id] = cursor.acked;
    saved_reported_[id] = reported_[id];
  }
  if (gateway_) {
    GDS_ASSIGN_OR_RETURN(auto origins, host_->RelayOrigins());
    for (const v1::DeltaBatch& first : origins)
      AddRelayStream(first.origin(), {first.origin_node(), first.origin_region()}, false);
  }
  return Status::Ok();
}

v1::ReplicationMessage Replicator::Envelope() const {
  v1::ReplicationMessage m;
  m.set_from(self_.id);
  m.set_replica(host_->self_replica());
  return m;
}

void Replicator::NoteReplica(Peer& peer, crdt::ReplicaId replica) {
  if (replica == 0) return;
  for (auto& [origin, stream] : peer.streams) {
    if (stream.peer_replica == replica) continue;
    if (stream.peer_replica != 0) {
      // Another replica behind the same node (wiped, or restored from a checkpoint): what
      // it acknowledged before means nothing now; its acknowledgements say where it is.
      stream.acked = 0;
      stream.sent = 0;
      stream.covered = 0;
      stream.confirmed = false;
      stream.downstream.clear();
      stream.timeout_ms = options_.retransmit_ms;
    }
    stream.peer_replica = replica;
  }
}

uint64_t Replicator::Jittered(uint64_t ms) {
  return ms + std::uniform_int_distribution<uint64_t>(0, ms / 4)(rng_);
}

std::vector<Replicator::Peer*> Replicator::RelayTargets(const std::string& origin_region) {
  std::vector<Peer*> out;
  if (!gateway_) return out;
  for (auto& [id, peer] : peers_) {
    const bool mate = peer.info.region == self_.region;
    // Deltas of this region go to the other gateways; other regions' to the region-mates.
    if (origin_region == self_.region ? (!mate && peer.gateway) : mate) out.push_back(&peer);
  }
  return out;
}

void Replicator::AddRelayStream(crdt::ReplicaId origin, PeerInfo node, bool save) {
  if (origin == host_->self_replica()) return;
  const std::string region = node.region;
  auto [it, fresh] = relayed_.try_emplace(origin, Relayed{std::move(node)});
  if (!fresh) return;
  if (save) (void)host_->SaveRelayOrigin(origin, it->second.node.id, region);
  for (Peer* target : RelayTargets(region)) {
    if (target->info.id == it->second.node.id) continue;
    Stream& stream = target->streams[origin];
    stream.timeout_ms = options_.retransmit_ms;
    // At start: what this node applied may have been relayed before the restart.
    if (!save) stream.sent_before = std::max(stream.sent_before, host_->Applied(origin));
  }
}

bool Replicator::CoverGap(Stream& stream, uint64_t first, uint64_t last_held,
                          v1::DeltaBatch* batch) {
  if (stream.covered + 1 < first) {
    stream.gap = true;  // anti-entropy first
    return false;
  }
  if (first > last_held) {  // nothing held after the gap: say what was covered, no deltas
    if (stream.covered <= stream.sent) return false;
    batch->set_from_seq(stream.covered);
    batch->set_to_seq(stream.covered);
  }
  batch->set_covered_seq(stream.covered);
  return true;
}

bool Replicator::BuildOwnBatch(Stream& stream, v1::DeltaBatch* batch) {
  const uint64_t committed = host_->CommittedSeq();
  if (stream.sent >= committed) return false;
  auto records = host_->ReadLog(stream.sent + 1, committed, options_.max_batch_bytes);
  if (!records.ok()) return false;
  batch->set_origin(host_->self_replica());
  batch->set_origin_node(self_.id);
  batch->set_origin_region(self_.region);
  const uint64_t first = records->empty() ? committed + 1 : (*records)[0].seq();
  if (first != stream.sent + 1) {
    // Not in the log any more (truncated past this peer): only anti-entropy can repair it.
    if (!CoverGap(stream, first, committed, batch)) return false;
    if (records->empty()) return true;
  }
  batch->set_from_seq(first);
  batch->set_oldest_wall_time_ms((*records)[0].wall_time_ms());
  DeltaGroup group;
  uint64_t last = first - 1;
  for (const v1::DeltaRecord& r : *records) {
    if (r.seq() != last + 1) break;  // the log always holds contiguous seqs; be safe anyway
    if (!options_.join_deltas) {
      v1::KeyDelta* kd = batch->add_deltas();
      kd->set_family(r.family());
      kd->set_name(r.name());
      kd->set_type(r.type());
      kd->set_delta(r.delta());
    } else if (!group.Fits(r.family(), r.name(), r.type()) ||
               !group.Add(r.family(), r.name(), r.type(), r.delta())) {
      break;
    }
    last = r.seq();
  }
  if (last == first - 1) return false;
  group.WriteTo(batch);
  batch->set_to_seq(last);
  return true;
}

bool Replicator::BuildRelayBatch(crdt::ReplicaId origin, Stream& stream, v1::DeltaBatch* batch) {
  // Entries anti-entropy covered for the peer are not sent.
  auto entries =
      host_->ReadRelay(origin, std::max(stream.sent, stream.covered), options_.max_batch_bytes);
  if (!entries.ok()) {
    ++counters_.rejected_corrupt;
    return false;
  }
  if (entries->empty()) {
    // Nothing held to relay; but this node may have applied more than it holds (what a
    // covered batch gave it): a gap for the peer, unless anti-entropy covered it. (A stream
    // that has not heard from its peer may count a gap that is none: a session too many.)
    const uint64_t applied = host_->Applied(origin);
    if (std::max(applied, stream.covered) <= stream.sent) return false;
    const auto relayed = relayed_.find(origin);
    batch->set_origin(origin);
    if (relayed != relayed_.end()) {
      batch->set_origin_node(relayed->second.node.id);
      batch->set_origin_region(relayed->second.node.region);
    }
    return CoverGap(stream, std::max(applied, stream.covered) + 1,
                    std::max(applied, stream.covered), batch);
  }
  // Held ranges start after what the peer applied: a stream that has heard from its peer
  // needs anti-entropy; one that has not probes, and the peer's acknowledgement tells where
  // it is.
  const uint64_t first_held = (*entries)[0].from_seq();
  if (first_held <= stream.sent && stream.confirmed) {
    // A held group straddles what the peer applied (it got its groups cut otherwise): the
    // peer refuses deltas it applied before, so only anti-entropy can take it past here.
    stream.gap = true;
    return false;
  }
  if (first_held > stream.sent + 1 && stream.confirmed) {
    v1::DeltaBatch cover;
    if (!CoverGap(stream, first_held, entries->back().to_seq(), &cover)) return false;
    (*entries)[0].set_covered_seq(cover.covered_seq());
  }
  if (entries->size() == 1 || !options_.join_deltas) {
    *batch = std::move((*entries)[0]);
    return true;
  }
  // Several held groups: join them into one, in whole entries (each is one seq range).
  DeltaGroup group;
  const v1::DeltaBatch& first = (*entries)[0];
  uint64_t last = first.from_seq() - 1;
  for (const v1::DeltaBatch& entry : *entries) {
    if (entry.from_seq() > last + 1) break;
    bool fits = true;
    for (const v1::KeyDelta& kd : entry.deltas())
      fits = fits && group.Fits(kd.family(), kd.name(), kd.type());
    if (!fits) break;
    bool added = true;
    for (const v1::KeyDelta& kd : entry.deltas())
      added = added && group.Add(kd.family(), kd.name(), kd.type(), kd.delta());
    if (!added) {
      ++counters_.rejected_corrupt;
      return false;
    }
    last = entry.to_seq();
  }
  if (last < first.to_seq()) {  // the first entry alone did not fit: send it as it is
    *batch = first;
    return true;
  }
  batch->set_covered_seq(first.covered_seq());
  batch->set_origin(origin);
  batch->set_origin_node(first.origin_node());
  batch->set_origin_region(first.origin_region());
  batch->set_from_seq(first.from_seq());
  batch->set_to_seq(last);
  batch->set_oldest_wall_time_ms(first.oldest_wall_time_ms());
  group.WriteTo(batch);
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

std::map<std::string, uint64_t> Replicator::KnownAcked() const {
  std::map<std::string, uint64_t> out;
  const crdt::ReplicaId self = host_->self_replica();
  for (const auto& [id, peer] : peers_) out[id] = peer.streams.at(self).acked;
  for (const auto& [id, acked] : reported_) out[id] = acked;
  return out;
}

bool Replicator::SendNext(Peer& peer, crdt::ReplicaId origin, Stream& stream, uint64_t now_ms,
                          std::vector<Outgoing>* out) {
  // Only one batch in flight beyond the acknowledgement keeps resends cheap.
  if (stream.sent != stream.acked) return false;
  v1::ReplicationMessage m = Envelope();
  const bool own = origin == host_->self_replica();
  if (!(own ? BuildOwnBatch(stream, m.mutable_deltas())
            : BuildRelayBatch(origin, stream, m.mutable_deltas()))) {
    return false;
  }
  const crdt::Timestamp hlc = host_->HlcNow();
  m.mutable_deltas()->set_hlc_physical(hlc.physical);
  m.mutable_deltas()->set_hlc_logical(hlc.logical);
  stream.sent = m.deltas().to_seq();
  // A covered batch tells the peer it holds everything up to covered_seq, which may lie
  // past to_seq: its acknowledgement may say as much.
  stream.shipped = std::max({stream.shipped, stream.sent, m.deltas().covered_seq()});
  stream.last_data_ms = now_ms;
  peer.bytes_sent += m.ByteSizeLong();
  peer.last_send_ms = now_ms;
  ++counters_.batches_sent;
  if (!own) ++counters_.relayed;
  out->push_back({peer.info.id, std::move(m)});
  return true;
}

std::vector<Outgoing> Replicator::Tick(uint64_t now_ms) {
  std::vector<Outgoing> out;
  const crdt::ReplicaId self = host_->self_replica();
  const bool flush = now_ms - std::min(now_ms, last_flush_ms_) >= options_.flush_interval_ms;
  if (flush) last_flush_ms_ = now_ms;
  uint64_t min_acked = UINT64_MAX;
  for (auto& [id, peer] : peers_) {
    UpdateState(peer, now_ms);
    bool sent_data = false;
    for (auto& [origin, stream] : peer.streams) {
      // Nothing acknowledged in time: go back to the acknowledgement and resend.
      if (stream.sent > stream.acked && now_ms - stream.last_data_ms >= stream.timeout_ms) {
        stream.sent = stream.acked;
        stream.timeout_ms = std::min(Jittered(stream.timeout_ms * 2), options_.max_retransmit_ms);
        ++counters_.retransmits;
      }
      if (flush && SendNext(peer, origin, stream, now_ms, &out)) sent_data = true;
    }
    if (!sent_data && now_ms - peer.last_send_ms >= options_.heartbeat_ms) {
      v1::ReplicationMessage m = Envelope();
      m.mutable_heartbeat()->set_wall_time_ms(now_ms);
      for (const auto& [origin, relayed] : relayed_) {
        if (Upstream(relayed) == id) *m.mutable_heartbeat()->add_reports() = AckFor(origin).ack();
      }
      out.push_back({id, std::move(m)});
      sent_data = true;
    }
    if (sent_data) peer.last_send_ms = now_ms;
    Stream& own = peer.streams[self];
    if (own.acked != own.saved_acked && host_->SaveCursor(id, {own.acked, own.peer_replica}).ok())
      own.saved_acked = own.acked;
    min_acked = std::min(min_acked, own.saved_acked);
  }
  if (now_ms - std::min(now_ms, last_progress_ms_) >= options_.progress_ms) {
    last_progress_ms_ = now_ms;
    v1::Progress own = host_->OwnProgress();
    own.set_node(self_.id);
    progress_[self_.id] = std::move(own);
    for (const auto& [id, peer] : peers_) {
      v1::ReplicationMessage m = Envelope();
      for (const auto& [node, report] : progress_) {
        if (node != id && MayReport(self_.id, id, node)) *m.add_progress() = report;
      }
      out.push_back({id, std::move(m)});
    }
  }
  // Peers reached through a gateway: their reported progress, persisted like cursors.
  for (const auto& [id, acked] : reported_) {
    uint64_t& saved = saved_reported_[id];
    if (acked != saved && host_->SaveCursor(id, {acked, 0}).ok()) saved = acked;
    min_acked = std::min(min_acked, saved);
  }
  if (min_acked != UINT64_MAX && min_acked > truncated_) {
    if (host_->TruncateLog(min_acked).ok()) truncated_ = min_acked;
  }
  // A relayed group goes once every target acknowledged it.
  for (auto& [origin, relayed] : relayed_) {
    uint64_t min_relayed = UINT64_MAX;
    for (const auto& [id, peer] : peers_) {
      auto it = peer.streams.find(origin);
      if (it != peer.streams.end()) min_relayed = std::min(min_relayed, it->second.acked);
    }
    if (min_relayed != UINT64_MAX && min_relayed > relayed.truncated &&
        host_->TruncateRelay(origin, min_relayed).ok()) {
      relayed.truncated = min_relayed;
    }
  }
  return Sealed(std::move(out));
}

v1::ReplicationMessage Replicator::AckFor(crdt::ReplicaId origin) {
  v1::ReplicationMessage m = Envelope();
  v1::Ack* ack = m.mutable_ack();
  ack->set_origin(origin);
  ack->set_applied_seq(host_->Applied(origin));
  for (const auto& [id, peer] : peers_) {
    auto it = peer.streams.find(origin);
    if (it == peer.streams.end() || !it->second.confirmed) continue;
    v1::NodeAck* d = ack->add_downstream();
    d->set_node(id);
    d->set_region(peer.info.region);
    d->set_applied_seq(it->second.acked);
    for (const v1::NodeAck& further : it->second.downstream) *ack->add_downstream() = further;
  }
  return m;
}

std::string Replicator::Upstream(const Relayed& relayed) const {
  const PeerInfo& node = relayed.node;
  auto gateway = gateway_of_.find(node.region);
  const std::string upstream =
      node.region == self_.region || gateway == gateway_of_.end() ? node.id : gateway->second;
  return peers_.count(upstream) > 0 ? upstream : std::string();
}

std::vector<Outgoing> Replicator::HandleAck(Peer& peer, const v1::Ack& received, bool report) {
  std::vector<Outgoing> out;
  auto it = peer.streams.find(received.origin());
  if (it == peer.streams.end()) return out;  // not a stream of ours (another epoch)
  Stream& stream = it->second;
  const std::optional<v1::Ack> believed = Believed(stream, received);
  if (!believed) return out;
  const v1::Ack& ack = *believed;
  const uint64_t acked = ack.applied_seq();
  bool changed = !stream.confirmed;
  stream.confirmed = true;

  if (acked > stream.acked) {
    stream.acked = acked;
    stream.timeout_ms = options_.retransmit_ms;
    changed = true;
  }
  if (stream.acked >= stream.sent) {
    stream.sent = stream.acked;
  } else if (!report && acked < stream.sent && acked == stream.acked) {
    // The peer dropped what we sent after its acknowledgement (a gap): resend now.
    stream.sent = stream.acked;
  }
  if (ack.origin() == host_->self_replica()) {
    for (const v1::NodeAck& d : ack.downstream()) {
      auto u = reported_.find(d.node());
      if (u != reported_.end()) u->second = std::max(u->second, d.applied_seq());
    }
    return out;
  }
  // A relay target moved on: tell the node we relay this origin's deltas from.
  for (const v1::NodeAck& d : ack.downstream()) {
    auto known = std::find_if(stream.downstream.begin(), stream.downstream.end(),
                              [&](const v1::NodeAck& k) { return k.node() == d.node(); });
    changed = changed || known == stream.downstream.end() || known->applied_seq() < d.applied_seq();
  }
  stream.downstream.assign(ack.downstream().begin(), ack.downstream().end());
  auto relayed = relayed_.find(ack.origin());
  if (!changed || relayed == relayed_.end()) return out;
  const std::string upstream = Upstream(relayed->second);
  if (!upstream.empty()) out.push_back({upstream, AckFor(ack.origin())});
  return out;
}

std::vector<Outgoing> Replicator::Receive(const v1::ReplicationMessage& message,
                                          const std::string& authenticated, uint64_t now_ms) {
  std::vector<Outgoing> out;
  if (message.from() != authenticated) {
    Reject("spoofed_sender");
    return out;
  }
  auto it = peers_.find(message.from());
  if (it == peers_.end()) return out;  // not a linked peer
  if (!Intact(message)) {
    Reject("checksum");  // nothing of it is read: a batch is resent, unacknowledged
    return out;
  }
  Peer& peer = it->second;
  peer.last_heard_ms = now_ms;
  peer.bytes_received += message.ByteSizeLong();
  NoteReplica(peer, message.replica());
  UpdateState(peer, now_ms);
  for (const v1::Progress& report : message.progress()) {
    MergeProgress(report, peer, message.replica());
    // The sender's own report was made when it sent this message.
    if (report.node() == peer.info.id && report.wall_ms() != 0) {
      if (const uint64_t wall = host_->WallMillis(); wall != 0) {
        const int64_t offset =
            static_cast<int64_t>(report.wall_ms()) - static_cast<int64_t>(wall);
        if (now_ms - std::min(now_ms, peer.offset_window_start_ms) >= kClockOffsetWindowMs ||
            peer.offset_window_max == INT64_MIN) {
          peer.offset_previous_max = peer.offset_window_max;
          peer.offset_window_max = offset;
          peer.offset_window_start_ms = now_ms;
        } else {
          peer.offset_window_max = std::max(peer.offset_window_max, offset);
        }
        peer.clock_offset_at_ms = now_ms;
      }
    }
  }
  switch (message.body_case()) {
    case v1::ReplicationMessage::kDeltas:
      out = ReceiveDeltas(peer, message, now_ms);
      break;
    case v1::ReplicationMessage::kAck:
      out = HandleAck(peer, message.ack(), false);
      break;
    case v1::ReplicationMessage::kHeartbeat:
      for (const v1::Ack& report : message.heartbeat().reports()) {
        for (Outgoing& o : HandleAck(peer, report, true)) out.push_back(std::move(o));
      }
      break;
    default:
      break;
  }
  return Sealed(std::move(out));
}

std::vector<Outgoing> Replicator::ReceiveDeltas(Peer& peer, const v1::ReplicationMessage& message,
                                                uint64_t now_ms) {
  std::vector<Outgoing> out;
  const v1::DeltaBatch& batch = message.deltas();
  if (!MaySendBatch(peer, message.replica(), batch)) {
    Reject("forged_relay");
    return out;
  }
  if (!CoveredKnown(peer, batch)) {
    Reject("forged_covered");  // or news of the origin that has not reached here: resent
    return out;
  }
  PeerInfo origin{batch.origin_node(), batch.origin_region()};
  if (origin.id.empty()) origin = peer.info;  // a sender that does not say: its own
  // A batch that only says what anti-entropy covered carries no deltas to keep: the
  // relay streams meet a gap there, and anti-entropy covers it downstream too.
  const bool relay = !RelayTargets(origin.region).empty();
  const Status applied =
      host_->ApplyRemote(batch, message.from(), relay && batch.deltas_size() > 0);
  if (applied.ok()) {
    ++counters_.batches_applied;
    if (relay) {
      // Forward at once to idle relay streams: the group was batched at its origin.
      AddRelayStream(batch.origin(), std::move(origin), true);
      for (auto& [id, target] : peers_) {
        auto stream = target.streams.find(batch.origin());
        if (stream != target.streams.end())
          SendNext(target, batch.origin(), stream->second, now_ms, &out);
      }
    }
  } else if (applied.code() == StatusCode::kFailedPrecondition) {
    ++counters_.gaps;
  } else if (applied.code() == StatusCode::kOutOfRange) {
    ++counters_.rejected_clock;
    return out;  // no acknowledgement: the sender retries once clocks agree
  } else {
    // An invalid payload (a far-future stamp, an overflowing counter...) the host counted
    // under its reason; an undecodable one is counted here. Neither is acknowledged.
    if (crdt::RejectionReason(applied).empty()) ++counters_.rejected_corrupt;
    return out;
  }
  out.push_back({message.from(), AckFor(batch.origin())});
  return out;
}

std::vector<std::string> Replicator::NeedsResync() const {
  std::vector<std::string> out;
  for (const auto& [id, peer] : peers_) {
    for (const auto& [origin, stream] : peer.streams) {
      if (stream.gap) {
        out.push_back(id);
        break;
      }
    }
  }
  return out;
}

std::map<crdt::ReplicaId, uint64_t> Replicator::ResyncFloors() const {
  // A session pushes this node's states: they hold its own writes up to the committed seq
  // and each relayed origin's up to what is applied here.
  std::map<crdt::ReplicaId, uint64_t> floors{{host_->self_replica(), host_->CommittedSeq()}};
  for (const auto& [origin, relayed] : relayed_) floors[origin] = host_->Applied(origin);
  return floors;
}

void Replicator::Resynced(const std::string& peer,
                          const std::map<crdt::ReplicaId, uint64_t>& floors) {
  auto it = peers_.find(peer);
  if (it == peers_.end()) return;
  for (auto& [origin, stream] : it->second.streams) {
    auto floor = floors.find(origin);
    if (floor == floors.end()) continue;
    stream.covered = std::max(stream.covered, floor->second);
    stream.gap = false;
  }
}

void Replicator::OnDisconnected(const std::string& peer) {
  auto it = peers_.find(peer);
  if (it == peers_.end()) return;
  for (auto& [origin, stream] : it->second.streams) stream.sent = stream.acked;
}

std::vector<PeerView> Replicator::Peers(uint64_t now_ms) const {
  std::vector<PeerView> out;
  const uint64_t committed = host_->CommittedSeq();
  const std::map<std::string, uint64_t> acked = KnownAcked();
  auto add = [&](const PeerInfo& info, const std::string& via, const Peer& linked) {
    PeerView v;
    v.id = info.id;
    v.region = info.region;
    v.via = via;
    v.state = linked.state;
    v.state_since_ms = linked.state_since_ms;
    v.acked = acked.at(info.id);
    v.behind_ops = committed > v.acked ? committed - v.acked : 0;
    if (via.empty()) {
      v.bytes_sent = linked.bytes_sent;
      v.bytes_received = linked.bytes_received;
      if (linked.offset_window_max != INT64_MIN &&
          now_ms - std::min(now_ms, linked.clock_offset_at_ms) <= kClockOffsetFreshMs)
        v.clock_offset_ms = std::max(linked.offset_window_max, linked.offset_previous_max);
    }
    if (v.acked < committed) {
      auto next = host_->ReadLog(v.acked + 1, v.acked + 1, 1);
      if (next.ok() && !next->empty()) v.oldest_unacked_wall_ms = (*next)[0].wall_time_ms();
    }
    out.push_back(std::move(v));
  };
  for (const auto& [id, peer] : peers_) add(peer.info, "", peer);
  const Peer nobody;  // down since ever
  for (const auto& [id, info] : unlinked_) {
    // Reached through this region's gateway, or (from a gateway) through its region's.
    const std::string via = gateway_of_.at(gateway_ ? info.region : self_.region);
    auto linked = peers_.find(via);
    add(info, via, linked == peers_.end() ? nobody : linked->second);
  }
  return out;
}

}  // namespace geodatastore::replication
