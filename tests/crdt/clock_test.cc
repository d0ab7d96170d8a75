#include "crdt/clock.h"

#include <gtest/gtest.h>

namespace geodatastore::crdt {
namespace {

TEST(HybridLogicalClock, FollowsPhysicalTimeWhenItAdvances) {
  ManualClock physical(1000);
  HybridLogicalClock hlc(&physical, 500);
  EXPECT_EQ(hlc.Now(), (Timestamp{1000, 0}));
  physical.Set(1005);
  EXPECT_EQ(hlc.Now(), (Timestamp{1005, 0}));
}

TEST(HybridLogicalClock, CountsLogicallyWhenPhysicalTimeStallsOrGoesBack) {
  ManualClock physical(1000);
  HybridLogicalClock hlc(&physical, 500);
  const Timestamp a = hlc.Now();
  const Timestamp b = hlc.Now();
  physical.Set(900);
  const Timestamp c = hlc.Now();
  EXPECT_LT(a, b);
  EXPECT_LT(b, c);
  EXPECT_EQ(c, (Timestamp{1000, 2}));
}

TEST(HybridLogicalClock, UpdateMovesPastARemoteTimestampWithinTheOffset) {
  ManualClock physical(1000);
  HybridLogicalClock hlc(&physical, 500);
  auto t = hlc.Update({1400, 7});
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(*t, (Timestamp{1400, 8}));
  EXPECT_GT(hlc.Now(), (Timestamp{1400, 8}));
}

TEST(HybridLogicalClock, UpdateRejectsARemoteTimestampBeyondTheMaximumOffset) {
  ManualClock physical(1000);
  HybridLogicalClock hlc(&physical, 500);
  const Timestamp before = hlc.Now();
  auto t = hlc.Update({1501, 0});
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().code(), StatusCode::kOutOfRange);
  EXPECT_EQ(hlc.Current(), before);
  EXPECT_TRUE(hlc.Update({1500, 0}).ok());
}

TEST(HybridLogicalClock, UpdateWithAnOlderRemoteStillAdvances) {
  ManualClock physical(1000);
  HybridLogicalClock hlc(&physical, 500);
  const Timestamp now = hlc.Now();
  auto t = hlc.Update({10, 3});
  ASSERT_TRUE(t.ok());
  EXPECT_GT(*t, now);
}

TEST(SystemClock, ReadsMillisecondsSinceTheEpoch) {
  SystemClock clock;
  EXPECT_GT(clock.NowMillis(), 1'600'000'000'000u);  // after September 2020
}

}  // namespace
}  // namespace geodatastore::crdt
