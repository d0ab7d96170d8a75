// TombstoneCollector (engine/tombstones.h) driven by hand-made progress reports: a knowledge
// vector that claims seqs its replica never issued, joined in by anti-entropy, does not stop
// collection for good; it is bounded by that replica's own later report, and counted.
#include "engine/tombstones.h"

#include <gtest/gtest.h>

#include "engine_fixture.h"

namespace geodatastore::engine {
namespace {

using Kind = Op::Kind;

constexpr crdt::ReplicaId kPeer = 0x5eed;  // the replica of node "b"

class TombstoneCollectorTest : public EngineFixture {
 protected:
  TombstoneCollectorTest() : EngineFixture("a") {}

  // This node's report ("a") and b's, both stamped at ms; b assigned b_assigned and applied
  // everything of a.
  std::map<std::string, v1::Progress> Reports(uint64_t ms, uint64_t b_assigned) {
    v1::Progress a = engine_->ProgressReport();
    a.set_node("a");
    a.set_hlc_physical(ms);
    v1::Progress b;
    b.set_node("b");
    b.set_replica(kPeer);
    b.set_hlc_physical(ms);
    b.set_assigned_seq(b_assigned);
    crdt::VersionVector applied = engine_->AppliedVector();
    if (b_assigned > 0) applied.Raise(kPeer, b_assigned);
    crdt::EncodeVersionVector(applied, b.mutable_applied());
    return {{"a", a}, {"b", b}};
  }
};

TEST_F(TombstoneCollectorTest, AKnowledgeEntryItsReplicaNeverReachesIsBoundedByItsOwnReport) {
  ASSERT_TRUE(engine_->Apply("p", {.kind = Kind::kCreate, .type = v1::TWO_P_SET}).ok());
  ASSERT_TRUE(engine_->Apply("p", {.kind = Kind::kAdd, .elements = {"x"}}).ok());
  ASSERT_TRUE(engine_->Apply("p", {.kind = Kind::kRemove, .elements = {"x"}}).ok());
  // A peer's push says its states hold b's writes up to 2^40: b has made none.
  crdt::VersionVector forged;
  forged.Raise(kPeer, uint64_t{1} << 40);
  ASSERT_TRUE(engine_->JoinStates({}, nullptr, forged).ok());

  TombstoneCollector collector(engine_.get(), {.interval_ms = 0, .max_objects = 100});
  ASSERT_TRUE(collector.Step(Reports(kNow, 0), 2, kNow).ok());
  EXPECT_EQ(collector.phase(), 1);
  // b's report from before the snapshot (or within the clock offset of it) proves nothing.
  ASSERT_TRUE(collector.Step(Reports(kNow + 400, 0), 2, kNow + 400).ok());
  EXPECT_EQ(collector.phase(), 1);
  EXPECT_TRUE(rejections_.reasons.empty());
  // A later one does: b has assigned nothing, so the states cannot hold any of its writes.
  clock_.Advance(1000);
  ASSERT_TRUE(collector.Step(Reports(kNow + 1000, 0), 2, kNow + 1000).ok());
  EXPECT_EQ(collector.phase(), 2);
  EXPECT_EQ(rejections_.reasons, std::vector<std::string>{"knowledge"});
  auto collected = collector.Step(Reports(kNow + 2000, 0), 2, kNow + 2000);
  ASSERT_TRUE(collected.ok()) << collected.status().ToString();
  EXPECT_EQ(*collected, 1u);
}

TEST_F(TombstoneCollectorTest, AKnowledgeEntryWithinWhatItsReplicaAssignedIsWaitedFor) {
  ASSERT_TRUE(engine_->Apply("p", {.kind = Kind::kCreate, .type = v1::TWO_P_SET}).ok());
  ASSERT_TRUE(engine_->Apply("p", {.kind = Kind::kAdd, .elements = {"x"}}).ok());
  ASSERT_TRUE(engine_->Apply("p", {.kind = Kind::kRemove, .elements = {"x"}}).ok());
  crdt::VersionVector known;
  known.Raise(kPeer, 7);
  ASSERT_TRUE(engine_->JoinStates({}, nullptr, known).ok());
  TombstoneCollector collector(engine_.get(), {.interval_ms = 0, .max_objects = 100});
  ASSERT_TRUE(collector.Step(Reports(kNow, 7), 2, kNow).ok());
  // b assigned 7 and applied them, but this node has not: nothing is collected yet.
  clock_.Advance(1000);
  ASSERT_TRUE(collector.Step(Reports(kNow + 1000, 7), 2, kNow + 1000).ok());
  EXPECT_EQ(collector.phase(), 1);
  EXPECT_TRUE(rejections_.reasons.empty());
}

TEST_F(TombstoneCollectorTest, AnImpossibleKnowledgeVectorIsRefusedBeforeAnythingIsJoined) {
  ASSERT_TRUE(engine_->Apply("c", {.kind = Kind::kIncrement, .amount = 1}).ok());
  const crdt::VersionVector before = engine_->Knowledge();
  auto push = [&](crdt::ReplicaId replica, uint64_t seq) {
    crdt::VersionVector knowledge;
    knowledge.Raise(replica, seq);
    v1::ObjectState state;
    state.set_type(v1::G_SET);
    state.set_key(storage::ObjectKey{v1::SETS, "g"}.Encode());
    state.set_state(crdt::EncodeAny(crdt::GSet().Add("e")));
    return engine_->JoinStates({state}, nullptr, knowledge).status();
  };
  EXPECT_EQ(crdt::RejectionReason(push(0, 5)), crdt::kReplicaId);
  EXPECT_EQ(crdt::RejectionReason(push(kPeer, crdt::kMaxDotCounter)), crdt::kKnowledge);
  // More of this node's writes than it ever issued.
  EXPECT_EQ(crdt::RejectionReason(push(engine_->identity().replica, 2)), crdt::kKnowledge);
  EXPECT_EQ(rejections_.reasons,
            (std::vector<std::string>{"replica_id", "knowledge", "knowledge"}));
  EXPECT_EQ(engine_->Read(v1::SETS, "g").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(engine_->Knowledge(), before);
  crdt::VersionVector many;
  for (crdt::ReplicaId r = 1; r <= crdt::kMaxKnowledgeEntries + 1; ++r) many.Raise(r, 1);
  EXPECT_EQ(crdt::RejectionReason(engine_->JoinStates({}, nullptr, many).status()),
            crdt::kKnowledge);
  EXPECT_TRUE(push(engine_->identity().replica, 1).ok());
}

}  // namespace
}  // namespace geodatastore::engine
