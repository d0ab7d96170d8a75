// Clock skew under the simulator's chaos (sim/harness.h, sim/workload.h): one node's wall
// clock runs 300 s ahead or behind for part of the run, or a node is restarted with a clock
// that changed (from +300 s to correct, from correct to 300 s behind, from +300 s to
// -300 s), while clients write LWW registers besides the usual workload. Peers refuse
// stamps from beyond the maximum offset, the skewed node fences its LWW writes once it has
// measured its peers' clocks (replication::CheckClock, called as Node::CheckClock does),
// and after a restart its clock resumes above the persisted HLC ceiling (HIGH_WATER).
//
// What must hold, and why it is sound with skewed clocks: the outcome of LWW writes from
// different nodes is decided by their stamps, and a skewed node's stamps legitimately win
// or lose against writes made earlier or later in real time elsewhere. What skew must never
// do is make a node's own stamps go backwards, since that lets an earlier acknowledged
// write of the node win over a later one. So:
//   - the stamps of the acknowledged LWW writes of each node (by node id, across restarts
//     and epochs) rise strictly in the (real, simulated) order of their acknowledgements;
//   - an acknowledged LWW write wins on its own node at once (the op's stamp is the
//     register's): the clock followed every stamp the node merged;
//   - after healing (and waiting in simulated time until stamps issued ahead are within the
//     maximum offset, so peers take them) every register holds the acknowledged write with
//     the highest stamp: no acknowledged write is lost to a lower stamp;
//   - everything else the other suites check (convergence, counters, sets, sessions).
// Clock-offset refusals are legitimate here (the skewed node's reports and batches).
#include "replication/sim/workload.h"

namespace geodatastore::sim {
namespace {

using Kind = engine::Op::Kind;

struct RegisterWrite {
  std::string node;
  uint64_t at = 0;  // simulated ms
  crdt::Stamp stamp;
  std::string value;
};

class ClockSkew : public Workload {
 protected:
  static constexpr int64_t kSkewMs = 300'000;

  void RegisterOp(SimNode& n) {
    const std::string name = "r" + std::to_string(Rand(0, 2));
    const std::string value = "v" + std::to_string(++register_values_);
    auto r = n.engine->Apply(name, {.kind = Kind::kSet, .value = value});
    if (!r.ok()) {
      ASSERT_EQ(r.status().code(), StatusCode::kUnavailable) << r.status().ToString();
      ++fenced_refusals_;
      return;
    }
    Acknowledge(n, *r, "set");
    const auto& stamp = std::get<crdt::LWWRegister>(r->state).stamp();
    ASSERT_TRUE(stamp.has_value());
    EXPECT_EQ(stamp->replica, n.identity.replica)
        << "the acknowledged write of " << value << " to " << name << " on " << n.id
        << " does not win there: an earlier stamp beats it";
    auto [last, fresh] = last_stamp_.emplace(n.id, *stamp);
    if (!fresh) {
      EXPECT_GT(stamp->ts, last->second.ts)
          << n.id << " stamped " << value << " at " << stamp->ts.ToString()
          << ", not after its earlier acknowledged write at " << last->second.ts.ToString()
          << " (t=" << now_ << ", skew " << n.skew_ms << " ms)";
      last->second = *stamp;
    }
    if (stamp->ts.physical > kEpochMs + now_ + kMaxOffsetMs) ++stamped_ahead_;
    writes_[name].push_back({n.id, now_, *stamp, value});
    Trace(n.id + " set " + name + "=" + value + " at " + stamp->ts.ToString());
  }

  // Restarts n with its wall clock skew ms off.
  void RestartWithSkew(SimNode& n, int64_t skew) {
    if (n.up) Crash(n);
    n.skew_ms = skew;
    n.restart_at = now_ + Rand(20, 100);
    Trace("restart " + n.id + " with skew " + std::to_string(skew));
  }

  void CheckRegisters() {
    for (const auto& [name, writes] : writes_) {
      const RegisterWrite* latest = &writes.front();
      for (const RegisterWrite& w : writes) {
        if (w.stamp > latest->stamp) latest = &w;
      }
      auto r = nodes_[0]->engine->Read(v1::REGISTERS, name);
      ASSERT_TRUE(r.ok()) << name;
      const auto& reg = std::get<crdt::LWWRegister>(r->state);
      EXPECT_EQ(reg.Value(), std::vector<std::string>{latest->value})
          << name << ": the acknowledged write with the highest stamp, " << latest->value
          << " on " << latest->node << " at t=" << latest->at << ", lost";
      EXPECT_TRUE(reg.stamp() == latest->stamp) << name;
    }
  }

  void Run() {
    SCOPED_TRACE("seed " + std::to_string(Seed()));
    allowed_rejections_.insert("forged_progress");  // a report stamped beyond the offset
    allow_failed_sessions_ = true;                   // states stamped beyond it
    SimNode& victim = AnyNode();
    // The skews victim restarts with at t1, at t2, and before healing.
    static const int64_t kScenarios[][2] = {
        {kSkewMs, 0}, {-kSkewMs, 0}, {0, -kSkewMs}, {kSkewMs, -kSkewMs}};
    const auto& scenario = kScenarios[Rand(0, 3)];
    const uint64_t t1 = Rand(100, 600), t2 = Rand(800, 1300);
    // Or skewed from the start, unmeasured until its peers' reports arrive.
    if (scenario[0] != 0 && Chance(0.3)) {
      Crash(victim);
      victim.skew_ms = scenario[0];
      Boot(victim);
    }
    uint64_t partition_until = 0;
    for (uint64_t t = 0; t < 1500; ++t) {
      if (t == t1 && victim.skew_ms != scenario[0]) RestartWithSkew(victim, scenario[0]);
      if (t == t2) RestartWithSkew(victim, scenario[1]);
      if (Chance(0.3)) {
        SimNode& n = AnyNode();
        if (n.up) Chance(0.4) ? RegisterOp(n) : ClientOp(n);
        if (HasFatalFailure()) return;
      }
      if (Chance(0.1)) SessionRead();
      MaybePartition(0.004, &partition_until);
      MaybeCrash(0.001);
      Step();
      if (HasFatalFailure()) return;
    }
    if (victim.skew_ms != 0) RestartWithSkew(victim, 0);
    // Stamps issued 300 s ahead are refused until the clocks reach them: wait in 100 ms steps.
    HealAndCheckConvergence(/*slow_dt=*/100, /*deadline_ms=*/kSkewMs + 60000);
    if (HasFatalFailure()) return;
    for (int i = 0; i < 20; ++i) SessionRead();
    CheckCounters();
    CheckTypedSets();
    CheckOrSets(/*exact=*/true);
    CheckRegisters();
    Trace("fence changes " + std::to_string(fenced_changes_) + ", fenced refusals " +
          std::to_string(fenced_refusals_) + ", acknowledged writes stamped beyond the offset " +
          std::to_string(stamped_ahead_) + ", session reads " + std::to_string(session_reads_));
  }

  std::map<std::string, std::vector<RegisterWrite>> writes_;
  std::map<std::string, crdt::Stamp> last_stamp_;  // by node id
  uint64_t register_values_ = 0;
  uint64_t fenced_refusals_ = 0;
  uint64_t stamped_ahead_ = 0;
};

TEST_P(ClockSkew, StampsNeverGoBackwards) { Run(); }
INSTANTIATE_TEST_SUITE_P(Seeds, ClockSkew, Seeds(40), SeedName);

}  // namespace
}  // namespace geodatastore::sim
