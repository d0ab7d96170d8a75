// Replicator: the replication protocol of one node as a sans-IO state machine. It is fed
// timer ticks and received messages and returns the messages to send; gRPC (or the test
// simulator's network) only carries them. Mesh topology: each node ships its own deltas to
// every peer.
//
// Per peer it keeps a cursor: `acked`, the highest own seq the peer has applied (persisted),
// and `sent`, the highest seq sent. Every flush interval it sends the committed deltas after
// `sent` as one delta group (deltas of the same key joined); without an acknowledgement
// within the retransmit timeout (doubling up to a cap, with jitter) it goes back to `acked`.
// Receivers apply batches of one origin in seq order and acknowledge what they applied.
// The delta log is truncated once every peer acknowledged.
//
// Thread safety: not synchronized; the owner serializes every call.
#pragma once

#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "common/status.h"
#include "crdt/clock.h"
#include "geodatastore/v1/replication.pb.h"
#include "geodatastore/v1/storage.pb.h"

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
  // from: the node id of the peer that sent the batch.
  virtual Status ApplyRemote(const v1::DeltaBatch& batch, const std::string& from) = 0;
  virtual crdt::Timestamp HlcNow() = 0;
  virtual StatusOr<uint64_t> LoadCursor(const std::string& peer) = 0;
  virtual Status SaveCursor(const std::string& peer, uint64_t acked) = 0;
  virtual Status TruncateLog(uint64_t upto) = 0;
};

struct ReplicatorOptions {
  uint64_t flush_interval_ms = 5;
  size_t max_batch_bytes = 1 << 20;
  uint64_t retransmit_ms = 200;  // first retransmit timeout; doubles up to max
  uint64_t max_retransmit_ms = 5000;
  uint64_t heartbeat_ms = 100;
  uint64_t suspect_after_ms = 1000;  // nothing heard for this long: suspect
  uint64_t down_after_ms = 5000;     // nothing heard for this long: down
  bool join_deltas = true;           // join deltas of the same key within a batch
  uint32_t seed = 1;                 // jitter
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
  PeerState state = PeerState::kDown;
  uint64_t state_since_ms = 0;
  uint64_t acked = 0;                   // own seq the peer applied
  uint64_t behind_ops = 0;              // committed - acked
  uint64_t oldest_unacked_wall_ms = 0;  // 0: nothing unacknowledged
  uint64_t bytes_sent = 0;
  uint64_t bytes_received = 0;
};

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
};

class Replicator {
 public:
  // REQUIRES: host outlives the replicator.
  Replicator(std::string self_id, std::vector<PeerInfo> peers, ReplicationHost* host,
             ReplicatorOptions options);

  // Loads the persisted cursors. Call once before anything else.
  Status Start(uint64_t now_ms);
  // Timers: flushes, retransmits, heartbeats, failure detection, log truncation.
  std::vector<Outgoing> Tick(uint64_t now_ms);
  std::vector<Outgoing> Receive(const v1::ReplicationMessage& message, uint64_t now_ms);
  // The transport lost the connection to peer: resend from its acknowledgement.
  void OnDisconnected(const std::string& peer);

  std::vector<PeerView> Peers(uint64_t now_ms) const;
  const ReplicatorCounters& counters() const { return counters_; }
  const std::string& self_id() const { return self_id_; }

 private:
  struct Peer {
    PeerInfo info;
    uint64_t acked = 0;
    uint64_t sent = 0;
    uint64_t last_send_ms = 0;
    uint64_t last_data_ms = 0;  // when unacknowledged data was last sent
    uint64_t timeout_ms = 0;    // current retransmit timeout
    uint64_t last_heard_ms = 0;
    PeerState state = PeerState::kDown;
    uint64_t state_since_ms = 0;
    uint64_t saved_acked = 0;
    uint64_t oldest_unacked_wall_ms = 0;
    uint64_t bytes_sent = 0;
    uint64_t bytes_received = 0;
  };

  // The next batch for peer (after peer.sent), or nothing if none is due.
  bool BuildBatch(Peer& peer, v1::DeltaBatch* batch);
  v1::ReplicationMessage Envelope() const;
  void UpdateState(Peer& peer, uint64_t now_ms);
  uint64_t Jittered(uint64_t ms);

  const std::string self_id_;
  ReplicationHost* const host_;
  const ReplicatorOptions options_;
  std::map<std::string, Peer> peers_;
  uint64_t last_flush_ms_ = 0;
  uint64_t truncated_ = 0;
  ReplicatorCounters counters_;
  std::mt19937 rng_;
};

}  // namespace geodatastore::replication
