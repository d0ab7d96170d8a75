// Merkle trees kept by the store, and anti-entropy sessions between engines in one process.
#include <gtest/gtest.h>
#include <rocksdb/env.h>

#include <map>
#include <random>
#include <set>
#include <thread>

#include "antientropy/message_checksum.h"
#include "antientropy/scheduler.h"
#include "antientropy/session.h"
#include "antientropy/test_node.h"
#include "engine/engine.h"
#include "engine/sync_host.h"
#include "support/temp_dir.h"

namespace geodatastore {
namespace {

using antientropy::testing::Contents;
using antientropy::testing::Node;
using engine::Op;
using Kind = engine::Op::Kind;

// The trees and key digests the store keeps equal what its states give.
void ExpectTreesMatchStates(Node& n) {
  std::map<v1::CrdtType, storage::MerkleTree> trees;
  std::map<v1::CrdtType, std::map<uint32_t, std::map<std::string, storage::Digest>>> entries;
  for (const auto& [key, typed] : Contents(n)) {
    const storage::Digest d = storage::ObjectDigest(key, typed.second);
    trees[typed.first].Toggle(storage::BucketOf(key), d);
    entries[typed.first][storage::BucketOf(key)][key] = d;
  }
  for (v1::CrdtType t : crdt::kAllTypes) {
    std::vector<uint32_t> all(storage::kBuckets);
    for (uint32_t b = 0; b < storage::kBuckets; ++b) all[b] = b;
    const std::vector<storage::Digest> leaves = n.store->TreeNodes(t, storage::kLeafLevel, all);
    const storage::MerkleTree& want = trees[t];
    for (uint32_t b = 0; b < storage::kBuckets; ++b)
      ASSERT_EQ(leaves[b], want.Node(storage::kLeafLevel, b)) << "type " << t << " bucket " << b;
    ASSERT_EQ(n.store->TreeNodes(t, 0, {0})[0], want.Node(0, 0));
    std::vector<uint32_t> buckets;
    for (const auto& [b, keys] : entries[t]) buckets.push_back(b);
    auto got = n.store->BucketEntries(t, buckets);
    ASSERT_TRUE(got.ok());
    size_t count = 0;
    for (const storage::BucketEntry& e : *got) {
      ASSERT_EQ(entries[t][e.bucket].count(e.key), 1u);
      EXPECT_EQ(entries[t][e.bucket][e.key], e.digest);
      ++count;
    }
    size_t want_count = 0;
    for (const auto& [b, keys] : entries[t]) want_count += keys.size();
    EXPECT_EQ(count, want_count) << "type " << t;
  }
}

// A random op on a small key space of several types.
void RandomOp(Node& n, std::mt19937& rng, int keys) {
  auto pick = [&](int k) { return std::uniform_int_distribution<int>(0, k - 1)(rng); };
  const std::string name = std::to_string(pick(keys));
  switch (pick(6)) {
    case 0:
      (void)n.engine->Apply("c" + name, {.kind = Kind::kIncrement, .amount = 1u + pick(5)});
      break;
    case 1:
      (void)n.engine->Apply("c" + name, {.kind = Kind::kDecrement, .amount = 1u + pick(5)});
      break;
    case 2:
      (void)n.engine->Apply("s" + name,
                            {.kind = Kind::kAdd, .elements = {std::to_string(pick(5))}});
      break;
    case 3:
      (void)n.engine->Apply("s" + name,
                            {.kind = Kind::kRemove, .elements = {std::to_string(pick(5))}});
      break;
    case 4:
      (void)n.engine->Apply("r" + name, {.kind = Kind::kSet, .value = std::to_string(pick(100))});
      break;
    default:
      (void)n.engine->Apply("g" + name, {.kind = Kind::kAddEdge, .from = "a", .to = name});
      break;
  }
}

// Runs one session from a to b over a lossless in-process link.
antientropy::SessionStats Sync(Node& a, Node& b, Status* status = nullptr) {
  antientropy::Session session(a.host.get(), "a");
  while (auto request = session.Next()) {
    v1::SyncReply reply;
    const Status s = antientropy::Respond(b.host.get(), *request, &reply);
    if (!s.ok()) {
      session.Fail(s);
      continue;
    }
    session.OnReply(reply);
  }
  if (status != nullptr) *status = session.status();
  EXPECT_TRUE(session.status().ok() || status != nullptr) << session.status().ToString();
  return session.stats();
}

// The deltas node from logged with seqs in [first, last], as one batch.
v1::DeltaBatch LogBatch(Node& from, uint64_t first, uint64_t last = UINT64_MAX) {
  auto log = from.store->ReadLog(from.engine->identity().replica, first, last, 1 << 30);
  EXPECT_TRUE(log.ok() && !log->empty());
  v1::DeltaBatch batch;
  batch.set_origin(from.engine->identity().replica);
  batch.set_from_seq(first);
  batch.set_to_seq(log->back().seq());
  for (const v1::DeltaRecord& r : *log) {
    v1::KeyDelta* kd = batch.add_deltas();
    kd->set_family(r.family());
    kd->set_name(r.name());
    kd->set_type(r.type());
    kd->set_delta(r.delta());
  }
  return batch;
}

TEST(MerkleTrees, FollowEveryWriteIncludingRemoteAppliesAndTypeConflicts) {
  Node a("a"), b("b");
  ASSERT_TRUE(a.WaitReady() && b.WaitReady());
  std::mt19937 rng(7);
  for (int i = 0; i < 2000; ++i) RandomOp(i % 3 == 0 ? b : a, rng, 50);
  // The same name with two types on the two nodes, then b's deltas applied on a.
  ASSERT_TRUE(a.engine->Apply("x", {.kind = Kind::kAdd, .elements = {"1"}}).ok());
  ASSERT_TRUE(b.engine->Apply("x", {.kind = Kind::kCreate, .type = v1::G_SET}).ok());
  ASSERT_TRUE(a.engine->ApplyRemote(LogBatch(b, 1), nullptr).ok());
  ExpectTreesMatchStates(a);
  ExpectTreesMatchStates(b);
  // And after reopening (the leaves come back from RocksDB).
  a.Open("a");
  ASSERT_TRUE(a.store->merkle_ready());
  ExpectTreesMatchStates(a);
}

// Ops on large objects write their deltas as RocksDB merge operands and defer the object's
// digest (storage::ObjectWrite::deferred). What is stored must still be exactly the state the
// engine holds (the merge operator joins as the engine does), the trees must be exact once
// the digests are brought up to date, and a stop with digests deferred must lose nothing.
TEST(MerkleTrees, LargeObjectsWriteDeltasAndTheirDigestsCatchUp) {
  Node a("a"), b("b");
  ASSERT_TRUE(a.WaitReady() && b.WaitReady());
  ASSERT_TRUE(a.engine->Apply("p", {.kind = Kind::kCreate, .type = v1::TWO_P_SET}).ok());
  std::mt19937 rng(5);
  std::set<std::string> model;
  const std::string pad(40, 'x');
  for (int i = 0; i < 3000; ++i) {
    const std::string e = pad + std::to_string(rng() % 1500);
    const bool add = rng() % 4 != 0;
    ASSERT_TRUE(
        a.engine->Apply("big", {.kind = add ? Kind::kAdd : Kind::kRemove, .elements = {e}}).ok());
    if (add) {
      model.insert(e);
    } else {
      model.erase(e);
    }
    ASSERT_TRUE(
        a.engine->Apply("p", {.kind = Kind::kAdd, .elements = {pad + std::to_string(i)}}).ok());
    if (i % 3 == 0) {
      ASSERT_TRUE(
          a.engine->Apply("p", {.kind = Kind::kRemove, .elements = {pad + std::to_string(i / 2)}})
              .ok());
    }
    if (i % 7 == 0) RandomOp(a, rng, 20);
  }
  // Both large objects went the deferred way.
  auto dirty = a.store->DirtyKeys();
  std::sort(dirty.begin(), dirty.end());
  ASSERT_EQ(dirty, (std::vector<std::string>{storage::ObjectKey{v1::SETS, "big"}.Encode(),
                                             storage::ObjectKey{v1::SETS, "p"}.Encode()}));
  // The stored bytes (state plus merged deltas) are the engine's state, byte for byte.
  for (const std::string name : {"big", "p"}) {
    auto view = a.engine->Read(v1::SETS, name);
    ASSERT_TRUE(view.ok());
    auto stored = a.store->ReadState(view->type, {v1::SETS, name});
    ASSERT_TRUE(stored.ok() && stored->has_value());
    EXPECT_TRUE(**stored == crdt::EncodeAny(view->state)) << name;
  }
  auto members = [&](Node& n) {
    auto view = n.engine->Read(v1::SETS, "big");
    EXPECT_TRUE(view.ok());
    auto values = std::get<crdt::ORSet>(view->state).Value();
    return std::set<std::string>(values.begin(), values.end());
  };
  EXPECT_EQ(members(a), model);

  // Replicated, the deltas give the same bytes on b: the first half creates the objects (full
  // writes), the second half is merged into them as it was on a.
  const uint64_t half = a.engine->last_seq() / 2;
  ASSERT_TRUE(b.engine->ApplyRemote(LogBatch(a, 1, half), nullptr).ok());
  ASSERT_TRUE(b.engine->FlushDigests().ok());
  ASSERT_TRUE(b.engine->ApplyRemote(LogBatch(a, half + 1), nullptr).ok());
  EXPECT_EQ(b.store->DirtyKeys().size(), 2u);
  EXPECT_TRUE(Contents(a) == Contents(b));  // (not EXPECT_EQ: it would print both)
  ASSERT_TRUE(b.engine->FlushDigests().ok());

  // A stop with the digests deferred: they are recomputed at the start.
  a.Open("a");
  EXPECT_TRUE(a.store->DirtyKeys().empty());
  ExpectTreesMatchStates(a);
  EXPECT_EQ(members(a), model);

  // Deferred again, then an anti-entropy session: the digests catch up before the roots are
  // compared, so a difference inside a deferred object is found.
  ASSERT_TRUE(a.engine->Apply("big", {.kind = Kind::kAdd, .elements = {"only on a"}}).ok());
  ASSERT_FALSE(a.store->DirtyKeys().empty());
  const auto stats = Sync(b, a);
  EXPECT_EQ(stats.repaired_here, 1u);
  EXPECT_TRUE(Contents(a) == Contents(b));
  ExpectTreesMatchStates(a);
  ExpectTreesMatchStates(b);
  ASSERT_TRUE(a.engine->FlushDigests().ok());  // nothing left to do
  EXPECT_EQ(*a.engine->FlushDigests(), 0u);
}

TEST(MerkleTrees, RebuildInTheBackgroundWhileServingWrites) {
  testing::TempDir dir;
  Node n("n", dir.path());
  std::vector<std::pair<std::string, Op>> ops;
  for (int i = 0; i < 50000; ++i)
    ops.push_back({"k" + std::to_string(i), {.kind = Kind::kIncrement, .amount = 1}});
  for (auto& r : n.engine->ApplyBatch(ops)) ASSERT_TRUE(r.ok());
  // A database without trees (as from before they existed): rebuilt on open.
  ASSERT_TRUE(n.store->DeleteMeta("merkle_ready").ok());
  n.Open("n");
  bool served_while_rebuilding = false;
  std::mt19937 rng(3);
  for (int i = 0; i < 3000; ++i) {
    if (!n.store->merkle_ready()) served_while_rebuilding = true;
    ASSERT_TRUE(
        n.engine
            ->Apply("k" + std::to_string(rng() % 60000), {.kind = Kind::kIncrement, .amount = 1})
            .ok());
  }
  EXPECT_TRUE(served_while_rebuilding);
  ASSERT_TRUE(n.WaitReady());
  ASSERT_TRUE(n.store->merkle_rebuild_status().ok());
  ExpectTreesMatchStates(n);
}

TEST(AntiEntropy, TwoDivergedReplicasBecomeByteIdenticalAndASecondSessionFindsNothing) {
  Node a("a"), b("b");
  std::mt19937 rng(11);
  // Diverged with no replication at all: every delta log is as good as truncated.
  for (int i = 0; i < 3000; ++i) RandomOp(rng() % 2 ? a : b, rng, 200);
  ASSERT_TRUE(a.engine->Apply("t", {.kind = Kind::kAdd, .elements = {"e"}}).ok());
  ASSERT_TRUE(b.engine->Apply("t", {.kind = Kind::kSet, .value = "v"}).ok());  // lww_register
  ASSERT_TRUE(a.WaitReady() && b.WaitReady());
  const auto stats = Sync(a, b);
  EXPECT_GT(stats.repaired_here, 0u);
  EXPECT_GT(stats.repaired_there, 0u);
  EXPECT_EQ(Contents(a), Contents(b));
  ExpectTreesMatchStates(a);
  ExpectTreesMatchStates(b);
  const auto again = Sync(b, a);
  EXPECT_EQ(again.nodes_compared, std::size(crdt::kAllTypes));  // the roots agree
  EXPECT_EQ(again.pulled + again.pushed, 0u);
}

// Found by the simulator (Seeds/Simulation.Converges/gateway_2): a session pulls first, and
// a pulled state that resolves a type conflict on the initiator (a PN-Counter embedding its
// G-Counter) left nothing of the type it had compared to push: the peer never got the
// initiator's increments, yet the session counted them covered. The initiator now pushes
// what the pulled state made of that object (or keeps under lost/).
TEST(AntiEntropy, ASessionPushesWhatItsPullsTurnedIntoAnotherType) {
  Node a("a"), b("b");
  ASSERT_TRUE(a.engine->Apply("c", {.kind = Kind::kCreate, .type = v1::G_COUNTER}).ok());
  ASSERT_TRUE(a.engine->Apply("c", {.kind = Kind::kIncrement, .amount = 3}).ok());
  ASSERT_TRUE(b.engine->Apply("c", {.kind = Kind::kIncrement, .amount = 5}).ok());  // pn
  // Not embeddable: the lower tag (g_set) wins, the or_set's state is kept apart.
  ASSERT_TRUE(a.engine->Apply("s", {.kind = Kind::kAdd, .elements = {"1"}}).ok());  // or_set
  ASSERT_TRUE(b.engine->Apply("s", {.kind = Kind::kCreate, .type = v1::G_SET}).ok());
  ASSERT_TRUE(b.engine->Apply("s", {.kind = Kind::kAdd, .elements = {"2"}}).ok());
  ASSERT_TRUE(a.WaitReady() && b.WaitReady());
  Sync(a, b);
  EXPECT_EQ(Contents(a), Contents(b));
  for (Node* n : {&a, &b}) {
    auto c = n->engine->Read(v1::COUNTERS, "c");
    ASSERT_TRUE(c.ok());
    EXPECT_EQ(std::get<crdt::PNCounter>(c->state).Value(), 8);
    auto lost = n->store->ReadLost(v1::OR_SET, {v1::SETS, "s"});
    ASSERT_TRUE(lost.ok() && lost->has_value()) << "the or_set's add is kept on both";
  }
}

TEST(AntiEntropy, BytesGrowWithTheDifferenceNotTheDataSet) {
  Node a("a"), b("b");
  std::vector<std::pair<std::string, Op>> ops;
  for (int i = 0; i < 100000; ++i)
    ops.push_back({"key:" + std::to_string(i), {.kind = Kind::kIncrement, .amount = 1u + i % 7}});
  for (auto& r : a.engine->ApplyBatch(ops)) ASSERT_TRUE(r.ok());
  ASSERT_TRUE(a.WaitReady() && b.WaitReady());
  // b gets a's states first: a full transfer, which is what the 5% compares with.
  const auto full = Sync(b, a);
  EXPECT_EQ(full.repaired_here, 100000u);
  const uint64_t full_bytes = full.bytes_sent + full.bytes_received;
  std::mt19937 rng(5);
  for (int i = 0; i < 100; ++i) {
    Node& n = i % 2 ? a : b;
    ASSERT_TRUE(n.engine
                    ->Apply("key:" + std::to_string(rng() % 100000),
                            {.kind = Kind::kIncrement, .amount = 1})
                    .ok());
  }
  const auto diff = Sync(a, b);
  const uint64_t diff_bytes = diff.bytes_sent + diff.bytes_received;
  EXPECT_LT(diff_bytes * 20, full_bytes) << diff_bytes << " of " << full_bytes;
  printf("100 differences in 100,000 keys: %llu bytes; the full transfer: %llu bytes\n",
         static_cast<unsigned long long>(diff_bytes), static_cast<unsigned long long>(full_bytes));
  EXPECT_LE(diff.pulled + diff.pushed, 200u);
  EXPECT_GE(diff.repaired_here + diff.repaired_there, 100u);
  EXPECT_EQ(Contents(a), Contents(b));
}

TEST(AntiEntropy, AWipedReplicaIsRefilledByAntiEntropyAlone) {
  testing::TempDir dir;
  Node a("a");
  auto b = std::make_unique<Node>("b", dir.path());
  std::mt19937 rng(13);
  for (int i = 0; i < 2000; ++i) RandomOp(rng() % 2 ? a : *b, rng, 300);
  Sync(a, *b);
  const auto before = Contents(a);
  // b loses its disk: a new data directory, a new replica epoch.
  b.reset();
  std::filesystem::remove_all(dir.path());
  b = std::make_unique<Node>("b", dir.path());
  ASSERT_TRUE(b->WaitReady());
  EXPECT_TRUE(Contents(*b).empty());
  Sync(*b, a);
  EXPECT_EQ(Contents(*b), before);
}

TEST(AntiEntropy, CorruptOrMisfiledPushedStatesChangeNothing) {
  Node a("a"), b("b");
  ASSERT_TRUE(a.engine->Apply("c", {.kind = Kind::kIncrement, .amount = 1}).ok());
  ASSERT_TRUE(a.WaitReady() && b.WaitReady());
  auto states = a.host->ReadStates({[] {
    v1::ObjectRef r;
    r.set_type(v1::PN_COUNTER);
    r.set_key(storage::ObjectKey{v1::COUNTERS, "c"}.Encode());
    return r;
  }()});
  ASSERT_TRUE(states.ok() && states->size() == 1u);
  v1::ObjectState good = (*states)[0];
  v1::ObjectState flipped = good;
  flipped.mutable_state()->back() ^= 0x5a;
  v1::ObjectState misfiled = good;
  misfiled.set_type(v1::OR_SET);  // a set state under a counter's name
  v1::ObjectState badkey = good;
  badkey.set_key("");
  for (const v1::ObjectState& bad : {flipped, misfiled, badkey}) {
    v1::SyncRequest push;
    *push.mutable_push()->add_states() = good;
    *push.mutable_push()->add_states() = bad;
    antientropy::Seal(&push);  // intact on the wire: the states themselves are bad
    v1::SyncReply reply;
    EXPECT_FALSE(antientropy::Respond(b.host.get(), push, &reply).ok());
    EXPECT_TRUE(Contents(b).empty());
  }
}

TEST(AntiEntropy, FiveReplicasConvergeThroughRandomPairwiseSessionsWithFailures) {
  for (uint32_t seed = 1; seed <= 20; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    std::vector<std::unique_ptr<Node>> nodes;
    for (int i = 0; i < 5; ++i) nodes.push_back(std::make_unique<Node>("n" + std::to_string(i)));
    std::mt19937 rng(seed);
    for (int i = 0; i < 1500; ++i) RandomOp(*nodes[rng() % 5], rng, 80);
    // Gossip: random pairs; a third of the sessions lose a reply midway.
    for (int round = 0; round < 40; ++round) {
      Node& a = *nodes[rng() % 5];
      Node& b = *nodes[rng() % 5];
      if (&a == &b) continue;
      antientropy::Session session(a.host.get(), "a");
      const bool lossy = rng() % 3 == 0;
      int step = 0;
      while (auto request = session.Next()) {
        v1::SyncReply reply;
        ASSERT_TRUE(antientropy::Respond(b.host.get(), *request, &reply).ok());
        if (lossy && ++step == 4) {
          session.Fail(Status(StatusCode::kUnavailable, "link lost"));
          continue;
        }
        session.OnReply(reply);
      }
    }
    // Then every pair once, both ways: a full round heals whatever gossip missed.
    for (auto& a : nodes) {
      for (auto& b : nodes) {
        if (a != b) Sync(*a, *b);
      }
    }
    const auto want = Contents(*nodes[0]);
    for (auto& n : nodes) EXPECT_EQ(Contents(*n), want);
  }
}

TEST(Scheduler, PicksOtherRegionsMostlyAndAPeerBackFromDownAtOnce) {
  antientropy::Scheduler s("us", 1000, 1);
  std::vector<antientropy::PeerStatus> peers = {
      {"us-2", "us", true, false}, {"eu-1", "eu", true, false}, {"ap-1", "ap", false, true}};
  EXPECT_TRUE(s.Due(1, peers).empty());    // the first round is an interval away
  peers[2] = {"ap-1", "ap", true, false};  // first heard from: no session for that alone
  EXPECT_TRUE(s.Due(2, peers).empty());
  peers[2] = {"ap-1", "ap", false, true};  // then down
  std::map<std::string, int> picks;
  uint64_t now = 1;
  for (int i = 0; i < 400; ++i) {
    now += 1100;
    for (const std::string& p : s.Due(now, peers)) ++picks[p];
  }
  EXPECT_EQ(picks["ap-1"], 0);  // never a peer that is down
  EXPECT_GT(picks["eu-1"], 2 * picks["us-2"]);
  EXPECT_GT(picks["us-2"], 0);
  peers[2] = {"ap-1", "ap", true, false};  // back
  const auto due = s.Due(now + 1, peers);
  EXPECT_EQ(due, std::vector<std::string>{"ap-1"});
}

}  // namespace
}  // namespace geodatastore
