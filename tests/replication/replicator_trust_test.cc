// The rules a peer's message must pass before the replicator takes any of it
// (replication/replicator_trust.cc): checksums, the authenticated sender, acknowledgements
// bounded by what was sent, covered_seq bounded by the origin's own report, progress reports
// only from whom they describe (or the gateway relaying them). Each test forges what the
// issue reports as an attack and checks that nothing changes but a counter.
#include <gtest/gtest.h>
#include <rocksdb/env.h>

#include <random>

#include "crdt/codec.h"
#include "engine/engine.h"
#include "engine/replication_host.h"
#include "replication/message_checksum.h"
#include "replication/replicator.h"

namespace geodatastore {
namespace {

using engine::Op;
using Kind = engine::Op::Kind;
using replication::Outgoing;

struct TrustNode {
  TrustNode(std::string node_id, std::string node_region)
      : id(std::move(node_id)),
        region(std::move(node_region)),
        env(rocksdb::NewMemEnv(rocksdb::Env::Default())) {
    store = std::move(storage::Store::Open({"/trust/" + id, false, env.get()})).value();
    engine = std::make_unique<engine::Engine>(
        store.get(), storage::NodeIdentity{id, 1, storage::ReplicaIdOf(id, 1)}, &clock,
        engine::EngineOptions{});
    EXPECT_TRUE(engine->Start().ok());
    host = std::make_unique<engine::EngineReplicationHost>(engine.get());
  }
  void Link(const std::vector<replication::PeerInfo>& peers, replication::Topology topology) {
    replication::ReplicatorOptions options;
    options.topology = topology;
    replicator = std::make_unique<replication::Replicator>(replication::PeerInfo{id, region}, peers,
                                                           host.get(), options);
    EXPECT_TRUE(replicator->Start(clock.NowMillis()).ok());
  }
  crdt::ReplicaId replica() const { return engine->identity().replica; }
  uint64_t Rejected(const std::string& reason) const {
    auto it = replicator->counters().rejected.find(reason);
    return it == replicator->counters().rejected.end() ? 0 : it->second;
  }
  // A sealed message from this node.
  v1::ReplicationMessage Envelope() const {
    v1::ReplicationMessage m;
    m.set_from(id);
    m.set_replica(replica());
    return m;
  }

  std::string id, region;
  std::unique_ptr<rocksdb::Env> env;
  crdt::ManualClock clock{1'700'000'000'000};
  std::unique_ptr<storage::Store> store;
  std::unique_ptr<engine::Engine> engine;
  std::unique_ptr<engine::EngineReplicationHost> host;
  std::unique_ptr<replication::Replicator> replicator;
};

class ReplicatorTrust : public ::testing::Test {
 protected:
  // Nodes (id, region), every one a peer of the others, in topology.
  void Make(const std::vector<std::pair<std::string, std::string>>& layout,
            replication::Topology topology = replication::Topology::kMesh) {
    for (const auto& [id, region] : layout) nodes_[id] = std::make_unique<TrustNode>(id, region);
    for (auto& [id, n] : nodes_) {
      std::vector<replication::PeerInfo> peers;
      for (const auto& [other, o] : nodes_) {
        if (other != id) peers.push_back({other, o->region});
      }
      n->Link(peers, topology);
    }
  }
  TrustNode& N(const std::string& id) { return *nodes_.at(id); }

  // The first delta batch node sends to peer on its next flush.
  v1::ReplicationMessage NextBatch(TrustNode& node, const std::string& peer) {
    node.clock.Advance(10);
    for (Outgoing& o : node.replicator->Tick(node.clock.NowMillis())) {
      if (o.to == peer && o.message.has_deltas()) return o.message;
    }
    ADD_FAILURE() << node.id << " sent no batch to " << peer;
    return {};
  }
  std::vector<Outgoing> Deliver(const v1::ReplicationMessage& m, TrustNode& to,
                                const std::string& authenticated = "") {
    return to.replicator->Receive(m, authenticated.empty() ? m.from() : authenticated,
                                  to.clock.NowMillis());
  }
  static void Write(TrustNode& n, int ops) {
    for (int i = 0; i < ops; ++i) {
      ASSERT_TRUE(
          n.engine->Apply("c" + std::to_string(i % 3), {.kind = Kind::kIncrement, .amount = 1})
              .ok());
      ASSERT_TRUE(n.engine->Apply("s", {.kind = Kind::kAdd, .elements = {std::to_string(i)}}).ok());
    }
  }
  static uint64_t AckedBy(TrustNode& n, const std::string& peer) {
    for (const replication::PeerView& v : n.replicator->Peers(n.clock.NowMillis())) {
      if (v.id == peer) return v.acked;
    }
    return 0;
  }

  std::map<std::string, std::unique_ptr<TrustNode>> nodes_;
};

TEST_F(ReplicatorTrust, AMessageFromAnotherThanItsAuthenticatedSenderIsDropped) {
  Make({{"a", "r1"}, {"b", "r1"}, {"c", "r1"}});
  Write(N("a"), 3);
  const v1::ReplicationMessage batch = NextBatch(N("a"), "b");
  EXPECT_TRUE(Deliver(batch, N("b"), "c").empty());  // c replays a's frame as a
  EXPECT_EQ(N("b").Rejected("spoofed_sender"), 1u);
  EXPECT_EQ(N("b").engine->Applied(N("a").replica()), 0u);
  Deliver(batch, N("b"), "a");
  EXPECT_EQ(N("b").engine->Applied(N("a").replica()), 6u);
}

TEST_F(ReplicatorTrust, NoFrameWithFlippedBitsIsMerged) {
  Make({{"a", "r1"}, {"b", "r1"}});
  Write(N("a"), 10);
  const v1::ReplicationMessage batch = NextBatch(N("a"), "b");
  const std::string bytes = batch.SerializeAsString();
  const std::string canonical = crdt::SerializeCanonical(batch);
  std::mt19937 rng(12);
  int parsed = 0, merged = 0;
  for (int i = 0; i < 1000; ++i) {
    std::string flipped = bytes;
    for (int f = 0; f <= i % 3; ++f)
      flipped[rng() % flipped.size()] ^= static_cast<char>(1 << (rng() % 8));
    v1::ReplicationMessage m;
    if (!m.ParseFromString(flipped)) continue;               // the transport drops it
    if (crdt::SerializeCanonical(m) == canonical) continue;  // the same message after all
    ++parsed;
    Deliver(m, N("b"), "a");
    merged += N("b").engine->Applied(N("a").replica()) != 0 ||
              !N("b").engine->ListKeys(std::nullopt, "", 10)->empty();
  }
  EXPECT_GT(parsed, 500);
  EXPECT_EQ(merged, 0);
  // Each counted: a flip in `from` no longer names the authenticated sender.
  EXPECT_EQ(N("b").Rejected("checksum") + N("b").Rejected("spoofed_sender"),
            static_cast<uint64_t>(parsed));
  Deliver(batch, N("b"), "a");  // the intact frame is merged
  EXPECT_EQ(N("b").engine->Applied(N("a").replica()), 20u);
}

TEST_F(ReplicatorTrust, AnAcknowledgementBeyondWhatWasSentIsRejectedAndNothingPersisted) {
  Make({{"a", "r1"}, {"b", "r1"}});
  Write(N("a"), 5);  // committed 1..10, nothing sent yet
  v1::ReplicationMessage forged = N("b").Envelope();
  forged.mutable_ack()->set_origin(N("a").replica());
  forged.mutable_ack()->set_applied_seq(10);
  replication::Seal(&forged);
  Deliver(forged, N("a"));
  EXPECT_EQ(N("a").Rejected("forged_ack"), 1u);
  EXPECT_EQ(AckedBy(N("a"), "b"), 0u);
  // Replication to b carries on, and the cursor that a persists is what b really applied.
  const v1::ReplicationMessage batch = NextBatch(N("a"), "b");
  EXPECT_EQ(batch.deltas().from_seq(), 1u);
  EXPECT_EQ(N("a").store->LoadCursor("b")->acked, 0u);
  for (const Outgoing& ack : Deliver(batch, N("b"))) Deliver(ack.message, N("a"));
  EXPECT_EQ(AckedBy(N("a"), "b"), 10u);
  // Nor may a relay claim more for the nodes downstream of it: they get a's deltas from it.
  v1::ReplicationMessage downstream = N("b").Envelope();
  downstream.mutable_ack()->set_origin(N("a").replica());
  downstream.mutable_ack()->set_applied_seq(10);
  v1::NodeAck* d = downstream.mutable_ack()->add_downstream();
  d->set_node("z");
  d->set_applied_seq(11);
  replication::Seal(&downstream);
  Deliver(downstream, N("a"));
  EXPECT_EQ(N("a").Rejected("forged_ack"), 2u);
}

TEST_F(ReplicatorTrust, AfterARestartAnAcknowledgementMovesTheCursorOnlyAsFarAsThisProcessSent) {
  Make({{"a", "r1"}, {"b", "r1"}});
  Write(N("a"), 5);  // committed 1..10 before the restart; what went to b is not known now
  N("a").Link({{"b", "r1"}}, replication::Topology::kMesh);  // a restarts: cursor of b at 0
  auto ack = [&](uint64_t applied) {
    v1::ReplicationMessage m = N("b").Envelope();
    m.mutable_ack()->set_origin(N("a").replica());
    m.mutable_ack()->set_applied_seq(applied);
    replication::Seal(&m);
    return m;
  };
  // Sent before the restart, perhaps: not counted, but not believed either.
  Deliver(ack(10), N("a"));
  EXPECT_EQ(N("a").Rejected("forged_ack"), 0u);
  EXPECT_EQ(AckedBy(N("a"), "b"), 0u);
  // Never committed at all: forged.
  Deliver(ack(11), N("a"));
  EXPECT_EQ(N("a").Rejected("forged_ack"), 1u);
  // a resends from the persisted cursor, which neither moved.
  const v1::ReplicationMessage batch = NextBatch(N("a"), "b");
  EXPECT_EQ(batch.deltas().from_seq(), 1u);
  ASSERT_EQ(batch.deltas().to_seq(), 10u);
  EXPECT_EQ(N("a").store->LoadCursor("b")->acked, 0u);
  // Once a has sent seqs 1..10 the same acknowledgement is taken.
  Deliver(ack(10), N("a"));
  EXPECT_EQ(AckedBy(N("a"), "b"), 10u);
}

// Found by the simulator (Seeds/WalDamage): a node that took a new replica epoch because
// its store went backwards (a damaged write-ahead log) kept the persisted cursors of the
// old epoch, so it took the first seqs of the new replica as acknowledged by peers that had
// acknowledged as many of the old one, and never sent them. A cursor beyond the committed
// seq is cut back at start, and persisted so (a second restart must not read the old one).
TEST_F(ReplicatorTrust, ANewEpochSendsItsFirstSeqsWhateverTheOldEpochsCursorsSaid) {
  Make({{"a", "r1"}, {"b", "r1"}});
  Write(N("a"), 5);  // 1..10, all acknowledged by b
  ASSERT_TRUE(N("a").store->SaveCursor("b", {10, N("b").replica()}).ok());
  TrustNode& a = N("a");
  auto new_epoch = [&] {
    a.replicator.reset();
    a.host.reset();
    a.engine = std::make_unique<engine::Engine>(
        a.store.get(), storage::NodeIdentity{"a", 2, storage::ReplicaIdOf("a", 2)}, &a.clock,
        engine::EngineOptions{});
    ASSERT_TRUE(a.engine->Start().ok());
    a.host = std::make_unique<engine::EngineReplicationHost>(a.engine.get());
    a.Link({{"b", "r1"}}, replication::Topology::kMesh);
  };
  new_epoch();
  EXPECT_EQ(a.store->LoadCursor("b")->acked, 0u);
  Write(a, 1);  // seqs 1..2 of the new replica
  new_epoch();  // restarted again before b acknowledged anything of it
  const v1::ReplicationMessage batch = NextBatch(a, "b");
  EXPECT_EQ(batch.deltas().origin(), storage::ReplicaIdOf("a", 2));
  EXPECT_EQ(batch.deltas().from_seq(), 1u);
  EXPECT_EQ(batch.deltas().to_seq(), 2u);
}

TEST_F(ReplicatorTrust, AfterARestartAPeerAheadOfItsCursorCatchesUp) {
  Make({{"a", "r1"}, {"b", "r1"}});
  Write(N("a"), 5);
  for (const Outgoing& o : Deliver(NextBatch(N("a"), "b"), N("b"))) (void)o;  // ack lost
  EXPECT_EQ(N("b").engine->Applied(N("a").replica()), 10u);
  Write(N("a"), 5);                                          // 11..20
  N("a").Link({{"b", "r1"}}, replication::Topology::kMesh);  // restart: cursor of b at 0
  // b acknowledges what it holds; a believes it of the seqs it has sent since.
  for (int round = 0; round < 3 && AckedBy(N("a"), "b") < 20; ++round) {
    const v1::ReplicationMessage batch = NextBatch(N("a"), "b");
    if (round == 0) {
      EXPECT_EQ(batch.deltas().from_seq(), 1u);
    }
    for (const Outgoing& o : Deliver(batch, N("b"))) Deliver(o.message, N("a"));
  }
  EXPECT_EQ(N("a").Rejected("forged_ack"), 0u);
  EXPECT_EQ(AckedBy(N("a"), "b"), 20u);
  EXPECT_EQ(N("b").engine->Applied(N("a").replica()), 20u);
}

TEST_F(ReplicatorTrust, ACoveredSeqBeyondTheOriginsOwnReportIsRejected) {
  Make({{"a1", "ra"}, {"b1", "rb"}, {"b2", "rb"}}, replication::Topology::kGateway);
  TrustNode &a1 = N("a1"), &b2 = N("b2");
  // b1, the gateway that relays ra to b2, passes on a1's own report: it assigned 10.
  v1::Progress report = a1.host->OwnProgress();
  report.set_node("a1");
  report.set_assigned_seq(10);
  auto covered = [&](uint64_t seq) {
    v1::ReplicationMessage m = N("b1").Envelope();
    *m.add_progress() = report;
    v1::DeltaBatch* batch = m.mutable_deltas();
    batch->set_origin(a1.replica());
    batch->set_origin_node("a1");
    batch->set_origin_region("ra");
    batch->set_from_seq(seq);
    batch->set_to_seq(seq);
    batch->set_covered_seq(seq);
    batch->set_hlc_physical(b2.clock.NowMillis());
    replication::Seal(&m);
    return m;
  };
  Deliver(covered(1000), b2);
  EXPECT_EQ(b2.Rejected("forged_covered"), 1u);
  EXPECT_EQ(b2.engine->Applied(a1.replica()), 0u);
  Deliver(covered(10), b2);
  EXPECT_EQ(b2.engine->Applied(a1.replica()), 10u);
  // b2 is no gateway: it relays nothing, so nothing of a1's comes from it.
  v1::ReplicationMessage relayed = covered(11);
  relayed.set_from("b2");
  relayed.set_replica(b2.replica());
  relayed.clear_progress();
  replication::Seal(&relayed);
  Deliver(relayed, N("b1"));
  EXPECT_EQ(N("b1").Rejected("forged_relay"), 1u);
  EXPECT_EQ(N("b1").engine->Applied(a1.replica()), 0u);
}

TEST_F(ReplicatorTrust, ProgressReportsComeOnlyFromWhomTheyDescribe) {
  Make({{"a", "r1"}, {"b", "r1"}, {"c", "r1"}});
  auto from_b = [&](const std::string& node, crdt::ReplicaId replica, uint64_t applied_of_a) {
    v1::ReplicationMessage m = N("b").Envelope();
    v1::Progress* p = m.add_progress();
    p->set_node(node);
    p->set_replica(replica);
    p->set_hlc_physical(N("b").clock.NowMillis());
    if (applied_of_a > 0)
      crdt::EncodeDot({N("a").replica(), applied_of_a}, p->mutable_applied()->add_entries());
    replication::Seal(&m);
    return m;
  };
  Deliver(from_b("c", N("c").replica(), 0), N("a"));  // b speaks for c: stops collection
  Deliver(from_b("a", N("a").replica(), 0), N("a"));  // b speaks for a itself
  Deliver(from_b("b", N("b").replica(), 7), N("a"));  // b claims writes a never made
  EXPECT_EQ(N("a").Rejected("forged_progress"), 3u);
  EXPECT_TRUE(N("a").replicator->progress().empty());
  Deliver(from_b("b", N("b").replica(), 0), N("a"));  // b's own report
  EXPECT_EQ(N("a").replicator->progress().count("b"), 1u);
}

}  // namespace
}  // namespace geodatastore
