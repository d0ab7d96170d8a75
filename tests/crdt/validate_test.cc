// Validation of states and deltas from outside the process (crdt/validate.h): every type
// refuses far-future stamps, oversize elements, replica id 0, unreachable dots and
// overflowing counters, with the reason a metric counts; valid states pass.
#include "crdt/validate.h"

#include <gtest/gtest.h>

#include <limits>
#include <type_traits>
#include <vector>

#include "crdt/any_crdt.h"
#include "test_stamps.h"

namespace geodatastore::crdt {
namespace {

constexpr uint64_t kNow = 1'000'000;
constexpr StateLimits kLimits{kNow + 500, 8};
constexpr uint64_t kMax64 = std::numeric_limits<uint64_t>::max();

std::string ReasonOf(const AnyCrdt& value, const StateLimits& limits = kLimits) {
  const Status s = ValidateAny(value, limits);
  EXPECT_FALSE(s.ok()) << "accepted a " << TypeName(TypeOf(value));
  return std::string(RejectionReason(s));
}

void ExpectValid(const AnyCrdt& value) {
  const Status s = ValidateAny(value, kLimits);
  EXPECT_TRUE(s.ok()) << s.ToString();
}

TEST(Validate, RejectionsCarryTheirReasonAndOtherStatusesNone) {
  EXPECT_EQ(RejectionReason(Rejected(kClockOffset, "x")), "clock_offset");
  EXPECT_EQ(RejectionReason(InvalidArgument("rejected")), "");
  EXPECT_EQ(RejectionReason(Corruption("rejected clock_offset: x")), "");
  EXPECT_EQ(RejectionReason(Status::Ok()), "");
}

TEST(Validate, StampsUpToNowPlusTheOffsetPassAndLaterOnesAreRejected) {
  LWWRegister reg;
  ExpectValid(reg.Set(At(kNow + 500), "v"));
  EXPECT_EQ(ReasonOf(reg.Set(At(kNow + 501), "v")), kClockOffset);
  EXPECT_EQ(ReasonOf(reg.Set(At(std::numeric_limits<int64_t>::max()), "v")), kClockOffset);
  EXPECT_EQ(ReasonOf(reg.Set(At(kNow, 0), "v")), kReplicaId);

  LWWElementSet set;
  ExpectValid(set.Add(At(kNow), "e"));
  EXPECT_EQ(ReasonOf(set.Add(At(kMax64), "e")), kClockOffset);
  EXPECT_EQ(ReasonOf(set.Remove(At(kMax64), "e")), kClockOffset);

  LWWGraph g;
  ExpectValid(g.AddVertex(At(kNow), "a"));
  EXPECT_EQ(ReasonOf(g.AddVertex(At(kMax64), "a")), kClockOffset);
  LWWGraph ab = g.AddVertex(At(1), "a");
  ab.Join(ab.AddVertex(At(1), "b"));
  auto edge = ab.AddEdge(At(kMax64), "a", "b");
  ASSERT_TRUE(edge.ok());
  EXPECT_EQ(ReasonOf(*edge), kClockOffset);
}

TEST(Validate, ElementsOverTheLimitAreRejectedInEveryType) {
  const std::string big(9, 'x');
  ExpectValid(GSet().Add(std::string(8, 'x')));
  EXPECT_EQ(ReasonOf(GSet().Add(big)), kElementSize);
  EXPECT_EQ(ReasonOf(*TwoPSet().Add(big)), kElementSize);
  EXPECT_EQ(ReasonOf(ORSet().Add(1, big)), kElementSize);
  EXPECT_EQ(ReasonOf(MVRegister().Write(1, big)), kElementSize);
  EXPECT_EQ(ReasonOf(LWWRegister().Set(At(1), big)), kElementSize);
  EXPECT_EQ(ReasonOf(LWWElementSet().Add(At(1), big)), kElementSize);
  EXPECT_EQ(ReasonOf(LWWGraph().AddVertex(At(1), big)), kElementSize);
}

// A G-Counter (or, with decrements, a PN-Counter) holding the given counts, as a peer could
// encode it.
template <typename T>
T WithCounts(const std::vector<Dot>& increments, const std::vector<Dot>& decrements = {}) {
  v1::CrdtValue value = Encode(T());
  for (const Dot& d : increments) {
    EncodeDot(d, std::is_same_v<T, GCounter>
                     ? value.mutable_g_counter()->add_entries()
                     : value.mutable_pn_counter()->mutable_increments()->add_entries());
  }
  for (const Dot& d : decrements)
    EncodeDot(d, value.mutable_pn_counter()->mutable_decrements()->add_entries());
  auto decoded = Decode<T>(value);
  EXPECT_TRUE(decoded.ok()) << decoded.status().ToString();
  return decoded.ok() ? *decoded : T();
}

TEST(Validate, CounterEntriesWhoseTotalOverflowsAreRejected) {
  constexpr uint64_t kHalf = uint64_t{1} << 63;
  GCounter c = WithCounts<GCounter>({{1, kHalf}, {3, kHalf - 1}});
  ExpectValid(c);  // 2^64 - 1 is a total
  GCounter other = *GCounter().Increment(2, 1);
  other.Join(c);  // 2^64 - 1 + 1
  EXPECT_EQ(ReasonOf(other), kCounterOverflow);
  EXPECT_EQ(RejectionReason(ValidateJoined(other)), kCounterOverflow);
  EXPECT_EQ(ReasonOf(*GCounter().Increment(0, 1)), kReplicaId);

  // A PN-Counter delta of 2^63 increments (no replica could make it: its own check
  // refuses) is a valid delta alone, but the state it joins leaves the int64 range: frozen
  // for every later op.
  PNCounter pn = *PNCounter().Increment(1, 5);
  pn.Join(*PNCounter().Increment(2, std::numeric_limits<int64_t>::max() - 5));
  ExpectValid(pn);
  EXPECT_TRUE(ValidateJoined(pn).ok());
  const auto forged = WithCounts<PNCounter>({{3, kHalf}});
  ExpectValid(forged);
  pn.Join(forged);
  EXPECT_EQ(RejectionReason(ValidateJoined(pn)), kCounterOverflow);
}

TEST(Validate, ALoneCountNear2To64IsRejectedThoughItsTotalFits) {
  // No replica's own increments take its count past 2^63; such a count alone, on an empty
  // counter, would leave no room for any later increment.
  constexpr uint64_t kHalf = uint64_t{1} << 63;
  ExpectValid(WithCounts<GCounter>({{3, kHalf}}));
  EXPECT_EQ(ReasonOf(WithCounts<GCounter>({{3, kMax64}})), kCounterOverflow);
  EXPECT_EQ(ReasonOf(WithCounts<GCounter>({{3, kHalf + 1}})), kCounterOverflow);
  // Increments and decrements of 2^64 - 1 each: a value of 0, within the int64 range.
  const auto pn = WithCounts<PNCounter>({{3, kMax64}}, {{4, kMax64}});
  EXPECT_EQ(pn.Value(), 0);
  EXPECT_EQ(ReasonOf(pn), kCounterOverflow);
  EXPECT_EQ(RejectionReason(ValidateJoined(pn)), kCounterOverflow);
}

TEST(Validate, ACounterDeltaRaisesOnlyItsOriginsCount) {
  EXPECT_TRUE(ValidateDeltaOf(*GCounter().Increment(7, 5), 7).ok());
  EXPECT_TRUE(ValidateDeltaOf(*PNCounter().Decrement(7, 5), 7).ok());
  EXPECT_EQ(RejectionReason(ValidateDeltaOf(*GCounter().Increment(8, 5), 7)), kReplicaId);
  EXPECT_EQ(RejectionReason(ValidateDeltaOf(*PNCounter().Decrement(8, 5), 7)), kReplicaId);
  EXPECT_TRUE(ValidateDeltaOf(ORSet().Add(8, "e"), 7).ok());  // other types: not counted here
}

TEST(Validate, DotsOfReplicaZeroOrBeyondAnyReplicasReachAreRejected) {
  ExpectValid(ORSet().Add(1, "e"));
  EXPECT_EQ(ReasonOf(ORSet().Add(0, "e")), kReplicaId);
  EXPECT_EQ(ReasonOf(MVRegister().Write(0, "v")), kReplicaId);
  v1::CrdtValue value = Encode(ORSet().Add(1, "e"));
  v1::Dot* dot = value.mutable_or_set()
                     ->mutable_kernel()
                     ->mutable_context()
                     ->mutable_compact()
                     ->mutable_entries(0);
  dot->set_counter(kMax64);
  value.mutable_or_set()->mutable_kernel()->mutable_entries(0)->mutable_dots(0)->set_counter(
      kMax64);
  auto decoded = Decode<ORSet>(value);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(ReasonOf(*decoded), kBadDot);
}

}  // namespace
}  // namespace geodatastore::crdt
