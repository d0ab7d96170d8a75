// Deterministic simulation of replication (after FoundationDB's simulator): five nodes in
// three regions, each a real Engine on an in-memory RocksDB, exchange the messages of
// their Replicators over a seeded network with per-message delay, drops, duplicates and
// reordering, partitions and crash-restarts. After healing, every replica must hold
// byte-identical state for every key, every counter the sum of its acknowledged
// increments, and every OR-Set what the add-wins rule gives for the acknowledged ops.
//
// Every seed runs in both topologies: mesh, and gateway (us-east-1, eu-west-1 and ap-south-1
// relay; no other node may send across regions). Afterwards every node's view of every
// other node's progress (the lag the admin API shows) must be exact, linked or not.
//
// A failing seed names itself; replay it alone, with a trace of crashes, boots, ops and
// delivered batches, with
//   GDS_SIM_TRACE=1 build/bin/simulation_test
//   --gtest_filter='Seeds/Simulation.Converges/gateway_17'
// (Seeds/LogLoss.ConvergesWhenDeltaLogsAreLost/... for the runs where delta logs are lost).
#include <gtest/gtest.h>
#include <rocksdb/env.h>

#include <map>
#include <random>
#include <set>

#include "antientropy/session.h"
#include "engine/engine.h"
#include "engine/replication_host.h"
#include "engine/sync_host.h"
#include "engine/tombstones.h"
#include "replication/replicator.h"

namespace geodatastore {
namespace {

using engine::Op;
using Kind = engine::Op::Kind;

struct SimNode {
  std::string id;
  std::string region;
  storage::NodeIdentity identity;
  std::unique_ptr<rocksdb::Env> env;  // survives crash-restart, like a disk
  crdt::ManualClock clock;
  std::unique_ptr<storage::Store> store;
  std::unique_ptr<engine::Engine> engine;
  std::unique_ptr<engine::EngineReplicationHost> host;
  std::unique_ptr<replication::Replicator> replicator;
  std::unique_ptr<engine::TombstoneCollector> collector;
  bool up = false;
  uint64_t restart_at = 0;
};

// One acknowledged OR-Set op, with what its node had seen when it ran (Engine::Knowledge:
// anti-entropy sessions give it more than its applied vector says).
struct SetOp {
  int id;
  std::string set;
  std::string element;
  bool add;
  crdt::ReplicaId origin;
  uint64_t seq;
  crdt::VersionVector observed;  // the node's applied vector just before the op
};

class Simulation : public ::testing::TestWithParam<std::tuple<replication::Topology, int>> {
 protected:
  static constexpr int kCounters = 3;
  static constexpr int kSets = 2;

  void SetUp() override {
    rng_.seed(static_cast<uint32_t>(Seed()));
    const std::vector<std::pair<std::string, std::string>> layout = {{"us-east-1", "us-east"},
                                                                     {"us-east-2", "us-east"},
                                                                     {"eu-west-1", "eu-west"},
                                                                     {"eu-west-2", "eu-west"},
                                                                     {"ap-south-1", "ap-south"}};
    for (const auto& [id, region] : layout) {
      auto node = std::make_unique<SimNode>();
      node->id = id;
      node->region = region;
      node->identity = {id, 1, storage::ReplicaIdOf(id, 1)};
      node->env.reset(rocksdb::NewMemEnv(rocksdb::Env::Default()));
      nodes_.push_back(std::move(node));
    }
    for (auto& n : nodes_) Boot(*n);
  }

  void Boot(SimNode& n) {
    n.clock.Set(now_ + Skew(n));
    auto store = storage::Store::Open({"/sim/" + n.id, false, n.env.get()});
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    n.store = std::move(store).value();
    // Every op on an existing object writes its delta as a merge operand and defers the
    // object's digest (engine::EngineOptions), as ops on large objects do in a node.
    engine::EngineOptions engine_options;
    engine_options.defer_digests_above_bytes = 0;
    n.engine =
        std::make_unique<engine::Engine>(n.store.get(), n.identity, &n.clock, engine_options);
    ASSERT_TRUE(n.engine->Start().ok());
    n.host = std::make_unique<engine::EngineReplicationHost>(n.engine.get());
    std::vector<replication::PeerInfo> peers;
    for (const auto& other : nodes_) {
      if (other->id != n.id) peers.push_back({other->id, other->region});
    }
    replication::ReplicatorOptions options;
    options.retransmit_ms = 50;
    options.max_retransmit_ms = 400;
    options.max_batch_bytes = 4096;  // small batches: more of them, more interleavings
    options.seed = static_cast<uint32_t>(Seed()) * 31 + static_cast<uint32_t>(n.id.size());
    options.topology = Topology();
    options.progress_ms = 100;
    n.replicator = std::make_unique<replication::Replicator>(replication::PeerInfo{n.id, n.region},
                                                             peers, n.host.get(), options);
    ASSERT_TRUE(n.replicator->Start(now_).ok());
    n.collector = std::make_unique<engine::TombstoneCollector>(
        n.engine.get(), engine::TombstoneOptions{.interval_ms = 200, .max_objects = 1000});
    n.up = true;
    Trace("boot " + n.id + " committed=" + std::to_string(n.engine->CommittedSeq()) +
          " replica=" + crdt::ReplicaIdHex(n.identity.replica));
  }

  int Seed() const { return std::get<1>(GetParam()); }
  replication::Topology Topology() const { return std::get<0>(GetParam()); }
  bool Gateway(const std::string& id) const {
    return id == "us-east-1" || id == "eu-west-1" || id == "ap-south-1";
  }

  void Trace(const std::string& what) {
    if (getenv("GDS_SIM_TRACE"))
      fprintf(stderr, "t=%llu %s\n", static_cast<unsigned long long>(now_), what.c_str());
  }

  // Crash: everything in memory is gone; the "disk" (the Env) stays.
  void Crash(SimNode& n) {
    Trace("crash " + n.id);
    if (n.replicator) Tally(n);
    n.collector.reset();
    n.replicator.reset();
    n.host.reset();
    n.engine.reset();
    n.store.reset();
    n.up = false;
  }

  // Adds up the messages n's replicator refused (its counters go with it in a crash).
  void Tally(const SimNode& n) {
    for (const auto& [reason, count] : n.replicator->counters().rejected)
      rejected_[reason] += count;
  }
  // No rule of replication/replicator_trust.cc refused legitimate traffic. A covered_seq
  // that arrives before its origin's report is refused and resent: a delay, not a loss.
  void ExpectNothingLegitimateRejected() {
    for (const auto& n : nodes_) {
      if (n->up) Tally(*n);
    }
    for (const auto& [reason, count] : rejected_) {
      if (reason != "forged_covered") ADD_FAILURE() << count << " messages rejected: " << reason;
    }
  }

  uint64_t Skew(const SimNode& n) const { return 7 * static_cast<uint64_t>(n.id.back() - '0'); }
  uint64_t Rand(uint64_t lo, uint64_t hi) {
    return std::uniform_int_distribution<uint64_t>(lo, hi)(rng_);
  }
  bool Chance(double p) { return std::uniform_real_distribution<double>(0, 1)(rng_) < p; }

  SimNode* Find(const std::string& id) const {
    for (auto& n : nodes_) {
      if (n->id == id) return n.get();
    }
    return nullptr;
  }

  bool Partitioned(const std::string& a, const std::string& b) const {
    return partitioned_.count(a) != partitioned_.count(b);
  }

  void Send(const std::string& from, std::vector<replication::Outgoing> out) {
    for (auto& o : out) {
      if (Topology() == replication::Topology::kGateway &&
          Find(from)->region != Find(o.to)->region) {
        ASSERT_TRUE(Gateway(from) && Gateway(o.to)) << from << " sent to " << o.to;
      }
      if (Partitioned(from, o.to) || Chance(drop_)) continue;
      const int copies = Chance(duplicate_) ? 2 : 1;
      for (int c = 0; c < copies; ++c) {
        network_.emplace(std::make_pair(now_ + Rand(1, max_delay_), order_++),
                         InFlight{o.to, from, o.message});
      }
    }
  }

  void ClientOp(SimNode& n) {
    if (Chance(0.5)) {
      const std::string name = "c" + std::to_string(Rand(0, kCounters - 1));
      const uint64_t amount = Rand(1, 5);
      const bool inc = Chance(0.7);
      auto r = n.engine->Apply(
          name, {.kind = inc ? Kind::kIncrement : Kind::kDecrement, .amount = amount});
      ASSERT_TRUE(r.ok()) << r.status().ToString();
      expected_counters_[name] +=
          inc ? static_cast<int64_t>(amount) : -static_cast<int64_t>(amount);
      return;
    }
    const std::string set = "s" + std::to_string(Rand(0, kSets - 1));
    const std::string element = std::string(1, static_cast<char>('a' + Rand(0, 3)));
    const bool add = Chance(0.6);
    const crdt::VersionVector observed = n.engine->Knowledge();
    auto r =
        n.engine->Apply(set, {.kind = add ? Kind::kAdd : Kind::kRemove, .elements = {element}});
    if (!add && !r.ok()) {
      ASSERT_EQ(r.status().code(), StatusCode::kNotFound);  // removing from a set never seen here
      return;
    }
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    if (r->seq == 0) return;
    set_ops_.push_back({static_cast<int>(set_ops_.size()), set, element, add, n.identity.replica,
                        r->seq, observed});
    Trace(n.id + (add ? " add " : " remove ") + set + "/" + element +
          " seq=" + std::to_string(r->seq));
  }

  // Add-wins (observed-remove): an add instance lives until a later op on the same element —
  // a remove, or another add, which supersedes it — runs on a node that had applied it. An
  // element is present while one of its add instances lives: a remove never takes away an
  // add it had not seen.
  std::map<std::string, std::set<std::string>> ExpectedSets() const {
    std::map<std::string, std::set<std::string>> out;
    for (const SetOp& a : set_ops_) {
      if (!a.add) continue;
      bool removed = false;
      for (const SetOp& o : set_ops_) {
        if (o.id != a.id && o.set == a.set && o.element == a.element &&
            o.observed.Get(a.origin) >= a.seq) {
          removed = true;
        }
      }
      out[a.set];  // the set exists once anything was added
      if (!removed) out[a.set].insert(a.element);
    }
    return out;
  }

  // The acknowledged ops on one set, for failure messages.
  std::string History(const std::string& set) const {
    std::string out;
    for (const SetOp& op : set_ops_) {
      if (op.set != set) continue;
      out += "  #" + std::to_string(op.id) + (op.add ? " add " : " remove ") + op.element +
             " seq " + std::to_string(op.seq) + " of " + std::to_string(op.origin % 65536) +
             ", had applied:";
      for (const auto& [r, c] : op.observed.entries())
        out += " " + std::to_string(r % 65536) + ":" + std::to_string(c);
      out += "\n";
    }
    return out;
  }

  void Step() {
    ++now_;
    for (auto& n : nodes_) n->clock.Set(now_ + Skew(*n));
    // Deliver what is due.
    while (!network_.empty() && network_.begin()->first.first <= now_) {
      auto [to, sender, message] = network_.begin()->second;
      network_.erase(network_.begin());
      SimNode* n = Find(to);
      if (n == nullptr || !n->up) continue;
      if (message.has_deltas()) {
        Trace(to + " <- " + message.from() + " batch " +
              std::to_string(message.deltas().from_seq()) + ".." +
              std::to_string(message.deltas().to_seq()) +
              " applied=" + std::to_string(n->engine->Applied(message.deltas().origin())) +
              " origin=" + crdt::ReplicaIdHex(message.deltas().origin()).substr(0, 4) +
              " covered=" + std::to_string(message.deltas().covered_seq()));
      }
      // The network knows the true sender, as TLS would.
      Send(to, n->replicator->Receive(message, sender, now_));
    }
    for (auto& n : nodes_) {
      if (!n->up && n->restart_at <= now_) Boot(*n);
      if (n->up) Send(n->id, n->replicator->Tick(now_));
      if (n->up && collect_) {
        auto collected =
            n->collector->Step(n->replicator->progress(), n->replicator->cluster_size(), now_);
        ASSERT_TRUE(collected.ok()) << collected.status().ToString();
        if (*collected > 0) Trace(n->id + " collected " + std::to_string(*collected));
        collected_ += *collected;
      }
      if (n->up && Chance(0.05)) Resync(*n);
    }
  }

  // A node whose streams wait for anti-entropy runs a session with each such peer it can
  // reach (in process, over a lossless link), then lets the streams carry on.
  void Resync(SimNode& n) {
    for (const std::string& id : n.replicator->NeedsResync()) {
      SimNode* peer = Find(id);
      if (!peer->up || Partitioned(n.id, id)) continue;
      if (!n.store->merkle_ready() || !peer->store->merkle_ready()) continue;  // later
      const auto floors = n.replicator->ResyncFloors();
      engine::EngineSyncHost mine(n.engine.get()), theirs(peer->engine.get());
      antientropy::Session session(&mine, n.id);
      while (auto request = session.Next()) {
        v1::SyncReply reply;
        ASSERT_TRUE(antientropy::Respond(&theirs, *request, &reply).ok());
        session.OnReply(reply);
      }
      ASSERT_TRUE(session.status().ok()) << session.status().ToString();
      Trace(n.id + " resynced " + id);
      n.replicator->Resynced(id, floors);
    }
  }

  void RunAndCheck(bool log_loss);

  // With probability p, cuts a random group of nodes off from the rest until a random time
  // (none while a partition lasts); heals once *until has passed.
  void MaybePartition(double p, uint64_t* until) {
    if (partitioned_.empty() && Chance(p)) {
      std::string cut;
      for (auto& n : nodes_) {
        if (Chance(0.4)) {
          partitioned_.insert(n->id);
          cut += " " + n->id;
        }
      }
      *until = now_ + Rand(50, 400);
      Trace("partitioned:" + cut);
    }
    if (!partitioned_.empty() && now_ >= *until) partitioned_.clear();
  }
  // With probability p, crashes a random node that is up; it restarts a little later.
  void MaybeCrash(double p) {
    if (!Chance(p)) return;
    SimNode& n = *nodes_[Rand(0, nodes_.size() - 1)];
    if (n.up) {
      Crash(n);
      n.restart_at = now_ + Rand(20, 300);
    }
  }

  // A counter's per-replica contributions, for failure messages.
  static std::string Describe(const crdt::AnyCrdt& state) {
    const auto* c = std::get_if<crdt::PNCounter>(&state);
    if (c == nullptr) return "(not a counter)";
    return "value " + std::to_string(c->Value());
  }

  // Whether every node's view of every other node's progress is exact.
  bool ViewsExact() const { return ViewsMismatch().empty(); }
  std::string ViewsMismatch() const {
    std::string out;
    for (const auto& n : nodes_) {
      const auto views = n->replicator->Peers(now_);
      if (views.size() != nodes_.size() - 1) out += n->id + " sees too few peers\n";
      for (const replication::PeerView& v : views) {
        const uint64_t applied = Find(v.id)->engine->Applied(n->identity.replica);
        if (v.acked != applied) {
          out += n->id + " thinks " + v.id + " applied " + std::to_string(v.acked) + ", it has " +
                 std::to_string(applied) + (v.via.empty() ? "" : " (via " + v.via + ")") + "\n";
        }
      }
    }
    return out;
  }

  // What is missing where, for failure messages.
  std::string Missing() const {
    std::string out;
    for (const auto& a : nodes_) {
      for (const auto& b : nodes_) {
        if (a != b && b->up && a->up &&
            b->engine->Applied(a->identity.replica) < a->engine->CommittedSeq()) {
          out += b->id + " applied " + std::to_string(b->engine->Applied(a->identity.replica)) +
                 " of " + a->id + "'s " + std::to_string(a->engine->CommittedSeq()) + "; " + a->id +
                 " needs resync with:";
          for (const std::string& p : a->replicator->NeedsResync()) out += " " + p;
          out += "\n";
        }
      }
    }
    return out;
  }

  // Every node has applied every other node's committed writes.
  bool Quiescent() const {
    for (const auto& n : nodes_) {
      if (!n->up) return false;
    }
    for (const auto& a : nodes_) {
      for (const auto& b : nodes_) {
        if (a != b && b->engine->Applied(a->identity.replica) < a->engine->CommittedSeq())
          return false;
      }
    }
    return true;
  }

  std::vector<std::unique_ptr<SimNode>> nodes_;
  std::mt19937 rng_;
  uint64_t now_ = 1;
  uint64_t order_ = 0;
  double drop_ = 0.1;
  double duplicate_ = 0.05;
  uint64_t max_delay_ = 40;
  std::set<std::string> partitioned_;
  std::map<std::string, uint64_t> rejected_;  // by reason, over every node and restart
  SimNode* wipe_ = nullptr;                   // a node to wipe as soon as its writes are everywhere
  struct InFlight {
    std::string to;
    std::string from;
    v1::ReplicationMessage message;
  };
  std::multimap<std::pair<uint64_t, uint64_t>, InFlight> network_;
  std::map<std::string, int64_t> expected_counters_;
  std::vector<SetOp> set_ops_;
  bool collect_ = false;  // run the tombstone collectors
  uint64_t collected_ = 0;
};

TEST_P(Simulation, Converges) { RunAndCheck(false); }

// Nodes lose their delta logs now and then (everything not yet shipped included), and now
// and then a node its whole disk (once its own writes are everywhere): streams wait for
// anti-entropy, which repairs the peers, and then carry on. The OR-Set model is
// not checked here: a node may hold an add through anti-entropy that its applied vector
// does not show.
class LogLoss : public Simulation {};
TEST_P(LogLoss, ConvergesWhenDeltaLogsAreLost) { RunAndCheck(true); }

void Simulation::RunAndCheck(bool log_loss) {
  SCOPED_TRACE("seed " + std::to_string(Seed()));
  uint64_t partition_until = 0;
  // Chaos: client ops everywhere, with drops, duplicates, reordering, partitions, crashes.
  for (int t = 0; t < 1500; ++t) {
    if (Chance(0.3)) {
      SimNode& n = *nodes_[Rand(0, nodes_.size() - 1)];
      if (n.up && &n != wipe_) ClientOp(n);
      if (HasFatalFailure()) return;
    }
    MaybePartition(0.004, &partition_until);
    if (log_loss && Chance(0.003)) {
      SimNode& n = *nodes_[Rand(0, nodes_.size() - 1)];
      if (n.up) {
        Trace("log lost on " + n.id);
        ASSERT_TRUE(n.store->TruncateLog(n.identity.replica, n.engine->CommittedSeq()).ok());
      }
    }
    if (log_loss && wipe_ == nullptr && Chance(0.002))
      wipe_ = nodes_[Rand(0, nodes_.size() - 1)].get();
    if (wipe_ != nullptr) {
      // A node loses its disk once every other node has its own writes (it takes no client
      // ops meanwhile): it comes back as a new replica, its peers notice and refill it by
      // anti-entropy.
      SimNode& n = *wipe_;
      bool shipped = n.up;
      for (const auto& other : nodes_) {
        shipped = shipped &&
                  (other.get() == &n || (other->up && other->engine->Applied(n.identity.replica) >=
                                                          n.engine->CommittedSeq()));
      }
      if (shipped) {
        Crash(n);
        n.env.reset(rocksdb::NewMemEnv(rocksdb::Env::Default()));
        ++n.identity.epoch;
        n.identity.replica = storage::ReplicaIdOf(n.id, n.identity.epoch);
        n.restart_at = now_ + Rand(20, 300);
        Trace("wiped " + n.id);
        wipe_ = nullptr;
      }
    }
    MaybeCrash(0.002);
    Step();
    if (HasFatalFailure()) return;
  }
  // Heal and wait, in simulated time, for quiescence.
  partitioned_.clear();
  drop_ = 0;
  duplicate_ = 0;
  const uint64_t deadline = now_ + 60000;
  while (!Quiescent() && now_ < deadline) Step();
  ASSERT_TRUE(Quiescent()) << "no quiescence within 60 s of simulated time after healing:\n"
                           << Missing();
  // Progress views converge too: every node knows what every other node applied of its
  // writes, linked or reached through gateways (heartbeats carry the reports).
  const uint64_t views_deadline = now_ + 10000;
  while (!ViewsExact() && now_ < views_deadline) Step();
  EXPECT_TRUE(ViewsExact()) << ViewsMismatch();

  // Byte-identical state for every key on every node.
  auto keys = nodes_[0]->engine->ListKeys(std::nullopt, "", 1000000);
  ASSERT_TRUE(keys.ok());
  for (const auto& n : nodes_) {
    auto mine = n->engine->ListKeys(std::nullopt, "", 1000000);
    ASSERT_TRUE(mine.ok());
    ASSERT_EQ(mine->size(), keys->size()) << n->id;
    for (const auto& [key, type] : *keys) {
      auto a = nodes_[0]->engine->Read(key.family, key.name);
      auto b = n->engine->Read(key.family, key.name);
      ASSERT_TRUE(a.ok() && b.ok()) << key.name;
      EXPECT_EQ(crdt::EncodeAny(a->state), crdt::EncodeAny(b->state))
          << key.name << " differs on " << n->id << ": " << Describe(a->state) << " vs "
          << Describe(b->state);
      // What the store holds (a state and the deltas merged into it) is the engine's state.
      auto stored = n->store->ReadState(type, key);
      ASSERT_TRUE(stored.ok() && stored->has_value()) << key.name;
      EXPECT_EQ(**stored, crdt::EncodeAny(b->state)) << key.name << " stored on " << n->id;
    }
  }
  ExpectNothingLegitimateRejected();
  // Counters: the sum of acknowledged ops. OR-Sets: the add-wins model.
  for (const auto& [name, value] : expected_counters_) {
    auto c = nodes_[0]->engine->Read(v1::COUNTERS, name);
    ASSERT_TRUE(c.ok());
    EXPECT_EQ(std::get<crdt::PNCounter>(c->state).Value(), value) << name;
  }
  if (log_loss) return;
  for (const auto& [name, elements] : ExpectedSets()) {
    auto s = nodes_[0]->engine->Read(v1::SETS, name);
    ASSERT_TRUE(s.ok()) << name;
    const std::vector<std::string> got = std::get<crdt::ORSet>(s->state).Value();
    EXPECT_EQ(std::set<std::string>(got.begin(), got.end()), elements) << name << "\n"
                                                                       << History(name);
  }
}

std::string SeedName(const ::testing::TestParamInfo<Simulation::ParamType>& info) {
  return std::string(std::get<0>(info.param) == replication::Topology::kMesh ? "mesh_"
                                                                             : "gateway_") +
         std::to_string(std::get<1>(info.param));
}

// Tombstone collection under the same chaos: 2P-Sets and LWW-element-sets are added to and
// removed from everywhere while every node runs its collector; one node is cut off for a
// while in the middle (its peers' rounds wait for it) and comes back with writes of its
// own. A collected removal must never let its element come back: at every check, no node
// shows a 2P-Set element that was removed anywhere, and after healing every node holds
// byte-identical state in which each 2P-Set is what was added minus what was removed, each
// LWW-element-set what its latest op per element says, and no tombstone is left.
class Tombstones : public Simulation {
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
        SimNode& n = *nodes_[Rand(0, nodes_.size() - 1)];
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

INSTANTIATE_TEST_SUITE_P(Seeds, Tombstones,
                         ::testing::Combine(::testing::Values(replication::Topology::kMesh,
                                                              replication::Topology::kGateway),
                                            ::testing::Range(1, 101)),
                         SeedName);
INSTANTIATE_TEST_SUITE_P(Seeds, Simulation,
                         ::testing::Combine(::testing::Values(replication::Topology::kMesh,
                                                              replication::Topology::kGateway),
                                            ::testing::Range(1, 201)),
                         SeedName);
INSTANTIATE_TEST_SUITE_P(Seeds, LogLoss,
                         ::testing::Combine(::testing::Values(replication::Topology::kMesh,
                                                              replication::Topology::kGateway),
                                            ::testing::Range(1, 101)),
                         SeedName);

}  // namespace
}  // namespace geodatastore
