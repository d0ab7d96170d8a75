// Anti-entropy sessions as sans-IO state machines (proto/geodatastore/v1/antientropy.proto
// has the protocol). The initiator's Session produces requests and consumes replies;
// Respond answers a request from the local node. gRPC (or a test) carries them.
//
// Thread safety: a Session is not synchronized; Respond is as thread-safe as its host.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <vector>

#include "common/status.h"
#include "geodatastore/v1/antientropy.pb.h"
#include "storage/merkle.h"
#include "storage/store.h"

namespace geodatastore::antientropy {

// What a session needs from its node.
class SyncHost {
 public:
  virtual ~SyncHost() = default;
  // False while the Merkle trees are rebuilt: no session can run.
  virtual bool Ready() const = 0;
  virtual std::vector<storage::Digest> TreeNodes(v1::CrdtType type, int level,
                                                 const std::vector<uint32_t>& indices) const = 0;
  virtual StatusOr<std::vector<storage::BucketEntry>> BucketEntries(
      v1::CrdtType type, const std::vector<uint32_t>& buckets) const = 0;
  // The states of the objects held here with the asked type (others are left out).
  virtual StatusOr<std::vector<v1::ObjectState>> ReadStates(
      const std::vector<v1::ObjectRef>& objects) const = 0;
  // Joins the states into this node's, atomically; all or nothing (any invalid state is
  // kCorruption or kInvalidArgument and changes nothing). Returns how many objects changed.
  // knowledge: what the sender's states may hold (raised here before they are joined).
  virtual StatusOr<uint64_t> JoinStates(const std::vector<v1::ObjectState>& states,
                                        const v1::VersionVector& knowledge) = 0;
  // What this node's states may hold (Engine::Knowledge), sent along with them.
  virtual v1::VersionVector Knowledge() const = 0;
  // A message failed its checksum (reason "checksum"): counted, never joined.
  virtual void OnRejected(std::string_view reason) { (void)reason; }
};

struct SessionOptions {
  size_t buckets_per_request = 4096;
  size_t objects_per_request = 1000;
  size_t max_message_bytes = 2 << 20;  // states per push request and pull reply
};

struct SessionStats {
  uint64_t nodes_compared = 0;    // tree nodes whose digests were compared
  uint64_t buckets_compared = 0;  // leaves that differed, whose keys were compared
  uint64_t keys_compared = 0;     // key digests compared (both sides)
  uint64_t pulled = 0;            // objects fetched from the peer
  uint64_t pushed = 0;            // objects sent to the peer
  uint64_t repaired_here = 0;     // objects whose state the pulled states changed here
  uint64_t repaired_there = 0;    // ... and there
  uint64_t bytes_sent = 0;        // request bytes
  uint64_t bytes_received = 0;    // reply bytes
  uint64_t requests = 0;
};

// The initiator's side of one session.
class Session {
 public:
  // REQUIRES: host outlives the session.
  Session(SyncHost* host, std::string self_id, SessionOptions options = {});

  // The next request to send, or nullopt when the session is over (check status()).
  // REQUIRES: the previous request's reply went to OnReply.
  std::optional<v1::SyncRequest> Next();
  // The peer's answer to the last request. An error ends the session.
  void OnReply(const v1::SyncReply& reply);
  // The transport failed: ends the session with status.
  void Fail(Status status) { status_ = std::move(status); }

  bool done() const { return done_; }
  const Status& status() const { return status_; }
  const SessionStats& stats() const { return stats_; }

 private:
  enum class Phase { kTree, kRepair, kDone };
  Status OnNodes(const v1::NodesReply& reply);
  Status OnKeys(const v1::KeysReply& reply);
  Status OnPull(const v1::PullReply& reply);

  SyncHost* const host_;
  const std::string self_id_;
  const SessionOptions options_;
  Phase phase_ = Phase::kTree;
  bool done_ = false;
  Status status_;
  SessionStats stats_;
  v1::SyncRequest last_;  // what the reply answers
  // Tree phase: the nodes asked for at the current level, per type.
  std::vector<v1::NodeSet> level_sets_;
  // Repair phase: differing buckets still to compare, and objects to pull and push.
  std::deque<std::pair<v1::CrdtType, uint32_t>> buckets_;
  std::deque<v1::ObjectRef> to_pull_;
  std::deque<v1::ObjectRef> to_push_;
};

// The responder's side: answers one request from host. A pull reply holds states up to
// max_reply_bytes (at least one).
Status Respond(SyncHost* host, const v1::SyncRequest& request, v1::SyncReply* reply,
               size_t max_reply_bytes = 2 << 20);

}  // namespace geodatastore::antientropy
