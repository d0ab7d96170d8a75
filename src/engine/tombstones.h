// TombstoneCollector: drops the tombstones of 2P-Sets, LWW-element-sets and LWW graphs once
// every replica has seen their removal and nothing that could bring the element back is
// still on its way. One round:
//   1. Snapshot: the tombstones held here (up to max_objects) and K1, what the states here
//      may hold (Engine::Knowledge), limited to the nodes' current replicas.
//   2. Seen: wait until every node's progress report (replication/ gossips them) shows it
//      applied K1: every replica then holds every removal of the snapshot. Note each node's
//      report clock h1. K1 may hold an entry no replica reaches (a forged knowledge vector,
//      joined in earlier, would stop collection for good): an entry of replica R above what
//      R's node says it assigned, in a report stamped later than the snapshot plus the
//      maximum clock offset (so made after it), is lowered to that (the states of the
//      snapshot cannot hold R's writes it had not made yet) and counted (knowledge).
//   3. Delivered: wait for a later report of every node and take its assigned seq (W2):
//      a write that node made before it saw the removals has a seq up to W2. Wait until
//      every node applied W2: no such write is still on its way anywhere.
//   4. Collect the snapshot's tombstones the objects still hold unchanged, of LWW entries
//      only those stamped before every node's h1 (a node's later stamps are above it).
// Each node collects on its own (no log entry). Receivers never join again deltas they
// applied before (Engine::ApplyRemote), so retransmissions cannot bring a collected element
// back; states joined from other replicas raise the knowledge (Engine::JoinStates), so a
// tombstone that came by anti-entropy waits for what its sender knew.
//
// Known limits: a node restored from a backup taken before a collection, or writes with
// client-supplied timestamps older than a collected removal, can bring an element back (as
// in every system that collects tombstones); a 2P-Set element can be added again once its
// tombstone is collected everywhere.
//
// Thread safety: not synchronized; one thread calls Step.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "engine/engine.h"

namespace geodatastore::engine {

struct TombstoneOptions {
  uint64_t interval_ms = 10000;  // between the end of a round and the next snapshot
  size_t max_objects = 100000;   // objects per type in one round's snapshot
};

class TombstoneCollector {
 public:
  // REQUIRES: engine outlives the collector.
  TombstoneCollector(Engine* engine, TombstoneOptions options)
      : engine_(engine), options_(options) {}

  // Advances the round. progress: the latest report of every node known (this one's too);
  // cluster_size: how many nodes there are. Returns how many tombstones went.
  StatusOr<uint64_t> Step(const std::map<std::string, v1::Progress>& progress, size_t cluster_size,
                          uint64_t now_ms);

  uint64_t collected() const { return collected_; }
  uint64_t rounds() const { return rounds_; }
  // 0 idle, 1 waiting until every node saw the removals, 2 until nothing older is on its way.
  int phase() const { return static_cast<int>(phase_); }
  // What the round waits for, for diagnostics: origin -> seq every node must apply.
  const std::map<uint64_t, uint64_t>& waiting_for() const {
    return phase_ == Phase::kSeen ? k1_ : w2_;
  }

 private:
  enum class Phase { kIdle = 0, kSeen = 1, kDelivered = 2 };
  // Whether every node's report shows it applied wanted (per origin); false if a report is
  // missing or a node has a new replica since the round began.
  bool AllApplied(const std::map<std::string, v1::Progress>& progress,
                  const std::map<uint64_t, uint64_t>& wanted) const;
  void Reset(uint64_t now_ms);
  // Lowers the K1 entries that their replica's own later report shows unreachable (step 2).
  void BoundKnowledge(const std::map<std::string, v1::Progress>& progress);

  Engine* const engine_;
  const TombstoneOptions options_;
  Phase phase_ = Phase::kIdle;
  uint64_t round_end_ms_ = 0;
  std::vector<Engine::TombstoneSnapshot> snapshot_;
  std::map<std::string, uint64_t> replicas_;  // node -> its replica when the round began
  std::map<uint64_t, uint64_t> k1_;           // origin -> seq
  uint64_t made_after_ms_ = 0;                // a report stamped later was made after K1 was read
  std::map<std::string, std::pair<uint64_t, uint32_t>> h1_;  // node -> report clock
  std::map<uint64_t, uint64_t> w2_;                          // replica -> assigned seq
  bool w2_taken_ = false;
  uint64_t collected_ = 0;
  uint64_t rounds_ = 0;
};

}  // namespace geodatastore::engine
