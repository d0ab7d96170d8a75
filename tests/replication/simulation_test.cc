// Deterministic simulation of replication (sim/harness.h): five nodes in three regions
// under drops, duplicates, reordering, partitions and crash-restarts, with clients writing
// counters, OR-Sets, typed counters and sets created concurrently with different types,
// and session clients reading their writes on other nodes with their tokens
// (sim/workload.h). After healing, every replica must hold the same type and byte-identical
// state for every key, every counter the sum of its acknowledged increments, every OR-Set
// what the add-wins rule gives for the acknowledged ops, every typed set every acknowledged
// add (or keep it under lost/), and no (replica, seq) may have been issued twice.
//
// Every seed runs in both topologies: mesh, and gateway (us-east-1, eu-west-1 and ap-south-1
// relay; no other node may send across regions). Afterwards every node's view of every
// other node's progress (the lag the admin API shows) must be exact, linked or not.
//
// A failing seed names itself; replay it alone, with a trace of crashes, boots, ops and
// delivered batches, with
//   GDS_SIM_TRACE=1 build/bin/simulation_test
//   --gtest_filter='Seeds/Simulation.Converges/gateway_17'
// `make soak` runs 10,000 seeds (docs/simulation.md).
#include "replication/sim/workload.h"

namespace geodatastore::sim {
namespace {

enum class Faults {
  kPlain,    // crashes keep the disk whole
  kLogLoss,  // delta logs truncated, disks wiped: anti-entropy repairs
  kWal,      // crashes that damage the newest write-ahead log (sim/wal_damage.h)
};

class Simulation : public Workload {
 protected:
  void RunAndCheck(Faults faults);
  // Loses a disk, or damages a write-ahead log, once target's own writes are everywhere
  // (it takes no client ops meanwhile): what it lost its peers hold, and anti-entropy
  // brings it back. A node's acknowledged writes that reached no other replica are lost with
  // its disk; the checkers do not cover that.
  void MaybeDamage(Faults faults);

  SimNode* target_ = nullptr;  // a node to damage as soon as its writes are everywhere
};

TEST_P(Simulation, Converges) { RunAndCheck(Faults::kPlain); }

// Nodes lose their delta logs now and then (everything not yet shipped included), and now
// and then a node its whole disk (once its own writes are everywhere): streams wait for
// anti-entropy, which repairs the peers, and then carry on. The OR-Set model is checked
// one way only: a node may hold an add through anti-entropy that its applied vector does
// not show, so a remove there may take it away without the model knowing.
class LogLoss : public Simulation {};
TEST_P(LogLoss, ConvergesWhenDeltaLogsAreLost) { RunAndCheck(Faults::kLogLoss); }

// Crashes that cut the newest write-ahead log's tail (after the high-water mark was saved)
// or flip one of its bytes, each once the node's writes are everywhere. The node must notice
// that it went backwards (Store::wal_loss, or its delta log below the HIGH_WATER mark) and
// take a new replica epoch; no acknowledged add may be lost to the anti-entropy that
// refills it, and no (replica, seq) or dot may be issued twice.
class WalDamage : public Simulation {};
TEST_P(WalDamage, NothingAcknowledgedIsLostOrReissued) {
  // Acknowledgements in flight when a node took its new epoch (through gateways: of what
  // its relay targets applied) claim more than the new replica sent: refused, harmlessly.
  allowed_rejections_.insert("forged_ack");
  RunAndCheck(Faults::kWal);
}

void Simulation::MaybeDamage(Faults faults) {
  if (faults == Faults::kPlain) return;
  if (target_ == nullptr && Chance(faults == Faults::kWal ? 0.006 : 0.002)) target_ = &AnyNode();
  if (target_ == nullptr || !target_->up || !Shipped(*target_)) return;
  for (const auto& other : nodes_) {
    if (!other->up) return;
  }
  SimNode& n = *target_;
  target_ = nullptr;
  if (faults == Faults::kWal) {
    CrashDamagingWal(n, Chance(0.5));
    return;
  }
  // Its peers notice the new replica and refill it by anti-entropy.
  Crash(n);
  n.env.reset(rocksdb::NewMemEnv(rocksdb::Env::Default()));
  n.restart_at = now_ + Rand(20, 300);
  Trace("wiped " + n.id);
}

void Simulation::RunAndCheck(Faults faults) {
  SCOPED_TRACE("seed " + std::to_string(Seed()));
  uint64_t partition_until = 0;
  // Chaos: client ops everywhere, with drops, duplicates, reordering, partitions, crashes.
  for (int t = 0; t < 1500; ++t) {
    if (Chance(0.3)) {
      SimNode& n = AnyNode();
      if (n.up && &n != target_) ClientOp(n);
      if (HasFatalFailure()) return;
    }
    if (Chance(0.1)) SessionRead();
    MaybePartition(0.004, &partition_until);
    if (faults == Faults::kLogLoss && Chance(0.003)) {
      SimNode& n = AnyNode();
      if (n.up) {
        Trace("log lost on " + n.id);
        ASSERT_TRUE(n.store->TruncateLog(n.identity.replica, n.engine->CommittedSeq()).ok());
      }
    }
    MaybeDamage(faults);
    if (HasFatalFailure()) return;
    MaybeCrash(0.002);
    Step();
    if (HasFatalFailure()) return;
  }
  HealAndCheckConvergence();
  if (HasFatalFailure()) return;
  for (int i = 0; i < 20; ++i) SessionRead();
  CheckCounters();
  // Not with lost delta logs: a type conflict's loser under lost/ is not in the Merkle trees,
  // so anti-entropy never carries it; a loser whose deltas were truncated before they
  // shipped lives on one replica, and goes with its disk (an open problem, docs/simulation.md).
  if (faults != Faults::kLogLoss) CheckTypedSets();
  CheckOrSets(/*exact=*/faults == Faults::kPlain);
  Trace("typed creates " + std::to_string(typed_creates_) + ", session reads " +
        std::to_string(session_reads_) + ", new epochs " + std::to_string(new_epochs_) +
        ", damaged logs " + std::to_string(wal_damaged_) + " (RocksDB saw " +
        std::to_string(wal_detected_) + ")");
}

INSTANTIATE_TEST_SUITE_P(Seeds, Simulation, Seeds(120), SeedName);
INSTANTIATE_TEST_SUITE_P(Seeds, LogLoss, Seeds(60), SeedName);
INSTANTIATE_TEST_SUITE_P(Seeds, WalDamage, Seeds(50), SeedName);

}  // namespace
}  // namespace geodatastore::sim
