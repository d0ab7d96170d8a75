// Tombstone collection under the simulator's chaos (sim/harness.h).
#include "replication/sim/harness.h"

namespace geodatastore::sim {
namespace {

using Kind = engine::Op::Kind;

// Tombstone collection under the same chaos: 2P-Sets and LWW-element-sets are added to and
// removed from everywhere while every node runs its collector; one node is cut off for a
// while in the middle (its peers' rounds wait for it) and comes back with writes of its
// own. A collected removal must never let its element come back: at every check, no node
// shows a 2P-Set element that was removed anywhere, and after healing every node holds
// byte-identical state in which each 2P-Set is what was added minus what was removed, each
// LWW-element-set what its latest op per element says, and no tombstone is left.
class Tombstones : public SimHarness {
 protected:
  static constexpr int kKeys = 2;

  void TombstoneOp(SimNode& n) {
    const bool two_p = Chance(0.5);
    const std::string name = (two_p ? "p" : "l") + std::to_string(Rand(0, kKeys - 1));
    const v1::CrdtType type = two_p ? v1::TWO_P_SET : v1::LWW_SET;
    const std::string element = std::string(1, static_cast<char>('a' + Rand(0, 5)));
    auto created = n.engine->Apply(name, {.kind = Kind::kCreate, .type = type});
    ASSERT_TRUE(created.ok()) << created.status().ToString();
    const bool add = Chance(0.55);
    // 2P-Set clients never add an element removed anywhere (its contract).
    if (two_p && add && removed_[name].count(element)) return;
    auto r = n.engine->Apply(
        name, {.kind = add ? Kind::kAdd : Kind::kRemove, .type = type, .elements = {element}});
    if (two_p && add && !r.ok()) {
      ASSERT_EQ(r.status().code(), StatusCode::kFailedPrecondition);
      return;
    }
    // An LWW op on a node whose clock is not yet compared with its peers' (just booted) is
    // refused and changes nothing.
    if (!two_p && !r.ok() && r.status().code() == StatusCode::kUnavailable) return;
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    if (r->seq == 0) return;
    Trace(n.id + (add ? " add " : " remove ") + name + "/" + element);
    if (two_p) {
      (add ? added_ : removed_)[name].insert(element);
      if (!add) removals_[name][element].push_back({n.identity.replica, r->seq});
      return;
    }
    // The op's stamp: the entry's latest add or remove, which this op just set.
    v1::CrdtValue value;
    ASSERT_TRUE(value.ParseFromString(crdt::EncodeAny(r->state)));
    for (const v1::LwwElement& e : value.lww_set().elements()) {
      if (e.element() != element) continue;
      const v1::LwwStamp& s = add ? e.added() : e.removed();
      const crdt::Stamp stamp{{s.physical(), s.logical()}, s.replica()};
      if (!(add ? e.has_added() : e.has_removed())) continue;
      auto& latest = lww_latest_[name][element];
      crdt::Timestamp& mine = add ? latest.first : latest.second;
      mine = std::max(mine, stamp.ts);
    }
  }

  // No node shows a 2P-Set element once it applied one of its removals.
  void CheckNoResurrection() {
    for (const auto& n : nodes_) {
      if (!n->up) continue;
      const crdt::VersionVector applied = n->engine->AppliedVector();
      for (const auto& [name, elements] : removals_) {
        auto s = n->engine->Read(v1::SETS, name);
        if (!s.ok()) continue;
        const auto& set = std::get<crdt::TwoPSet>(s->state);
        for (const auto& [e, ops] : elements) {
          for (const auto& [origin, seq] : ops) {
            ASSERT_FALSE(applied.Get(origin) >= seq && set.Contains(e))
                << e << " of " << name << " came back on " << n->id;
          }
        }
      }
    }
  }

  size_t TombstonesHeld() const {
    size_t held = 0;
    for (const auto& n : nodes_) {
      for (v1::CrdtType type : {v1::TWO_P_SET, v1::LWW_SET}) {
        auto found = n->engine->ScanTombstones(type, 1000);
        if (found.ok()) {
          for (const auto& t : *found) held += t.tombstones.count;
        }
      }
    }
    return held;
  }

  void Run() {
    collect_ = true;
    SCOPED_TRACE("seed " + std::to_string(Seed()));
    uint64_t partition_until = 0;
    // 3 s of chaos, then 1.5 s of writes without partitions or crashes.
    for (int t = 0; t < 4500; ++t) {
      if (Chance(0.3)) {
        SimNode& n = AnyNode();
        if (n.up) TombstoneOp(n);
        if (HasFatalFailure()) return;
      }
      const bool chaos = t < 3000;
      if (!chaos) {
        partitioned_.clear();
        Step();
        if (HasFatalFailure()) return;
        continue;
      }
      if (t == 1000) {  // one node cut off for a long while, mid-run
        partitioned_ = {nodes_[Rand(0, nodes_.size() - 1)]->id};
        partition_until = now_ + 1000;
      }
      MaybePartition(0.002, &partition_until);
      MaybeCrash(0.001);
      Step();
      if (HasFatalFailure()) return;
      if (t % 10 == 0) CheckNoResurrection();
      if (HasFatalFailure()) return;
    }
    const uint64_t collected_while_busy = collected_;
    for (const auto& n : nodes_) {
      if (!n->up) continue;
      std::string s = n->id + " phase " + std::to_string(n->collector->phase()) + " rounds " +
                      std::to_string(n->collector->rounds()) + " progress:";
      for (const auto& [id, p] : n->replicator->progress()) {
        s += " " + id + "@" + std::to_string(p.hlc_physical()) + "[";
        for (const auto& d : p.applied().entries())
          s += std::to_string(d.replica() % 65536) + ":" + std::to_string(d.counter()) + " ";
        s += "]";
      }
      s += " waits for";
      for (const auto& [o, q] : n->collector->waiting_for())
        s += " " + std::to_string(o % 65536) + ":" + std::to_string(q);
      Trace(s);
    }
    partitioned_.clear();
    drop_ = 0;
    duplicate_ = 0;
    const uint64_t deadline = now_ + 60000;
    while ((!Quiescent() || TombstonesHeld() > 0) && now_ < deadline) {
      Step();
      if (now_ % 100 == 0) CheckNoResurrection();
      if (HasFatalFailure()) return;
    }
    ASSERT_TRUE(Quiescent()) << Missing();
    EXPECT_EQ(TombstonesHeld(), 0u) << "tombstones left 60 s after healing";
    EXPECT_GT(collected_while_busy, 0u) << "nothing collected while the nodes were busy";
    CheckNoResurrection();

    for (const auto& n : nodes_) {
      for (const auto& [name, added] : added_) {
        auto s = n->engine->Read(v1::SETS, name);
        ASSERT_TRUE(s.ok()) << name;
        std::set<std::string> want;
        for (const std::string& e : added) {
          if (!removed_[name].count(e)) want.insert(e);
        }
        const auto got = std::get<crdt::TwoPSet>(s->state).Value();
        EXPECT_EQ(std::set<std::string>(got.begin(), got.end()), want) << name << " on " << n->id;
      }
      for (const auto& [name, latest] : lww_latest_) {
        auto s = n->engine->Read(v1::SETS, name);
        ASSERT_TRUE(s.ok()) << name;
        std::set<std::string> want;
        for (const auto& [e, add_remove] : latest) {
          if (add_remove.first > add_remove.second) want.insert(e);  // equal: remove wins
        }
        const auto got = std::get<crdt::LWWElementSet>(s->state).Value();
        EXPECT_EQ(std::set<std::string>(got.begin(), got.end()), want) << name << " on " << n->id;
      }
      auto keys = n->engine->ListKeys(std::nullopt, "", 1000);
      ASSERT_TRUE(keys.ok());
      for (const auto& [key, type] : *keys) {
        auto a = nodes_[0]->engine->Read(key.family, key.name);
        auto b = n->engine->Read(key.family, key.name);
        ASSERT_TRUE(a.ok() && b.ok()) << key.name;
        EXPECT_EQ(crdt::EncodeAny(a->state), crdt::EncodeAny(b->state))
            << key.name << " differs on " << n->id;
      }
    }
  }

  std::map<std::string, std::set<std::string>> added_, removed_;  // 2P-Sets
  // LWW-element-sets (remove-wins): per element the latest add and remove timestamps.
  std::map<std::string, std::map<std::string, std::pair<crdt::Timestamp, crdt::Timestamp>>>
      lww_latest_;
  // Per 2P-Set and element: its removals (origin, seq).
  std::map<std::string, std::map<std::string, std::vector<std::pair<crdt::ReplicaId, uint64_t>>>>
      removals_;
};
TEST_P(Tombstones, CollectedRemovalsStayRemoved) { Run(); }

INSTANTIATE_TEST_SUITE_P(Seeds, Tombstones, Seeds(60), SeedName);

}  // namespace
}  // namespace geodatastore::sim
