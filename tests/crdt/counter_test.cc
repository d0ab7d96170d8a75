#include <gtest/gtest.h>

#include <limits>

#include "crdt/g_counter.h"
#include "crdt/pn_counter.h"

namespace geodatastore::crdt {
namespace {

template <typename T, typename Mutator>
void ApplyAt(T& state, Mutator&& mutate) {
  auto delta = mutate(state);
  ASSERT_TRUE(delta.ok()) << delta.status().ToString();
  state.Join(*delta);
}

TEST(GCounter, ThreeReplicasIncrementing10_20_30ConvergeTo60) {
  GCounter r1, r2, r3;
  ApplyAt(r1, [](const GCounter& s) { return s.Increment(1, 10); });
  ApplyAt(r2, [](const GCounter& s) { return s.Increment(2, 20); });
  ApplyAt(r3, [](const GCounter& s) { return s.Increment(3, 30); });
  for (GCounter* r : {&r1, &r2, &r3}) {
    r->Join(r1);
    r->Join(r2);
    r->Join(r3);
    EXPECT_EQ(r->Value(), 60u);
  }
  EXPECT_EQ(r1, r3);
}

TEST(GCounter, RepeatedIncrementsOfOneReplicaAccumulate) {
  GCounter c;
  for (int i = 0; i < 5; ++i) ApplyAt(c, [](const GCounter& s) { return s.Increment(7, 3); });
  EXPECT_EQ(c.Value(), 15u);
  EXPECT_EQ(c.counts().Get(7), 15u);
}

TEST(GCounter, OverflowOfTheTotalIsAnErrorNotAWrap) {
  constexpr uint64_t kHalf = uint64_t{1} << 63;
  GCounter c;
  ApplyAt(c, [&](const GCounter& s) { return s.Increment(1, kHalf); });
  ApplyAt(c, [&](const GCounter& s) { return s.Increment(2, kHalf - 6); });
  auto over = c.Increment(3, 6);
  ASSERT_FALSE(over.ok());
  EXPECT_EQ(over.status().code(), StatusCode::kOutOfRange);
  EXPECT_TRUE(c.Increment(3, 5).ok());
}

TEST(GCounter, OneReplicasCountStopsAt2To63) {
  constexpr uint64_t kHalf = uint64_t{1} << 63;
  GCounter c;
  ApplyAt(c, [&](const GCounter& s) { return s.Increment(1, kHalf - 1); });
  EXPECT_EQ(c.Increment(1, 2).status().code(), StatusCode::kOutOfRange);
  ApplyAt(c, [&](const GCounter& s) { return s.Increment(1, 1); });
  EXPECT_EQ(c.counts().Get(1), kHalf);
  EXPECT_TRUE(c.Increment(2, 1).ok());  // other replicas have room
}

TEST(PNCounter, Plus100Minus30Plus50OnThreeReplicasConvergeTo120) {
  PNCounter r1, r2, r3;
  ApplyAt(r1, [](const PNCounter& s) { return s.Increment(1, 100); });
  ApplyAt(r2, [](const PNCounter& s) { return s.Decrement(2, 30); });
  ApplyAt(r3, [](const PNCounter& s) { return s.Increment(3, 50); });
  for (PNCounter* r : {&r3, &r2, &r1}) {
    r->Join(r1);
    r->Join(r2);
    r->Join(r3);
    EXPECT_EQ(r->Value(), 120);
  }
}

TEST(PNCounter, GoesNegative) {
  PNCounter c;
  ApplyAt(c, [](const PNCounter& s) { return s.Decrement(1, 7); });
  EXPECT_EQ(c.Value(), -7);
}

TEST(PNCounter, OverflowAndUnderflowOfTheValueAreErrors) {
  PNCounter c;
  ApplyAt(c,
          [](const PNCounter& s) { return s.Increment(1, std::numeric_limits<int64_t>::max()); });
  EXPECT_EQ(c.Increment(1, 1).status().code(), StatusCode::kOutOfRange);
  PNCounter d;
  ApplyAt(d,
          [](const PNCounter& s) { return s.Decrement(1, std::numeric_limits<int64_t>::max()); });
  ApplyAt(d, [](const PNCounter& s) { return s.Decrement(1, 1); });
  EXPECT_EQ(d.Value(), std::numeric_limits<int64_t>::min());
  EXPECT_EQ(d.Decrement(1, 1).status().code(), StatusCode::kOutOfRange);
}

}  // namespace
}  // namespace geodatastore::crdt
