// The simulator's harness (after FoundationDB's simulator): five nodes in three regions,
// each a real Engine on an in-memory RocksDB, exchange the messages of their Replicators
// over a seeded network with per-message delay, drops, duplicates and reordering,
// partitions, crash-restarts (optionally damaging the newest write-ahead log first) and
// skewed clocks. Each node does what src/server/node.cc does around its engine: it takes
// its identity with storage::LoadIdentity at every boot (a new replica epoch when the
// store went backwards), saves its high-water marks every 200 ms and checks its clock
// against its peers' every second (replication::CheckClock, Engine::SetClockFence).
//
// Time is simulated: now_ is milliseconds since the start; a node's wall clock is
// kEpochMs + now_ + its skew. Everything is driven by one seeded generator, so a seed
// replays exactly (GDS_SIM_TRACE=1 prints crashes, boots, ops and delivered batches).
//
// Thread safety: single-threaded, like every GoogleTest fixture.
#pragma once

#include <gtest/gtest.h>
#include <rocksdb/env.h>

#include <cstdlib>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "antientropy/session.h"
#include "engine/engine.h"
#include "engine/replication_host.h"
#include "engine/sync_host.h"
#include "engine/tombstones.h"
#include "replication/clock_fence.h"
#include "replication/replicator.h"
#include "replication/sim/wal_damage.h"
#include "storage/node_identity.h"

namespace geodatastore::sim {

struct SimNode {
  std::string id;
  std::string region;
  storage::NodeIdentity identity;     // replica 0 until the first boot
  uint64_t booted_at = 0;             // simulated time of the last boot
  std::unique_ptr<rocksdb::Env> env;  // survives crash-restart, like a disk
  crdt::ManualClock clock;
  int64_t skew_ms = 0;  // of its wall clock; a restart may change it (SetSkewAtRestart)
  std::unique_ptr<storage::Store> store;
  std::unique_ptr<engine::Engine> engine;
  std::unique_ptr<engine::EngineReplicationHost> host;
  std::unique_ptr<replication::Replicator> replicator;
  std::unique_ptr<engine::TombstoneCollector> collector;
  bool up = false;
  uint64_t restart_at = 0;
};

using SimParam = std::tuple<replication::Topology, int>;

// How many seeds a suite runs per topology: by_default, or under GDS_SIM_SEEDS=N (make soak)
// its share of N seeds over every suite (kDefaultSeeds in all by default).
inline constexpr int kDefaultSeeds = 2 * (120 + 60 + 60 + 40 + 50);
inline int SeedCount(int by_default) {
  const char* total = std::getenv("GDS_SIM_SEEDS");
  if (total == nullptr || std::atoi(total) <= 0) return by_default;
  return (std::atoi(total) * by_default + kDefaultSeeds - 1) / kDefaultSeeds;
}
inline auto Seeds(int by_default) {
  return ::testing::Combine(
      ::testing::Values(replication::Topology::kMesh, replication::Topology::kGateway),
      ::testing::Range(1, 1 + SeedCount(by_default)));
}
inline std::string SeedName(const ::testing::TestParamInfo<SimParam>& info) {
  return std::string(std::get<0>(info.param) == replication::Topology::kMesh ? "mesh_"
                                                                             : "gateway_") +
         std::to_string(std::get<1>(info.param));
}

class SimHarness : public ::testing::TestWithParam<SimParam> {
 protected:
  static constexpr uint64_t kEpochMs = 1'700'000'000'000;  // wall clocks start here
  static constexpr uint64_t kMaxOffsetMs = 500;            // clock.max_offset_ms
  static constexpr uint64_t kHighWaterMs = 200;            // Node::Housekeeping's period
  static constexpr uint64_t kClockCheckMs = 1000;

  void SetUp() override;
  void Boot(SimNode& n);
  // Crash: everything in memory is gone; the "disk" (the Env) stays.
  void Crash(SimNode& n);
  // A crash that damages the newest write-ahead log first (sim/wal_damage.h). After the
  // restart the node must not issue any (replica, seq) again: either it kept every own write
  // it had committed, or it took a new replica epoch. flip: a flipped byte (RocksDB's
  // kAbsoluteConsistency must see it); else a truncated tail, after the high-water mark was
  // saved (it covers what the truncation drops).
  void CrashDamagingWal(SimNode& n, bool flip);

  void Step(uint64_t dt = 1);
  void Send(const std::string& from, std::vector<replication::Outgoing> out);
  void Resync(SimNode& n);
  void Housekeeping(SimNode& n);

  // With probability p, cuts a random group of nodes off from the rest until a random time
  // (none while a partition lasts); heals once *until has passed.
  void MaybePartition(double p, uint64_t* until);
  // With probability p, crashes a random node that is up; it restarts a little later.
  void MaybeCrash(double p);

  // Heals, waits for quiescence (dt: simulated ms per step after the first 2 s; clock
  // suites wait minutes for stamps issued ahead to become acceptable) and for exact
  // progress views, then checks that every replica holds the same type and bytes for every
  // key, and that nothing legitimate was rejected.
  void HealAndCheckConvergence(uint64_t slow_dt = 1, uint64_t deadline_ms = 60000);

  int Seed() const { return std::get<1>(GetParam()); }
  replication::Topology Topology() const { return std::get<0>(GetParam()); }
  bool Gateway(const std::string& id) const {
    return id == "us-east-1" || id == "eu-west-1" || id == "ap-south-1";
  }
  void Trace(const std::string& what) const;
  uint64_t Wall(const SimNode& n) const {
    return kEpochMs + now_ + 7 * static_cast<uint64_t>(n.id.back() - '0') + n.skew_ms;
  }
  uint64_t Rand(uint64_t lo, uint64_t hi) {
    return std::uniform_int_distribution<uint64_t>(lo, hi)(rng_);
  }
  bool Chance(double p) { return std::uniform_real_distribution<double>(0, 1)(rng_) < p; }
  SimNode* Find(const std::string& id) const;
  SimNode& AnyNode() { return *nodes_[Rand(0, nodes_.size() - 1)]; }
  bool Partitioned(const std::string& a, const std::string& b) const {
    return partitioned_.count(a) != partitioned_.count(b);
  }

  void Tally(const SimNode& n);
  void ExpectNothingLegitimateRejected();
  bool ViewsExact() const { return ViewsMismatch().empty(); }
  std::string ViewsMismatch() const;
  std::string Missing() const;
  bool Quiescent() const;
  // Every other node that is up has applied n's committed writes.
  bool Shipped(const SimNode& n) const;

  std::vector<std::unique_ptr<SimNode>> nodes_;
  std::mt19937 rng_;
  uint64_t now_ = 1;
  uint64_t order_ = 0;
  double drop_ = 0.1;
  double duplicate_ = 0.05;
  uint64_t max_delay_ = 40;
  std::set<std::string> partitioned_;
  std::map<std::string, uint64_t> rejected_;  // by reason, over every node and restart
  std::set<std::string> allowed_rejections_ = {"forged_covered"};
  bool allow_failed_sessions_ = false;  // anti-entropy sessions refused (clock skew)
  struct InFlight {
    std::string to;
    std::string from;
    v1::ReplicationMessage message;
  };
  std::multimap<std::pair<uint64_t, uint64_t>, InFlight> network_;
  bool collect_ = false;  // run the tombstone collectors
  uint64_t collected_ = 0;
  uint64_t new_epochs_ = 0;       // boots that took a new replica epoch
  uint64_t wal_damaged_ = 0;      // crashes that changed a write-ahead log
  uint64_t wal_detected_ = 0;     // of those, boots that reported RocksDB dropping records
  uint64_t fenced_changes_ = 0;   // a node fenced or unfenced itself
};

}  // namespace geodatastore::sim
