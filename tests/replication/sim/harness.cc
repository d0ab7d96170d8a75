#include "replication/sim/harness.h"

#include <cstdio>

namespace geodatastore::sim {

static std::string Show(const crdt::AnyCrdt& state) {
  v1::CrdtValue value;
  if (!value.ParseFromString(crdt::EncodeAny(state))) return "(undecodable)";
  return value.ShortDebugString() + "\n";
}


void SimHarness::SetUp() {
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
    node->env.reset(rocksdb::NewMemEnv(rocksdb::Env::Default()));
    nodes_.push_back(std::move(node));
  }
  for (auto& n : nodes_) Boot(*n);
}

void SimHarness::Trace(const std::string& what) const {
  if (getenv("GDS_SIM_TRACE"))
    fprintf(stderr, "t=%llu %s\n", static_cast<unsigned long long>(now_), what.c_str());
}

SimNode* SimHarness::Find(const std::string& id) const {
  for (auto& n : nodes_) {
    if (n->id == id) return n.get();
  }
  return nullptr;
}

void SimHarness::Boot(SimNode& n) {
  n.clock.Set(Wall(n));
  auto store = storage::Store::Open({"/sim/" + n.id, false, n.env.get()});
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  n.store = std::move(store).value();
  if (n.identity.replica == 0) {  // first boot: epoch 1, as the tests before LoadIdentity
    ASSERT_TRUE(n.store->PutMeta("node_id", n.id).ok());
    ASSERT_TRUE(n.store->PutMeta("epoch", "1").ok());
  }
  // As Node does: the epoch from the store, a new one when it went backwards.
  auto identity = storage::LoadIdentity(*n.store, n.id, &n.clock);
  ASSERT_TRUE(identity.ok()) << identity.status().ToString();
  if (!identity->new_epoch_reason.empty()) {
    ++new_epochs_;
    Trace(n.id + " took a new epoch: " + identity->new_epoch_reason);
  }
  if (!n.store->wal_loss().empty()) ++wal_detected_;
  n.identity = *identity;
  // Every op on an existing object writes its delta as a merge operand and defers the
  // object's digest (engine::EngineOptions), as ops on large objects do in a node.
  engine::EngineOptions engine_options;
  engine_options.defer_digests_above_bytes = 0;
  engine_options.max_clock_offset_ms = kMaxOffsetMs;
  n.engine = std::make_unique<engine::Engine>(n.store.get(), n.identity, &n.clock, engine_options);
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
  options.max_clock_offset_ms = kMaxOffsetMs;
  n.replicator = std::make_unique<replication::Replicator>(replication::PeerInfo{n.id, n.region},
                                                           peers, n.host.get(), options);
  ASSERT_TRUE(n.replicator->Start(now_).ok());
  n.engine->SetClockFence(std::string(replication::kUnverifiedClock));  // as Node::Start
  n.booted_at = now_;
  n.collector = std::make_unique<engine::TombstoneCollector>(
      n.engine.get(), engine::TombstoneOptions{.interval_ms = 200, .max_objects = 1000});
  n.up = true;
  Trace("boot " + n.id + " committed=" + std::to_string(n.engine->CommittedSeq()) +
        " replica=" + crdt::ReplicaIdHex(n.identity.replica) +
        " skew=" + std::to_string(n.skew_ms));
}

void SimHarness::Crash(SimNode& n) {
  Trace("crash " + n.id);
  if (n.replicator) Tally(n);
  n.collector.reset();
  n.replicator.reset();
  n.host.reset();
  n.engine.reset();
  n.store.reset();
  n.up = false;
}

void SimHarness::CrashDamagingWal(SimNode& n, bool flip) {
  if (!flip) {
    ASSERT_TRUE(n.engine->SaveHighWater().ok());
  }
  const crdt::ReplicaId replica = n.identity.replica;
  const uint64_t committed = n.engine->CommittedSeq();
  // A kill -9: the files as they are now (closing the store would flush its memtables and
  // leave an empty log).
  const DiskImage disk = ReadDisk(n.env.get(), "/sim/" + n.id);
  Crash(n);
  WriteDisk(n.env.get(), "/sim/" + n.id, disk);
  const WalDamage damage = DamageNewestWal(n.env.get(), "/sim/" + n.id, flip, rng_);
  Trace("damaged " + n.id + ": " + damage.ToString());
  if (!damage.file.empty()) ++wal_damaged_;
  Boot(n);
  if (HasFatalFailure() || n.identity.replica != replica) return;
  auto last = n.store->LastSeq(replica);
  ASSERT_TRUE(last.ok());
  EXPECT_GE(*last, committed) << n.id << " kept its replica id after " << damage.ToString()
                              << " but its delta log ends at " << *last << " below the "
                              << committed << " it had committed: it will issue them again";
}

void SimHarness::Housekeeping(SimNode& n) {
  const uint64_t phase = 17 * static_cast<uint64_t>(n.id.back() - '0');
  if ((now_ + phase) % kHighWaterMs == 0) {
    ASSERT_TRUE(n.engine->SaveHighWater().ok());
  }
  if ((now_ + phase) % kClockCheckMs == 0) {  // as Node::CheckClock
    const replication::ClockCheck check =
        replication::CheckClock(n.replicator->Peers(now_), kMaxOffsetMs);
    const std::string next =
        replication::NextFence(check, n.engine->clock_fence(), now_ - n.booted_at);
    if (next.empty() != n.engine->clock_fence().empty()) {
      ++fenced_changes_;
      Trace(n.id + (next.empty() ? " unfenced" : " fenced: " + next));
    }
    n.engine->SetClockFence(next);
  }
}

void SimHarness::Tally(const SimNode& n) {
  for (const auto& [reason, count] : n.replicator->counters().rejected)
    rejected_[reason] += count;
}

// No rule of replication/replicator_trust.cc refused legitimate traffic. A covered_seq
// that arrives before its origin's report is refused and resent: a delay, not a loss.
void SimHarness::ExpectNothingLegitimateRejected() {
  for (const auto& n : nodes_) {
    if (n->up) Tally(*n);
  }
  for (const auto& [reason, count] : rejected_) {
    if (!allowed_rejections_.count(reason))
      ADD_FAILURE() << count << " messages rejected: " << reason;
  }
}

void SimHarness::Send(const std::string& from, std::vector<replication::Outgoing> out) {
  for (auto& o : out) {
    if (Topology() == replication::Topology::kGateway && Find(from)->region != Find(o.to)->region) {
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

void SimHarness::Step(uint64_t dt) {
  now_ += dt;
  for (auto& n : nodes_) n->clock.Set(Wall(*n));
  // Deliver what is due.
  while (!network_.empty() && network_.begin()->first.first <= now_) {
    auto [to, sender, message] = network_.begin()->second;
    network_.erase(network_.begin());
    SimNode* n = Find(to);
    if (n == nullptr || !n->up) continue;
    if (message.has_deltas()) {
      Trace(to + " <- " + message.from() + " batch " + std::to_string(message.deltas().from_seq()) +
            ".." + std::to_string(message.deltas().to_seq()) +
            " applied=" + std::to_string(n->engine->Applied(message.deltas().origin())) +
            " origin=" + crdt::ReplicaIdHex(message.deltas().origin()).substr(0, 4) +
            " covered=" + std::to_string(message.deltas().covered_seq()));
    }
    // The network knows the true sender, as TLS would.
    Send(to, n->replicator->Receive(message, sender, now_));
  }
  for (auto& n : nodes_) {
    if (!n->up && n->restart_at <= now_) Boot(*n);
    if (HasFatalFailure()) return;
    if (!n->up) continue;
    Send(n->id, n->replicator->Tick(now_));
    if (dt == 1) {
      Housekeeping(*n);
    } else {  // steps of dt ms: every period passed is due
      for (uint64_t t = now_ - dt + 1; t <= now_; ++t) {
        const uint64_t phase = 17 * static_cast<uint64_t>(n->id.back() - '0');
        if ((t + phase) % kHighWaterMs == 0 || (t + phase) % kClockCheckMs == 0) {
          const uint64_t saved = now_;
          now_ = t;
          Housekeeping(*n);
          now_ = saved;
        }
      }
    }
    if (collect_) {
      auto collected =
          n->collector->Step(n->replicator->progress(), n->replicator->cluster_size(), now_);
      ASSERT_TRUE(collected.ok()) << collected.status().ToString();
      if (*collected > 0) Trace(n->id + " collected " + std::to_string(*collected));
      collected_ += *collected;
    }
    if (Chance(0.05)) Resync(*n);
  }
}

// A node whose streams wait for anti-entropy runs a session with each such peer it can
// reach (in process, over a lossless link), then lets the streams carry on.
void SimHarness::Resync(SimNode& n) {
  for (const std::string& id : n.replicator->NeedsResync()) {
    SimNode* peer = Find(id);
    if (!peer->up || Partitioned(n.id, id)) continue;
    if (!n.store->merkle_ready() || !peer->store->merkle_ready()) continue;  // later
    const auto floors = n.replicator->ResyncFloors();
    engine::EngineSyncHost mine(n.engine.get()), theirs(peer->engine.get());
    antientropy::Session session(&mine, n.id);
    while (auto request = session.Next()) {
      v1::SyncReply reply;
      const Status s = antientropy::Respond(&theirs, *request, &reply);
      if (!s.ok()) {
        session.Fail(s);
        continue;
      }
      session.OnReply(reply);
    }
    if (!session.status().ok()) {
      // Legitimate only where clocks are skewed: states stamped beyond the maximum offset
      // are refused (the session is retried later).
      Trace(n.id + " failed to resync " + id + ": " + session.status().ToString());
      EXPECT_TRUE(allow_failed_sessions_) << session.status().ToString();
      continue;
    }
    Trace(n.id + " resynced " + id);
    n.replicator->Resynced(id, floors);
  }
}

void SimHarness::MaybePartition(double p, uint64_t* until) {
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

void SimHarness::MaybeCrash(double p) {
  if (!Chance(p)) return;
  SimNode& n = AnyNode();
  if (n.up) {
    Crash(n);
    n.restart_at = now_ + Rand(20, 300);
  }
}

std::string SimHarness::ViewsMismatch() const {
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

std::string SimHarness::Missing() const {
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

bool SimHarness::Quiescent() const {
  for (const auto& n : nodes_) {
    if (!n->up) return false;
  }
  for (const auto& a : nodes_) {
    if (!Shipped(*a)) return false;
  }
  return true;
}

bool SimHarness::Shipped(const SimNode& n) const {
  for (const auto& other : nodes_) {
    if (other.get() != &n && other->up &&
        other->engine->Applied(n.identity.replica) < n.engine->CommittedSeq())
      return false;
  }
  return true;
}

void SimHarness::HealAndCheckConvergence(uint64_t slow_dt, uint64_t deadline_ms) {
  partitioned_.clear();
  drop_ = 0;
  duplicate_ = 0;
  const uint64_t healed = now_;
  const uint64_t deadline = now_ + deadline_ms;
  while (!Quiescent() && now_ < deadline) {
    Step(now_ - healed < 2000 ? 1 : slow_dt);
    if (HasFatalFailure()) return;
  }
  ASSERT_TRUE(Quiescent()) << "no quiescence within " << deadline_ms / 1000
                           << " s of simulated time after healing:\n"
                           << Missing();
  // Progress views converge too: every node knows what every other node applied of its
  // writes, linked or reached through gateways (heartbeats carry the reports).
  const uint64_t views_deadline = now_ + 10000;
  while (!ViewsExact() && now_ < views_deadline) Step();
  EXPECT_TRUE(ViewsExact()) << ViewsMismatch();

  // The same type and byte-identical state for every key on every node.
  auto keys = nodes_[0]->engine->ListKeys(std::nullopt, "", 1000000);
  ASSERT_TRUE(keys.ok());
  for (const auto& n : nodes_) {
    auto mine = n->engine->ListKeys(std::nullopt, "", 1000000);
    ASSERT_TRUE(mine.ok());
    ASSERT_EQ(*mine, *keys) << n->id << " holds other keys or types";
    for (const auto& [key, type] : *keys) {
      auto a = nodes_[0]->engine->Read(key.family, key.name);
      auto b = n->engine->Read(key.family, key.name);
      ASSERT_TRUE(a.ok() && b.ok()) << key.name;
      EXPECT_EQ(a->type, b->type) << key.name << " on " << n->id;
      EXPECT_EQ(crdt::EncodeAny(a->state), crdt::EncodeAny(b->state))
          << key.name << " differs on " << n->id << ":\n"
          << Show(a->state) << "on " << nodes_[0]->id << ", and\n"
          << Show(b->state);
      // What the store holds (a state and the deltas merged into it) is the engine's state.
      auto stored = n->store->ReadState(type, key);
      ASSERT_TRUE(stored.ok() && stored->has_value()) << key.name;
      EXPECT_EQ(**stored, crdt::EncodeAny(b->state)) << key.name << " stored on " << n->id;
    }
  }
  ExpectNothingLegitimateRejected();
}

}  // namespace geodatastore::sim
