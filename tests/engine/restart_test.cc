// What a restart must keep (issue 13): stamps never go backwards, a store that went
// backwards takes a new replica epoch, every change gets a seq its token covers, and a type
// conflict keeps both sides' writes.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "engine/engine.h"
#include "engine/session.h"
#include "storage/high_water.h"
#include "support/temp_dir.h"

namespace geodatastore::engine {
namespace {

using Kind = Op::Kind;
using ::testing::HasSubstr;

v1::DeltaBatch Batch(crdt::ReplicaId origin, uint64_t seq, v1::Family family,
                     const std::string& name, const crdt::AnyCrdt& delta) {
  v1::DeltaBatch batch;
  batch.set_origin(origin);
  batch.set_from_seq(seq);
  batch.set_to_seq(seq);
  v1::KeyDelta* kd = batch.add_deltas();
  kd->set_family(family);
  kd->set_name(name);
  kd->set_type(crdt::TypeOf(delta));
  kd->set_delta(crdt::EncodeAny(delta));
  return batch;
}

class RestartTest : public ::testing::Test {
 protected:
  static constexpr uint64_t kNow = 1'700'000'000'000;

  RestartTest() { Open(); }

  void Open() {
    engine_.reset();
    store_.reset();
    store_ = std::move(storage::Store::Open({dir_.path(), false})).value();
    auto id = storage::LoadIdentity(*store_, "us-east-1");
    ASSERT_TRUE(id.ok()) << id.status().ToString();
    identity_ = *id;
    engine_ = std::make_unique<Engine>(store_.get(), *id, &clock_, EngineOptions{});
    const Status started = engine_->Start();
    ASSERT_TRUE(started.ok()) << started.ToString();
  }

  ObjectView MustApply(const std::string& name, const Op& op) {
    auto view = engine_->Apply(name, op);
    EXPECT_TRUE(view.ok()) << view.status().ToString();
    return view.ok() ? *view : ObjectView{};
  }

  std::vector<std::string> Register(const std::string& name) {
    return std::get<crdt::LWWRegister>(engine_->Read(v1::REGISTERS, name)->state).Value();
  }

  static Op Set(std::string value) { return {.kind = Kind::kSet, .value = std::move(value)}; }

  // Stops the engine and returns the high-water marks it saved.
  storage::HighWater SavedMarks() {
    engine_.reset();
    auto saved = marks_.Load();
    EXPECT_TRUE(saved.ok() && *saved);
    return saved.ok() && *saved ? **saved : storage::HighWater{};
  }

  geodatastore::testing::TempDir dir_;
  crdt::ManualClock clock_{kNow};
  std::unique_ptr<storage::Store> store_;
  std::unique_ptr<Engine> engine_;
  storage::NodeIdentity identity_;
  storage::HighWaterFile marks_{nullptr, dir_.path()};
};

TEST_F(RestartTest, StampsNeverGoBackwardsAcrossARestartWithTheClockSetBack) {
  MustApply("r", Set("before"));
  clock_.Set(kNow - 300);  // the node comes back with its clock a little behind
  Open();
  MustApply("r", Set("after"));
  EXPECT_EQ(Register("r"), std::vector<std::string>{"after"});
  EXPECT_GT(engine_->HlcNow().physical, kNow);
}

TEST_F(RestartTest, ARestartFarBehindItsOwnStampsRefusesLwwWritesUntilItsClockPassesThem) {
  MustApply("r", Set("before"));
  clock_.Set(kNow - 300'000);  // five minutes behind the stamps it issued
  Open();
  auto refused = engine_->Apply("r", Set("too early"));
  EXPECT_EQ(refused.status().code(), StatusCode::kUnavailable);
  EXPECT_THAT(refused.status().message(), HasSubstr("clock fenced"));
  MustApply("c", {.kind = Kind::kIncrement, .amount = 1});  // other types are not fenced
  clock_.Set(kNow + 1);
  MustApply("r", Set("after"));
  EXPECT_EQ(Register("r"), std::vector<std::string>{"after"});
}

TEST_F(RestartTest, AFencedEngineRefusesLwwWritesOnly) {
  engine_->SetClockFence("test");
  EXPECT_EQ(engine_->Apply("r", Set("x")).status().code(), StatusCode::kUnavailable);
  EXPECT_TRUE(engine_->Apply("r", {.kind = Kind::kCreate, .type = v1::LWW_REGISTER}).ok());
  EXPECT_TRUE(engine_->Apply("s", {.kind = Kind::kAdd, .elements = {"x"}}).ok());
  engine_->SetClockFence("");
  EXPECT_TRUE(engine_->Apply("r", Set("x")).ok());
}

TEST_F(RestartTest, AStampMergedFromElsewhereMovesTheClock) {
  crdt::LWWRegister theirs;
  theirs = theirs.Set({{kNow + 400, 0}, 77}, "theirs");  // within the 500 ms offset
  v1::ObjectState state;
  state.set_type(v1::LWW_REGISTER);
  state.set_key(storage::ObjectKey{v1::REGISTERS, "m"}.Encode());
  state.set_state(crdt::EncodeAny(theirs));
  ASSERT_TRUE(engine_->JoinStates({state}, nullptr, {}).ok());
  MustApply("m", Set("mine, later"));  // written after this node saw theirs
  EXPECT_EQ(Register("m"), std::vector<std::string>{"mine, later"});
}

TEST_F(RestartTest, ACleanRestartKeepsItsEpoch) {
  for (int i = 0; i < 10; ++i) MustApply("c", {.kind = Kind::kIncrement, .amount = 1});
  ASSERT_TRUE(engine_->SaveHighWater().ok());
  const storage::NodeIdentity before = identity_;
  Open();
  EXPECT_EQ(identity_.replica, before.replica);
  EXPECT_EQ(identity_.new_epoch_reason, "");
}

TEST_F(RestartTest, ADeltaLogBelowTheCommittedMarkTakesANewEpoch) {
  for (int i = 0; i < 10; ++i) MustApply("c", {.kind = Kind::kIncrement, .amount = 1});
  ASSERT_TRUE(engine_->SaveHighWater().ok());
  const storage::NodeIdentity before = identity_;
  // As if the store had lost its last ten writes: the marks say 20 were committed.
  storage::HighWater ahead = SavedMarks();
  EXPECT_EQ(ahead.committed_seq, 10u);
  ahead.committed_seq = 20;
  ASSERT_TRUE(marks_.Save(ahead).ok());
  Open();
  EXPECT_NE(identity_.replica, before.replica);
  EXPECT_GT(identity_.epoch, before.epoch);
  EXPECT_THAT(identity_.new_epoch_reason, HasSubstr("ends at seq 10, below the 20"));
  // The new replica numbers from 1, and an increment counts under it.
  ObjectView v = MustApply("c", {.kind = Kind::kIncrement, .amount = 1});
  EXPECT_EQ(v.seq, 1u);
  EXPECT_EQ(std::get<crdt::PNCounter>(v.state).Value(), 11);
}

TEST_F(RestartTest, LosingAppliedPeerBatchesTakesANewEpoch) {
  // A power loss can cut the WAL cleanly after the node's own writes, dropping only batches
  // it applied (and acknowledged) from a peer: the peer never resends them to the same
  // replica, so the node must come back as a new one.
  crdt::GCounter theirs;
  theirs = *theirs.Increment(42, 3);
  ASSERT_TRUE(engine_->ApplyRemote(Batch(42, 1, v1::COUNTERS, "c", theirs), nullptr).ok());
  ASSERT_TRUE(engine_->SaveHighWater().ok());
  const storage::NodeIdentity before = identity_;
  EXPECT_EQ(SavedMarks().applied_total, 1u);
  Open();
  EXPECT_EQ(identity_.replica, before.replica);  // nothing lost: same replica
  storage::HighWater ahead = SavedMarks();
  ahead.applied_total = 2;  // as if a second applied batch had been lost
  ASSERT_TRUE(marks_.Save(ahead).ok());
  Open();
  EXPECT_NE(identity_.replica, before.replica);
  EXPECT_THAT(identity_.new_epoch_reason, HasSubstr("fewer than the 2 it had applied"));
}

TEST_F(RestartTest, AnUnreadableHighWaterFileTakesANewEpoch) {
  const storage::NodeIdentity before = identity_;
  engine_.reset();
  store_.reset();
  ASSERT_EQ(std::system(("echo 'v1 1 2 3 0000000000000000' > " + dir_.path() + "/HIGH_WATER").c_str()),
            0);
  Open();
  EXPECT_NE(identity_.replica, before.replica);
  EXPECT_THAT(identity_.new_epoch_reason, HasSubstr("checksum"));
}

TEST_F(RestartTest, ATypedCreateGetsASeqAndItsTokenCoversIt) {
  // Issue 13, bug 1: an empty create was not logged, so it never replicated.
  ObjectView v = MustApply("gc", {.kind = Kind::kCreate, .type = v1::G_COUNTER});
  EXPECT_TRUE(v.created);
  EXPECT_EQ(v.seq, 1u);
  auto log = store_->ReadLog(identity_.replica, 1, 1, 1 << 20);
  ASSERT_TRUE(log.ok());
  ASSERT_EQ(log->size(), 1u);
  EXPECT_EQ((*log)[0].type(), v1::G_COUNTER);
  auto token = ParseSessionToken(engine_->SessionTokenFor(v.seq));
  ASSERT_TRUE(token.ok());
  EXPECT_EQ(token->Get(identity_.replica), 1u);
  // Creating it again changes nothing and logs nothing.
  EXPECT_EQ(MustApply("gc", {.kind = Kind::kCreate, .type = v1::G_COUNTER}).seq, 0u);
}

TEST_F(RestartTest, ATokenCoversAWriteAboveAnUncommittedOne) {
  // Issue 13, bug 2: the own entry is raised to the write's seq, not capped by a lower
  // write still in flight.
  auto token = ParseSessionToken(engine_->SessionTokenFor(7));
  ASSERT_TRUE(token.ok());
  EXPECT_EQ(token->Get(identity_.replica), 7u);
  EXPECT_FALSE(engine_->HasApplied(*token));  // this node applies it once 1..7 committed
}

TEST_F(RestartTest, AGCounterMeetingAPNCounterKeepsBothSidesIncrements) {
  MustApply("t", {.kind = Kind::kIncrement, .amount = 5});  // a pn_counter here
  crdt::GCounter theirs;
  theirs = *theirs.Increment(42, 3);
  std::vector<Conflict> conflicts;
  ASSERT_TRUE(
      engine_->ApplyRemote(Batch(42, 1, v1::COUNTERS, "t", theirs), &conflicts).ok());
  auto read = engine_->Read(v1::COUNTERS, "t");
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(read->type, v1::PN_COUNTER);
  EXPECT_EQ(crdt::CounterValue(read->state), 8);
  ASSERT_EQ(conflicts.size(), 1u);
  EXPECT_EQ(conflicts[0].kind, "type_embedded");

  // The other way round: a g_counter here, a pn_counter delta arrives.
  MustApply("u", {.kind = Kind::kCreate, .type = v1::G_COUNTER, .initial_value = 2});
  crdt::PNCounter pn;
  pn = *pn.Increment(43, 4);
  ASSERT_TRUE(engine_->ApplyRemote(Batch(43, 1, v1::COUNTERS, "u", pn), nullptr).ok());
  read = engine_->Read(v1::COUNTERS, "u");
  EXPECT_EQ(read->type, v1::PN_COUNTER);
  EXPECT_EQ(crdt::CounterValue(read->state), 6);
  Open();  // and so it stays
  EXPECT_EQ(crdt::CounterValue(engine_->Read(v1::COUNTERS, "u")->state), 6);
}

TEST_F(RestartTest, ATypeConflictWithoutEmbeddingKeepsTheLoserApart) {
  MustApply("s", {.kind = Kind::kAdd, .elements = {"mine"}});  // an or_set here
  crdt::TwoPSet theirs;
  theirs = *theirs.Add("theirs");
  std::vector<Conflict> conflicts;
  ASSERT_TRUE(engine_->ApplyRemote(Batch(42, 1, v1::SETS, "s", theirs), &conflicts).ok());
  EXPECT_EQ(engine_->Read(v1::SETS, "s")->type, v1::TWO_P_SET);  // the lower tag wins
  auto lost = store_->ListLost(10);
  ASSERT_TRUE(lost.ok());
  ASSERT_EQ(lost->size(), 1u);
  EXPECT_EQ((*lost)[0].type, v1::OR_SET);
  EXPECT_EQ(crdt::SetMembers(*crdt::DecodeAnyAs(v1::OR_SET, (*lost)[0].state)),
            std::vector<std::string>{"mine"});
  // A later or_set delta from elsewhere joins what is kept.
  crdt::ORSet more;
  more = more.Add(43, "more");
  ASSERT_TRUE(engine_->ApplyRemote(Batch(43, 1, v1::SETS, "s", more), &conflicts).ok());
  lost = store_->ListLost(10);
  ASSERT_EQ(lost->size(), 1u);
  EXPECT_EQ(crdt::SetMembers(*crdt::DecodeAnyAs(v1::OR_SET, (*lost)[0].state)),
            (std::vector<std::string>{"mine", "more"}));
  EXPECT_EQ(crdt::SetMembers(engine_->Read(v1::SETS, "s")->state),
            std::vector<std::string>{"theirs"});
  ASSERT_EQ(conflicts.size(), 2u);
  EXPECT_EQ(conflicts[1].kind, "type");
}

}  // namespace
}  // namespace geodatastore::engine
