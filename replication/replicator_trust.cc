// Replicator: the rules a peer's message must pass before any of it is taken (the trust
// paragraph of replication/replicator.h), and the sealing of outgoing messages.
#include "crdt/validate.h"
#include "replication/message_checksum.h"
#include "replication/replicator.h"

namespace geodatastore::replication {

void Replicator::MergeProgress(const v1::Progress& report, const Peer& sender,
                               crdt::ReplicaId replica) {
  if (RegionOf(report.node()) == nullptr) return;  // a node of another configuration
  // Nobody speaks for this node but itself; others speak only for the nodes they relay,
  // never claim this node's writes beyond what it committed, nor stamp a report in the
  // future (it would stand until then).
  const bool forged =
      report.node() == self_.id || !MayReport(sender.info.id, self_.id, report.node()) ||
      (report.node() == sender.info.id && report.replica() != replica) || report.replica() == 0 ||
      report.hlc_physical() > host_->HlcNow().physical + options_.max_clock_offset_ms;
  uint64_t claimed = 0;
  for (const v1::Dot& e : report.applied().entries()) {
    if (e.replica() == host_->self_replica()) claimed = e.counter();
  }
  if (forged || claimed > host_->CommittedSeq()) {
    Reject("forged_progress");
    return;
  }
  auto [it, fresh] = progress_.try_emplace(report.node(), report);
  if (fresh) return;
  const auto stamp = [](const v1::Progress& p) {
    return std::make_pair(p.hlc_physical(), p.hlc_logical());
  };
  if (stamp(report) > stamp(it->second)) it->second = report;
}

const std::string* Replicator::RegionOf(const std::string& node) const {
  if (node == self_.id) return &self_.region;
  if (auto p = peers_.find(node); p != peers_.end()) return &p->second.info.region;
  if (auto u = unlinked_.find(node); u != unlinked_.end()) return &u->second.region;
  return nullptr;
}

bool Replicator::MayReport(const std::string& sender, const std::string& receiver,
                           const std::string& node) const {
  if (sender == node) return true;
  if (options_.topology != Topology::kGateway) return false;
  const std::string* from = RegionOf(sender);
  const std::string* to = RegionOf(receiver);
  const std::string* of = RegionOf(node);
  if (from == nullptr || to == nullptr || of == nullptr || gateway_of_.at(*from) != sender)
    return false;
  // A gateway relays its region's nodes to the other gateways, the others to its region.
  return *of == *from ? *to != *from : *to == *from;
}

bool Replicator::MaySendBatch(const Peer& sender, crdt::ReplicaId replica,
                              const v1::DeltaBatch& batch) const {
  const std::string& node = batch.origin_node().empty() ? sender.info.id : batch.origin_node();
  if (node == sender.info.id) return batch.origin() == replica;  // its own deltas
  if (options_.topology != Topology::kGateway || node == self_.id) return false;
  const std::string* region = RegionOf(node);
  if (region == nullptr || *region != batch.origin_region() || *region == self_.region)
    return false;
  // Relayed by the gateway of the origin's region (to this gateway), or of this region.
  return sender.info.id == gateway_of_.at(gateway_ ? *region : self_.region);
}

bool Replicator::CoveredKnown(const Peer& sender, const v1::DeltaBatch& batch) const {
  if (batch.covered_seq() == 0 || batch.origin_node().empty() ||
      batch.origin_node() == sender.info.id) {
    return true;  // the origin's own word about its own seqs
  }
  // A relay covers what it applied, which the origin had assigned before.
  auto report = progress_.find(batch.origin_node());
  return report != progress_.end() && report->second.replica() == batch.origin() &&
         batch.covered_seq() <= report->second.assigned_seq();
}

std::optional<v1::Ack> Replicator::Believed(Stream& stream, const v1::Ack& ack) {
  // Nobody downstream of the peer gets this origin's deltas but through it, so neither the
  // peer nor they can have applied more than this node shipped to it. Except that a relay
  // stream that has not heard from its peer probes: the peer may hold more than this node
  // sent it (an earlier incarnation of this gateway, since wiped, relayed it), and its first
  // acknowledgement says where it is.
  uint64_t claimed = ack.applied_seq();
  for (const v1::NodeAck& d : ack.downstream()) claimed = std::max(claimed, d.applied_seq());
  if (ack.origin() != host_->self_replica() && !stream.confirmed) {
    stream.shipped = std::max(stream.shipped, claimed);
    return ack;
  }
  if (claimed > std::max(stream.shipped, stream.sent_before)) {
    Reject("forged_ack");
    return std::nullopt;
  }
  if (claimed <= stream.shipped) return ack;
  // Perhaps sent before this start, but that is unknown now: believed as far as this process
  // sent. The peer says the same again once it is sent the rest (as a duplicate).
  v1::Ack bounded = ack;
  bounded.set_applied_seq(std::min(ack.applied_seq(), stream.shipped));
  for (v1::NodeAck& d : *bounded.mutable_downstream())
    d.set_applied_seq(std::min(d.applied_seq(), stream.shipped));
  return bounded;
}

void Replicator::Reject(std::string_view reason) {
  ++counters_.rejected[std::string(reason)];
  host_->OnRejected(reason);
}

std::vector<Outgoing> Replicator::Sealed(std::vector<Outgoing> out) {
  for (Outgoing& o : out) Seal(&o.message);
  return out;
}

}  // namespace geodatastore::replication
