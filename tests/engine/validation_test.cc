// The engine validates everything from outside the process before it merges it
// (engine/validation.cc): replicated deltas, anti-entropy and read-repair states, client
// timestamps. A bad entry refuses its whole batch, changes nothing and is counted.
#include <gtest/gtest.h>

#include <limits>

#include "engine/engine.h"
#include "engine_fixture.h"

namespace geodatastore::engine {
namespace {

using Kind = Op::Kind;

constexpr crdt::ReplicaId kOrigin = 0xabcdef;
constexpr uint64_t kMax64 = std::numeric_limits<uint64_t>::max();

EngineOptions SmallElements() {
  EngineOptions options;
  options.limits.max_element_bytes = 16;
  return options;
}

class ValidationTest : public EngineFixture {
 protected:
  ValidationTest() : EngineFixture("us-east-1", SmallElements()) {}

  static crdt::Stamp At(uint64_t ms) { return {{ms, 0}, kOrigin}; }

  // A batch of kOrigin's seq 1 with one delta per (name, delta).
  static v1::DeltaBatch Batch(const std::vector<std::pair<std::string, crdt::AnyCrdt>>& deltas) {
    v1::DeltaBatch batch;
    batch.set_origin(kOrigin);
    batch.set_from_seq(1);
    batch.set_to_seq(1);
    batch.set_hlc_physical(kNow);
    for (const auto& [name, delta] : deltas) {
      v1::KeyDelta* kd = batch.add_deltas();
      kd->set_type(crdt::TypeOf(delta));
      kd->set_family(storage::FamilyOf(kd->type()));
      kd->set_name(name);
      kd->set_delta(crdt::EncodeAny(delta));
    }
    return batch;
  }
  // A counter of type holding count for kOrigin alone, as a peer could encode it.
  static crdt::AnyCrdt LoneCount(v1::CrdtType type, uint64_t count) {
    v1::CrdtValue value =
        type == v1::G_COUNTER ? crdt::Encode(crdt::GCounter()) : crdt::Encode(crdt::PNCounter());
    crdt::EncodeDot({kOrigin, count},
                    type == v1::G_COUNTER
                        ? value.mutable_g_counter()->add_entries()
                        : value.mutable_pn_counter()->mutable_increments()->add_entries());
    auto decoded = crdt::DecodeAnyAs(type, value.SerializeAsString());
    EXPECT_TRUE(decoded.ok()) << decoded.status().ToString();
    return decoded.ok() ? *decoded : crdt::NewCrdt(type);
  }
  static v1::ObjectState State(const std::string& name, const crdt::AnyCrdt& state) {
    v1::ObjectState s;
    s.set_type(crdt::TypeOf(state));
    s.set_key(storage::ObjectKey{storage::FamilyOf(s.type()), name}.Encode());
    s.set_state(crdt::EncodeAny(state));
    return s;
  }

  // Everything the store holds: (key, type) pairs.
  std::vector<std::pair<storage::ObjectKey, v1::CrdtType>> Keys() {
    auto keys = engine_->ListKeys(std::nullopt, "", 1000);
    EXPECT_TRUE(keys.ok());
    return keys.ok() ? *keys : decltype(Keys()){};
  }
  std::string Encoded(v1::Family family, const std::string& name) {
    auto view = engine_->Read(family, name);
    return view.ok() ? crdt::EncodeAny(view->state) : view.status().ToString();
  }

  // Applies batch, expecting a rejection for reason that leaves the store as it was.
  void ExpectRejected(const v1::DeltaBatch& batch, std::string_view reason) {
    const auto before = Keys();
    const Status s = engine_->ApplyRemote(batch, nullptr);
    EXPECT_FALSE(s.ok());
    EXPECT_EQ(crdt::RejectionReason(s), reason) << s.ToString();
    EXPECT_EQ(Keys(), before);
    EXPECT_EQ(engine_->Applied(kOrigin), 0u);
    ASSERT_FALSE(rejections_.reasons.empty());
    EXPECT_EQ(rejections_.reasons.back(), reason);
  }
};

TEST_F(ValidationTest, AClientTimestampBeyondNowPlusTheOffsetIsRefused) {
  for (uint64_t ts : {kNow + 501, uint64_t{std::numeric_limits<int64_t>::max()}}) {
    auto r = engine_->Apply("r", {.kind = Kind::kSet, .value = "late", .timestamp = ts});
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(crdt::RejectionReason(r.status()), crdt::kClockOffset);
  }
  EXPECT_TRUE(Keys().empty());
  ASSERT_TRUE(
      engine_->Apply("r", {.kind = Kind::kSet, .value = "ok", .timestamp = kNow + 500}).ok());
  // A later write without a timestamp still wins once the clock passes it.
  clock_.Advance(1000);
  ASSERT_TRUE(engine_->Apply("r", {.kind = Kind::kSet, .value = "new"}).ok());
  EXPECT_EQ(std::get<crdt::LWWRegister>(engine_->Read(v1::REGISTERS, "r")->state).Value(),
            std::vector<std::string>{"new"});
}

TEST_F(ValidationTest, AReplicatedBatchWithOneFarFutureStampIsRejectedWhole) {
  crdt::LWWRegister reg;
  ExpectRejected(Batch({{"fine", reg.Set(At(kNow), "v")}, {"future", reg.Set(At(kMax64), "x")}}),
                 crdt::kClockOffset);
  crdt::LWWElementSet set;
  ExpectRejected(Batch({{"s", set.Remove(At(kNow + 10'000), "e")}}), crdt::kClockOffset);
  crdt::LWWGraph graph;
  ExpectRejected(Batch({{"g", graph.AddVertex(At(kNow + 10'000), "v")}}), crdt::kClockOffset);
  // Within the offset: applied.
  ASSERT_TRUE(engine_->ApplyRemote(Batch({{"r", reg.Set(At(kNow + 500), "v")}}), nullptr).ok());
  EXPECT_EQ(engine_->Applied(kOrigin), 1u);
}

TEST_F(ValidationTest, ACounterEntryOf2To64Minus1IsRejected) {
  ASSERT_TRUE(engine_->Apply("g", {.kind = Kind::kCreate, .type = v1::G_COUNTER}).ok());
  ASSERT_TRUE(engine_->Apply("g", {.kind = Kind::kIncrement, .amount = 3}).ok());
  ASSERT_TRUE(engine_->Apply("p", {.kind = Kind::kIncrement, .amount = 3}).ok());
  const std::string g = Encoded(v1::COUNTERS, "g"), p = Encoded(v1::COUNTERS, "p");
  ExpectRejected(Batch({{"g", LoneCount(v1::G_COUNTER, kMax64)}}), crdt::kCounterOverflow);
  ExpectRejected(Batch({{"p", LoneCount(v1::PN_COUNTER, kMax64)}}), crdt::kCounterOverflow);
  EXPECT_EQ(Encoded(v1::COUNTERS, "g"), g);
  EXPECT_EQ(Encoded(v1::COUNTERS, "p"), p);
  ASSERT_TRUE(engine_->Apply("g", {.kind = Kind::kIncrement, .amount = 1}).ok());
}

TEST_F(ValidationTest, ALoneCountOf2To64Minus1OnANewCounterIsRejectedOnEveryPath) {
  // Alone it is a total that fits, but it leaves no room for any increment: frozen.
  for (v1::CrdtType type : {v1::G_COUNTER, v1::PN_COUNTER}) {
    const crdt::AnyCrdt lone = LoneCount(type, kMax64);
    ExpectRejected(Batch({{"fresh", lone}}), crdt::kCounterOverflow);
    auto joined = engine_->JoinStates({State("fresh", lone)});
    EXPECT_EQ(crdt::RejectionReason(joined.status()), crdt::kCounterOverflow);
    auto read = engine_->DecodeRemote(type, crdt::EncodeAny(lone));
    EXPECT_EQ(crdt::RejectionReason(read.status()), crdt::kCounterOverflow);
  }
  EXPECT_TRUE(Keys().empty());
  EXPECT_EQ(rejections_.reasons, std::vector<std::string>(6, "counter_overflow"));
  // 2^63 is as far as one replica's own increments go: accepted.
  EXPECT_TRUE(
      engine_->ApplyRemote(Batch({{"g", LoneCount(v1::G_COUNTER, uint64_t{1} << 63)}}), nullptr)
          .ok());
}

TEST_F(ValidationTest, AReplicatedCounterDeltaMayRaiseOnlyItsOriginsCount) {
  constexpr crdt::ReplicaId kOther = 0x1234;
  ExpectRejected(Batch({{"g", *crdt::GCounter().Increment(kOther, 5)}}), crdt::kReplicaId);
  ExpectRejected(Batch({{"p", *crdt::PNCounter().Decrement(kOther, 5)}}), crdt::kReplicaId);
  ASSERT_TRUE(
      engine_->ApplyRemote(Batch({{"p", *crdt::PNCounter().Decrement(kOrigin, 5)}}), nullptr).ok());
  EXPECT_EQ(crdt::CounterValue(engine_->Read(v1::COUNTERS, "p")->state), -5);
}

TEST_F(ValidationTest, OversizeElementsAndNamesAreRejected) {
  ExpectRejected(Batch({{"s", crdt::ORSet().Add(kOrigin, std::string(17, 'e'))}}),
                 crdt::kElementSize);
  ExpectRejected(Batch({{std::string(2000, 'k'), crdt::ORSet().Add(kOrigin, "e")}}),
                 crdt::kKeySize);
  ExpectRejected(Batch({{"s", crdt::ORSet().Add(0, "e")}}), crdt::kReplicaId);
}

TEST_F(ValidationTest, AntiEntropyStatesWithAFarFutureStampChangeNothing) {
  ASSERT_TRUE(engine_->Apply("r", {.kind = Kind::kSet, .value = "mine"}).ok());
  const std::string before = Encoded(v1::REGISTERS, "r");
  const auto future = crdt::LWWRegister().Set(At(kNow + 3'600'000), "forever");
  const auto fine = crdt::LWWRegister().Set(At(kNow - 1), "older");
  auto joined = engine_->JoinStates({State("other", fine), State("r", future)});
  EXPECT_EQ(crdt::RejectionReason(joined.status()), crdt::kClockOffset);
  EXPECT_EQ(Encoded(v1::REGISTERS, "r"), before);
  EXPECT_EQ(engine_->Read(v1::REGISTERS, "other").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(rejections_.reasons, std::vector<std::string>{"clock_offset"});
}

TEST_F(ValidationTest, ReadRepairAnswersAreDecodedAndValidatedThroughDecodeRemote) {
  const auto future = crdt::LWWRegister().Set(At(kNow + 3'600'000), "forever");
  auto state = engine_->DecodeRemote(v1::LWW_REGISTER, crdt::EncodeAny(future));
  EXPECT_EQ(crdt::RejectionReason(state.status()), crdt::kClockOffset);
  EXPECT_EQ(rejections_.reasons, std::vector<std::string>{"clock_offset"});
  const auto fine = crdt::LWWRegister().Set(At(kNow), "v");
  EXPECT_TRUE(engine_->DecodeRemote(v1::LWW_REGISTER, crdt::EncodeAny(fine)).ok());
}

}  // namespace
}  // namespace geodatastore::engine
