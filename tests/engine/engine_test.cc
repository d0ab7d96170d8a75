#include "engine/engine.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <thread>

#include "support/temp_dir.h"

namespace geodatastore::engine {
namespace {

using geodatastore::testing::TempDir;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using Kind = Op::Kind;

class EngineTest : public ::testing::Test {
 protected:
  EngineTest() {
    options_.limits.max_key_bytes = 32;
    options_.limits.max_element_bytes = 16;
    Open();
  }

  // Opens the engine (again) on the same store with options_.
  void Open() {
    engine_.reset();
    store_.reset();
    store_ = std::move(storage::Store::Open({dir_.path(), false})).value();
    auto id = storage::LoadIdentity(*store_, "us-east-1");
    ASSERT_TRUE(id.ok());
    engine_ = std::make_unique<Engine>(store_.get(), *id, &clock_, options_);
    ASSERT_TRUE(engine_->Start().ok());
  }

  ObjectView MustApply(const std::string& name, const Op& op) {
    auto view = engine_->Apply(name, op);
    EXPECT_TRUE(view.ok()) << view.status().ToString();
    return view.ok() ? *view : ObjectView{};
  }

  static Op Inc(uint64_t n) { return {.kind = Kind::kIncrement, .amount = n}; }
  static Op Create(v1::CrdtType t) { return {.kind = Kind::kCreate, .type = t}; }
  static Op Add(std::string e) { return {.kind = Kind::kAdd, .elements = {std::move(e)}}; }

  TempDir dir_;
  EngineOptions options_;
  crdt::SystemClock clock_;
  std::unique_ptr<storage::Store> store_;
  std::unique_ptr<Engine> engine_;
};

// A batch from replica 42: its writes from..to, one delta to the set `name`.
v1::DeltaBatch SetBatch(uint64_t from, uint64_t to, const crdt::AnyCrdt& delta,
                        const std::string& name = "p") {
  v1::DeltaBatch batch;
  batch.set_origin(42);
  batch.set_from_seq(from);
  batch.set_to_seq(to);
  v1::KeyDelta* kd = batch.add_deltas();
  kd->set_family(v1::SETS);
  kd->set_name(name);
  kd->set_type(crdt::TypeOf(delta));
  kd->set_delta(crdt::EncodeAny(delta));
  return batch;
}

TEST_F(EngineTest, IncrementCreatesAPNCounter) {
  ObjectView v = MustApply("hits", Inc(5));
  EXPECT_TRUE(v.created);
  EXPECT_EQ(v.type, v1::PN_COUNTER);
  v = MustApply("hits", {.kind = Kind::kDecrement, .amount = 2});
  EXPECT_FALSE(v.created);
  EXPECT_EQ(std::get<crdt::PNCounter>(v.state).Value(), 3);
}

TEST_F(EngineTest, CreateIsIdempotentForTheSameTypeAndRefusedForAnother) {
  Op create = Create(v1::G_COUNTER);
  create.initial_value = 4;
  EXPECT_TRUE(MustApply("c", create).created);
  EXPECT_FALSE(MustApply("c", create).created);
  EXPECT_EQ(std::get<crdt::GCounter>(engine_->Read(v1::COUNTERS, "c")->state).Value(), 4u);
  EXPECT_EQ(engine_->Apply("c", Create(v1::PN_COUNTER)).status().code(), StatusCode::kWrongType);
  EXPECT_EQ(engine_->Apply("c", {.kind = Kind::kDecrement, .amount = 1}).status().code(),
            StatusCode::kFailedPrecondition);
}

TEST_F(EngineTest, SetsRegistersAndGraphs) {
  MustApply("s", Add("x"));
  MustApply("s", {.kind = Kind::kAdd, .elements = {"y", "z"}});
  MustApply("s", {.kind = Kind::kRemove, .elements = {"y"}});
  EXPECT_THAT(std::get<crdt::ORSet>(engine_->Read(v1::SETS, "s")->state).Value(),
              ElementsAre("x", "z"));

  MustApply("r", {.kind = Kind::kSet, .value = "old", .timestamp = 2000});
  MustApply("r", {.kind = Kind::kSet, .value = "older", .timestamp = 1000});
  EXPECT_THAT(std::get<crdt::LWWRegister>(engine_->Read(v1::REGISTERS, "r")->state).Value(),
              ElementsAre("old"));

  MustApply("g", {.kind = Kind::kAddVertex, .vertex = "a"});
  MustApply("g", {.kind = Kind::kAddVertex, .vertex = "b"});
  MustApply("g", {.kind = Kind::kAddEdge, .from = "a", .to = "b"});
  EXPECT_EQ(engine_->Apply("g", {.kind = Kind::kAddEdge, .from = "a", .to = "a"}).status().code(),
            StatusCode::kFailedPrecondition);
  EXPECT_EQ(std::get<crdt::LWWGraph>(engine_->Read(v1::GRAPHS, "g")->state).edge_count(), 1u);
}

TEST_F(EngineTest, RefusalsChangeNothing) {
  MustApply("g", Create(v1::G_SET));
  MustApply("g", Add("x"));
  const uint64_t seq = engine_->last_seq();
  EXPECT_EQ(engine_->Apply("g", {.kind = Kind::kRemove, .elements = {"x"}}).status().code(),
            StatusCode::kFailedPrecondition);
  EXPECT_EQ(engine_->Apply("g", Add("this element is too long")).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(engine_->Apply(std::string(33, 'k'), Inc(1)).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(engine_->Apply("missing", {.kind = Kind::kRemove, .elements = {"x"}}).status().code(),
            StatusCode::kNotFound);
  EXPECT_EQ(engine_->last_seq(), seq);
  EXPECT_THAT(std::get<crdt::GSet>(engine_->Read(v1::SETS, "g")->state).Value(), ElementsAre("x"));
  EXPECT_EQ(engine_->Read(v1::SETS, "missing").status().code(), StatusCode::kNotFound);
}

TEST_F(EngineTest, OpsPastTheCollectionCapAreRefusedAndChangeNothing) {
  options_.limits.max_collection_elements = 3;
  Open();
  MustApply("s", {.kind = Kind::kAdd, .elements = {"a", "b"}});
  const uint64_t seq = engine_->last_seq();
  auto over = engine_->Apply("s", {.kind = Kind::kAdd, .elements = {"b", "c", "d", "c"}});
  EXPECT_EQ(over.status().code(), StatusCode::kResourceExhausted);
  EXPECT_THAT(over.status().message(), HasSubstr("limits.max_collection_elements (3)"));
  EXPECT_EQ(
      engine_->Apply("new", {.kind = Kind::kAdd, .elements = {"a", "b", "c", "d"}}).status().code(),
      StatusCode::kResourceExhausted);
  EXPECT_EQ(engine_->last_seq(), seq);
  EXPECT_EQ(engine_->Read(v1::SETS, "new").status().code(), StatusCode::kNotFound);
  EXPECT_THAT(std::get<crdt::ORSet>(engine_->Read(v1::SETS, "s")->state).Value(),
              ElementsAre("a", "b"));
  MustApply("s", {.kind = Kind::kAdd, .elements = {"b", "c", "c"}});  // up to the cap
  MustApply("s", {.kind = Kind::kRemove, .elements = {"a"}});         // adds nothing

  // A graph's vertices and edges count together.
  MustApply("g", {.kind = Kind::kAddVertex, .vertex = "x"});
  MustApply("g", {.kind = Kind::kAddVertex, .vertex = "y"});
  MustApply("g", {.kind = Kind::kAddEdge, .from = "x", .to = "y"});
  EXPECT_EQ(engine_->Apply("g", {.kind = Kind::kAddEdge, .from = "y", .to = "x"}).status().code(),
            StatusCode::kResourceExhausted);
  EXPECT_EQ(engine_->Apply("g", {.kind = Kind::kAddVertex, .vertex = "z"}).status().code(),
            StatusCode::kResourceExhausted);
  EXPECT_EQ(std::get<crdt::LWWGraph>(engine_->Read(v1::GRAPHS, "g")->state).held_elements(), 3u);
}

TEST_F(EngineTest, ReplicatedDeltasMergePastTheCollectionCap) {
  options_.limits.max_collection_elements = 2;
  Open();
  crdt::ORSet theirs;
  const std::vector<std::string> three = {"a", "b", "c"};
  ASSERT_TRUE(engine_->ApplyRemote(SetBatch(1, 1, theirs.AddAll(42, three), "s"), nullptr).ok());
  EXPECT_EQ(std::get<crdt::ORSet>(engine_->Read(v1::SETS, "s")->state).size(), 3u);
  EXPECT_EQ(engine_->Apply("s", Add("d")).status().code(), StatusCode::kResourceExhausted);
}

TEST_F(EngineTest, AnAddOfAHundredThousandElementsAddsEachOnce) {
  Op add{.kind = Kind::kAdd};
  for (int i = 0; i < 100000; ++i) add.elements.push_back("e" + std::to_string(i * 7919 % 100000));
  add.elements.push_back("e0");  // named twice: added once
  for (v1::CrdtType type : {v1::OR_SET, v1::G_SET, v1::TWO_P_SET, v1::LWW_SET}) {
    const std::string name = "big" + std::string(crdt::TypeName(type));
    MustApply(name, Create(type));
    ObjectView v = MustApply(name, add);
    EXPECT_EQ(v.members_changed, 100000) << crdt::TypeName(type);
    const std::vector<std::string> members = crdt::SetMembers(engine_->Read(v1::SETS, name)->state);
    ASSERT_EQ(members.size(), 100000u) << crdt::TypeName(type);
    EXPECT_EQ(members.front(), "e0");
    EXPECT_EQ(MustApply(name, {.kind = Kind::kAdd, .elements = {"e1", "new"}}).members_changed, 1);
  }
}

TEST_F(EngineTest, ConcurrentIncrementsOfOneCounterAreNeverLost) {
  std::vector<std::thread> threads;
  for (int t = 0; t < 16; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 200; ++i) ASSERT_TRUE(engine_->Apply("hot", Inc(1)).ok());
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(std::get<crdt::PNCounter>(engine_->Read(v1::COUNTERS, "hot")->state).Value(), 3200);
}

TEST_F(EngineTest, StateAndSequenceSurviveARestart) {
  MustApply("n", Inc(7));
  MustApply("n", Inc(8));
  const uint64_t seq = engine_->last_seq();
  Open();
  EXPECT_EQ(engine_->last_seq(), seq);
  EXPECT_EQ(std::get<crdt::PNCounter>(engine_->Read(v1::COUNTERS, "n")->state).Value(), 15);
  MustApply("n", Inc(1));
  EXPECT_EQ(engine_->last_seq(), seq + 1);
}

TEST_F(EngineTest, ABatchAppliesEveryOpWithItsOwnAnswer) {
  std::vector<std::pair<std::string, Op>> ops = {{"a", Inc(1)},
                                                 {"a", Inc(2)},
                                                 {"b", Add("x")},
                                                 {"b", {.kind = Kind::kDecrement, .amount = 1}}};
  auto results = engine_->ApplyBatch(ops);
  ASSERT_EQ(results.size(), 4u);
  EXPECT_TRUE(results[0].ok() && results[0]->created);
  EXPECT_EQ(std::get<crdt::PNCounter>(results[1]->state).Value(), 3);
  EXPECT_TRUE(results[2].ok());
  // "b" the counter does not exist: decrement creates it (counters and sets are separate).
  EXPECT_TRUE(results[3].ok());
  EXPECT_EQ(store_->KeyCount(v1::PN_COUNTER), 2u);
  EXPECT_EQ(store_->KeyCount(v1::OR_SET), 1u);
}

TEST_F(EngineTest, CollectedTombstonesStayCollectedWhenOldDeltasArriveAgain) {
  crdt::TwoPSet empty;
  const crdt::TwoPSet add_x = *empty.Add("x");
  crdt::TwoPSet with_x = add_x;
  const crdt::TwoPSet remove_x = with_x.Remove("x");
  ASSERT_TRUE(engine_->ApplyRemote(SetBatch(1, 1, add_x), nullptr).ok());
  ASSERT_TRUE(engine_->ApplyRemote(SetBatch(2, 2, remove_x), nullptr).ok());
  auto snapshot = engine_->ScanTombstones(v1::TWO_P_SET, 10);
  ASSERT_TRUE(snapshot.ok());
  ASSERT_EQ(snapshot->size(), 1u);
  EXPECT_EQ(engine_->CollectTombstones(*snapshot).value(), 1u);
  EXPECT_EQ(engine_->ScanTombstones(v1::TWO_P_SET, 10)->size(), 0u);

  // The add again, as a duplicate and grouped with a later write: a duplicate is a no-op,
  // an overlapping group is refused; x stays gone either way.
  EXPECT_TRUE(engine_->ApplyRemote(SetBatch(1, 1, add_x), nullptr).ok());
  crdt::TwoPSet add_x_and_y = add_x;
  add_x_and_y.Join(*empty.Add("y"));
  const Status overlap = engine_->ApplyRemote(SetBatch(1, 3, add_x_and_y), nullptr);
  EXPECT_EQ(overlap.code(), StatusCode::kFailedPrecondition) << overlap.ToString();
  EXPECT_EQ(engine_->Applied(42), 2u);
  ASSERT_TRUE(engine_->ApplyRemote(SetBatch(3, 3, *empty.Add("y")), nullptr).ok());
  EXPECT_THAT(std::get<crdt::TwoPSet>(engine_->Read(v1::SETS, "p")->state).Value(),
              ElementsAre("y"));
}

TEST_F(EngineTest, KnowledgeCoversJoinedStatesAndSurvivesARestart) {
  MustApply("n", Inc(1));
  crdt::VersionVector theirs;
  theirs.Raise(77, 9);
  crdt::PNCounter c;
  c.Join(*c.Increment(77, 5));
  v1::ObjectState state;
  state.set_type(v1::PN_COUNTER);
  state.set_key(storage::ObjectKey{v1::COUNTERS, "m"}.Encode());
  state.set_state(crdt::EncodeAny(c));
  ASSERT_TRUE(engine_->JoinStates({state}, nullptr, theirs).ok());
  const crdt::ReplicaId self = engine_->identity().replica;
  EXPECT_EQ(engine_->Knowledge().Get(77), 9u);
  EXPECT_EQ(engine_->Knowledge().Get(self), 1u);
  EXPECT_EQ(engine_->AppliedVector().Get(77), 0u);  // not applied: only known
  Open();
  EXPECT_EQ(engine_->Knowledge().Get(77), 9u);
}

}  // namespace
}  // namespace geodatastore::engine
