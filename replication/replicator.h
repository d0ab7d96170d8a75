// Replicator: the replication protocol of one node as a sans-IO state machine. It is fed
// timer ticks and received messages and returns the messages to send; gRPC (or the test
// simulator's network) only carries them.
//
// A stream is one origin's deltas to one linked peer. Per stream the sender keeps `acked`,
// the highest seq of that origin the peer has applied, and `sent`, the highest seq sent.
// Every flush interval it sends what follows `sent` as one delta group (deltas of the same
// key joined); without an acknowledgement within the retransmit timeout (doubling up to a
// cap, with jitter) it goes back to `acked`. Receivers apply batches of one origin in seq
// order and acknowledge what they applied. The node's own stream reads its delta log, whose
// entries are truncated once every peer acknowledged them; its cursors are persisted.
//
// Topology mesh: every node is linked to every peer and has only its own stream.
// Topology gateway: each region's gateway is its node with the lowest id. Nodes are linked
// to their region-mates, and gateways to each other. A gateway keeps each delta group it
// receives for relaying (in the relay log, atomically with applying it) and runs a relay
// stream per origin: deltas of its region-mates go to the other gateways, deltas of other
// regions to its region-mates. Relay entries go once every target acknowledged them.
// A gateway's acknowledgements carry what its relay targets (and theirs, transitively)
// applied, so every node knows how far every other node is, linked or not.
//
// Nothing a peer says is taken on trust (DESIGN.md, principle 6). Every message carries a
// checksum (replication/message_checksum.h) and names its sender, which must be the peer the
// transport authenticated; a batch of origin O comes from O itself or from the gateway in
// charge of relaying O here; an acknowledgement never claims more than this node sent on
// that stream (after a restart: than this process sent, beyond the persisted cursor); a
// covered_seq from a relay never more than O's own latest progress report
// says O assigned; a progress report about node N comes from N or from the gateway that
// relays N's region here, never claims more of this node than it committed, and is not
// stamped beyond the maximum clock offset. A message that breaks a rule is dropped whole
// and counted (ReplicatorCounters::rejected, ReplicationHost::OnRejected).
//
// Thread safety: not synchronized; the owner serializes every call.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "common/status.h"
#include "crdt/clock.h"
#include "geodatastore/v1/replication.pb.h"
#include "geodatastore/v1/storage.pb.h"
#include "storage/store.h"

namespace geodatastore::replication {

// What the protocol needs from its node.
class ReplicationHost {
 public:
  virtual ~ReplicationHost() = default;
  virtual crdt::ReplicaId self_replica() const = 0;
  // Highest own seq below which every seq is committed.
  virtual uint64_t CommittedSeq() const = 0;
  virtual StatusOr<std::vector<v1::DeltaRecord>> ReadLog(uint64_t from, uint64_t to,
                                                         size_t max_bytes) = 0;
  // Highest seq of origin applied here.
  virtual uint64_t Applied(crdt::ReplicaId origin) const = 0;
  // from: the node id of the peer that sent the batch. keep_for_relay: keep the batch in
  // the relay log, atomically with applying it, unless it was already applied.
  virtual Status ApplyRemote(const v1::DeltaBatch& batch, const std::string& from,
                             bool keep_for_relay) = 0;
  // Relay-log entries of origin with to_seq > after, stopping before max_bytes (at least one).
  virtual StatusOr<std::vector<v1::DeltaBatch>> ReadRelay(crdt::ReplicaId origin, uint64_t after,
                                                          size_t max_bytes) = 0;
  virtual Status TruncateRelay(crdt::ReplicaId origin, uint64_t upto) = 0;
  // Remembers that this node relays origin (across restarts); RelayOrigins lists them as
  // batch headers (origin, origin_node, origin_region).
  virtual Status SaveRelayOrigin(crdt::ReplicaId origin, const std::string& node,
                                 const std::string& region) = 0;
  virtual StatusOr<std::vector<v1::DeltaBatch>> RelayOrigins() = 0;
  virtual crdt::Timestamp HlcNow() = 0;
  virtual StatusOr<storage::Cursor> LoadCursor(const std::string& peer) = 0;
  virtual Status SaveCursor(const std::string& peer, const storage::Cursor& cursor) = 0;
  virtual Status TruncateLog(uint64_t upto) = 0;
  // This node's progress report (node id left empty).
  virtual v1::Progress OwnProgress() = 0;
  // This node's physical clock, milliseconds since the Unix epoch (0: unknown, and peers'
  // clock offsets are not measured).
  virtual uint64_t WallMillis() { return 0; }
  // The replicator rejected a message (a checksum failure, a forged acknowledgement...):
  // for the metrics. Payload rejections inside ApplyRemote the host counts itself.
  virtual void OnRejected(std::string_view reason) { (void)reason; }
};

enum class Topology { kMesh, kGateway };

struct ReplicatorOptions {
  Topology topology = Topology::kMesh;
  uint64_t flush_interval_ms = 5;
  size_t max_batch_bytes = 1 << 20;
  uint64_t retransmit_ms = 200;  // first retransmit timeout; doubles up to max
  uint64_t max_retransmit_ms = 5000;
  uint64_t heartbeat_ms = 100;
  uint64_t suspect_after_ms = 1000;    // nothing heard for this long: suspect
  uint64_t down_after_ms = 5000;       // nothing heard for this long: down
  uint64_t progress_ms = 1000;         // gossip of progress reports (v1::Progress)
  bool join_deltas = true;             // join deltas of the same key within a batch
  uint64_t max_clock_offset_ms = 500;  // progress reports stamped later than now + this: forged
  uint32_t seed = 1;                   // jitter
};

struct Outgoing {
  std::string to;
  v1::ReplicationMessage message;
};

enum class PeerState { kUp, kSuspect, kDown };
std::string_view PeerStateName(PeerState state);

struct PeerInfo {
  std::string id;
  std::string region;
};

// What the admin API and metrics show of a peer.
struct PeerView {
  std::string id;
  std::string region;
  std::string via;  // empty: linked; else the linked peer this one is reached through
  PeerState state = PeerState::kDown;
  uint64_t state_since_ms = 0;
  uint64_t acked = 0;                   // own seq the peer applied (as last reported)
  uint64_t behind_ops = 0;              // committed - acked
  uint64_t oldest_unacked_wall_ms = 0;  // 0: nothing unacknowledged
  uint64_t bytes_sent = 0;
  uint64_t bytes_received = 0;
  // The peer's physical clock minus this node's, as measured when its latest own progress
  // report arrived here (transit time included); unset for a peer not linked, not heard
  // from within kClockOffsetFreshMs, or whose host does not say.
  std::optional<int64_t> clock_offset_ms;
};

// How long a measured clock offset counts (PeerView::clock_offset_ms), and the window of
// the filter over them (Replicator::Peer).
inline constexpr uint64_t kClockOffsetFreshMs = 10'000;
inline constexpr uint64_t kClockOffsetWindowMs = 5'000;

// Age of the oldest write the peer has not acknowledged, in seconds (0 when none).
inline double SecondsBehind(const PeerView& peer, uint64_t now_wall_ms) {
  if (peer.oldest_unacked_wall_ms == 0 || peer.oldest_unacked_wall_ms > now_wall_ms) return 0;
  return (now_wall_ms - peer.oldest_unacked_wall_ms) / 1000.0;
}

struct ReplicatorCounters {
  uint64_t batches_sent = 0;
  uint64_t batches_applied = 0;
  uint64_t rejected_clock = 0;    // sender clock beyond the maximum offset
  uint64_t rejected_corrupt = 0;  // undecodable or invalid batches
  uint64_t gaps = 0;              // batches dropped for a gap (resent later)
  uint64_t retransmits = 0;
  uint64_t relayed = 0;  // batches forwarded for other origins
  // Messages dropped by the rules above, by reason: checksum, spoofed_sender, forged_ack,
  // forged_relay, forged_covered, forged_progress (payloads the host rejects it counts).
  std::map<std::string, uint64_t> rejected;
};

class Replicator {
 public:
  // REQUIRES: host outlives the replicator.
  // peers: every other node of the cluster (linked or not, as the topology says).
  Replicator(PeerInfo self, std::vector<PeerInfo> peers, ReplicationHost* host,
             ReplicatorOptions options);

  // Loads the persisted cursors and the relay streams. Call once before anything else.
  Status Start(uint64_t now_ms);
  // Timers: flushes, retransmits, heartbeats, failure detection, log truncation.
  std::vector<Outgoing> Tick(uint64_t now_ms);
  // authenticated: the node id the transport authenticated the sender as (its TLS
  // certificate); a message whose `from` differs is dropped (spoofed_sender).
  std::vector<Outgoing> Receive(const v1::ReplicationMessage& message,
                                const std::string& authenticated, uint64_t now_ms);
  // The transport lost the connection to peer: resend from its acknowledgement.
  void OnDisconnected(const std::string& peer);

  // Every peer of the cluster: linked ones as heard, the others through the acknowledgements
  // relayed to us.
  std::vector<PeerView> Peers(uint64_t now_ms) const;
  const ReplicatorCounters& counters() const { return counters_; }
  const std::string& self_id() const { return self_.id; }
  // Resynchronization: a stream whose next seq this node no longer holds (its log truncated
  // past the peer, or the peer lost its data) waits for anti-entropy. The owner runs a
  // session with each of NeedsResync(), taking ResyncFloors() just before it starts; after
  // it succeeded, Resynced(peer, floors) lets the streams carry on from there.
  std::vector<std::string> NeedsResync() const;
  std::map<crdt::ReplicaId, uint64_t> ResyncFloors() const;
  void Resynced(const std::string& peer, const std::map<crdt::ReplicaId, uint64_t>& floors);

  // The latest progress report of every node of the cluster heard of (this one's as of
  // its last gossip); a node not heard of yet is missing.
  const std::map<std::string, v1::Progress>& progress() const { return progress_; }
  // How many nodes the cluster has, this one included.
  size_t cluster_size() const { return 1 + peers_.size() + unlinked_.size(); }

  // Whether this node exchanges messages with peer directly.
  bool Linked(const std::string& peer) const { return peers_.count(peer) > 0; }

 private:
  struct Stream {  // one origin's deltas to one peer
    uint64_t acked = 0;
    uint64_t sent = 0;
    // The highest seq this process sent on the stream (own stream: from the persisted
    // cursor on), or that the peer's first acknowledgement of a relay stream said.
    uint64_t shipped = 0;
    // What an earlier incarnation may have sent (own stream: committed at start; relay:
    // applied here at start). An acknowledgement above both shipped and this is forged; one
    // between them is taken only as far as shipped (what was sent is unknown after a
    // restart), so a persisted cursor moves only to seqs this process sent.
    uint64_t sent_before = 0;
    uint64_t last_data_ms = 0;            // when unacknowledged data was last sent
    uint64_t timeout_ms = 0;              // current retransmit timeout
    uint64_t saved_acked = 0;             // own stream: persisted cursor
    bool confirmed = false;               // an acknowledgement arrived since start
    bool gap = false;                     // the next seq is no longer held here: needs anti-entropy
    uint64_t covered = 0;                 // anti-entropy gave the peer every seq up to this
    crdt::ReplicaId peer_replica = 0;     // the peer's replica id as of its last acknowledgement
    std::vector<v1::NodeAck> downstream;  // what the peer reported of its relay targets
  };
  struct Peer {
    PeerInfo info;
    bool gateway = false;
    std::map<crdt::ReplicaId, Stream> streams;
    uint64_t last_send_ms = 0;
    uint64_t last_heard_ms = 0;
    PeerState state = PeerState::kDown;
    uint64_t state_since_ms = 0;
    uint64_t bytes_sent = 0;
    uint64_t bytes_received = 0;
    // Clock offsets measured from its own progress reports (PeerView::clock_offset_ms): a
    // report delayed in transit (a held link, a backlog) makes the peer look behind, never
    // ahead, so the best estimate is the largest of the recent ones (NTP's minimum-delay
    // filter): the largest of the current window and of the one before.
    int64_t offset_window_max = INT64_MIN;
    int64_t offset_previous_max = INT64_MIN;
    uint64_t offset_window_start_ms = 0;
    uint64_t clock_offset_at_ms = 0;  // when the last one was measured
  };

  struct Relayed {  // an origin this gateway relays
    PeerInfo node;  // the origin's node
    uint64_t truncated = 0;
  };

  // The persisted cursor of peer, cut back to what this epoch committed (Start).
  StatusOr<storage::Cursor> LoadCursorOfThisEpoch(const std::string& peer);
  // The linked peers a relayed origin of region goes to (none unless this is a gateway).
  std::vector<Peer*> RelayTargets(const std::string& origin_region);
  void AddRelayStream(crdt::ReplicaId origin, PeerInfo node, bool save);
  // The acknowledgement of origin this node sends upstream: what it and, for a relayed
  // origin, its relay targets have applied.
  v1::ReplicationMessage AckFor(crdt::ReplicaId origin);
  // What this node may believe of ack on stream (replicator_trust.cc): nullopt if it claims
  // more than was ever sent on the stream (counted forged_ack); else ack with every seq at
  // most what this process sent (the rule on Stream::sent_before).
  std::optional<v1::Ack> Believed(Stream& stream, const v1::Ack& ack);
  // Handles an acknowledgement from peer; returns one to forward upstream, if any. A report
  // (carried by a heartbeat) only updates progress, never triggers a resend.
  std::vector<Outgoing> HandleAck(Peer& peer, const v1::Ack& ack, bool report);
  // The peer this node receives origin's deltas from (empty if not linked).
  std::string Upstream(const Relayed& relayed) const;
  // Sends stream's next batch to peer if none is in flight and there is one; true if sent.
  bool SendNext(Peer& peer, crdt::ReplicaId origin, Stream& stream, uint64_t now_ms,
                std::vector<Outgoing>* out);
  // The next batch of origin for stream (after stream.sent), or nothing if none is due.
  bool BuildOwnBatch(Stream& stream, v1::DeltaBatch* batch);
  bool BuildRelayBatch(crdt::ReplicaId origin, Stream& stream, v1::DeltaBatch* batch);
  // For a stream whose next seq (stream.sent + 1) is not held, where the held seqs start at
  // first: a batch saying what anti-entropy covered, if it covered the gap (false: wait).
  bool CoverGap(Stream& stream, uint64_t first, uint64_t last_held, v1::DeltaBatch* batch);
  // The own seq each peer has applied: linked peers' cursors, the others' reports.
  std::map<std::string, uint64_t> KnownAcked() const;
  v1::ReplicationMessage Envelope() const;
  // Every message names its sender's replica: a new one resets the streams to it.
  void NoteReplica(Peer& peer, crdt::ReplicaId replica);
  void UpdateState(Peer& peer, uint64_t now_ms);
  // Takes a report that sender passed on, if the rules above allow it.
  void MergeProgress(const v1::Progress& report, const Peer& sender, crdt::ReplicaId replica);
  // Whether sender may pass on reports about node to receiver (itself, or as the gateway
  // that relays node's region to receiver). Both ends use it: senders send only these.
  bool MayReport(const std::string& sender, const std::string& receiver,
                 const std::string& node) const;
  // The region of a node of the cluster; nullptr if unknown.
  const std::string* RegionOf(const std::string& node) const;
  // Whether sender may send a batch of origin (named by its node origin_node).
  bool MaySendBatch(const Peer& sender, crdt::ReplicaId replica, const v1::DeltaBatch& batch) const;
  // Whether batch's covered_seq is within what is known of its origin.
  bool CoveredKnown(const Peer& sender, const v1::DeltaBatch& batch) const;
  std::vector<Outgoing> ReceiveDeltas(Peer& peer, const v1::ReplicationMessage& message,
                                      uint64_t now_ms);
  void Reject(std::string_view reason);
  // Seals every message (its checksum): the last step before messages leave.
  static std::vector<Outgoing> Sealed(std::vector<Outgoing> out);
  uint64_t Jittered(uint64_t ms);

  const PeerInfo self_;
  ReplicationHost* const host_;
  const ReplicatorOptions options_;
  bool gateway_ = false;
  std::map<std::string, Peer> peers_;               // linked peers
  std::map<std::string, PeerInfo> unlinked_;        // the rest of the cluster
  std::map<std::string, uint64_t> reported_;        // unlinked peer -> own seq it applied
  std::map<std::string, uint64_t> saved_reported_;  // persisted part of reported_
  std::map<std::string, std::string> gateway_of_;   // region -> its gateway's id
  std::map<crdt::ReplicaId, Relayed> relayed_;
  std::map<std::string, v1::Progress> progress_;  // node id -> its latest report
  uint64_t last_progress_ms_ = 0;
  uint64_t last_flush_ms_ = 0;
  uint64_t truncated_ = 0;
  ReplicatorCounters counters_;
  std::mt19937 rng_;
};

}  // namespace geodatastore::replication
