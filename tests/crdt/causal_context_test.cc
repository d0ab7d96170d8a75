#include "crdt/causal_context.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace geodatastore::crdt {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using Entry = VersionVector::Entry;

TEST(VersionVector, JoinTakesTheEntryWiseMaximum) {
  VersionVector a, b;
  a.Raise(1, 5);
  a.Raise(3, 1);
  b.Raise(1, 2);
  b.Raise(2, 4);
  a.Join(b);
  EXPECT_THAT(a.entries(), ElementsAre(Entry{1, 5}, Entry{2, 4}, Entry{3, 1}));
  EXPECT_TRUE(b.LessOrEqual(a));
  EXPECT_FALSE(a.LessOrEqual(b));
  EXPECT_EQ(a.DotCount(), 10u);
}

TEST(CausalContext, ContiguousDotsFoldIntoTheCompactVector) {
  CausalContext ctx;
  ctx.Add({1, 2});
  ctx.Add({1, 4});
  EXPECT_THAT(ctx.compact().entries(), IsEmpty());
  ctx.Add({1, 1});
  EXPECT_THAT(ctx.compact().entries(), ElementsAre(Entry{1, 2}));
  EXPECT_THAT(ctx.cloud(), ElementsAre(Dot{1, 4}));
  ctx.Add({1, 3});
  EXPECT_THAT(ctx.compact().entries(), ElementsAre(Entry{1, 4}));
  EXPECT_THAT(ctx.cloud(), IsEmpty());
}

TEST(CausalContext, EqualKnowledgeIsEqualStructure) {
  CausalContext a, b;
  for (uint64_t c : {3, 1, 2, 5}) a.Add({9, c});
  for (uint64_t c : {5, 2, 3, 1}) b.Add({9, c});
  EXPECT_EQ(a, b);
  EXPECT_TRUE(a.Contains({9, 5}));
  EXPECT_FALSE(a.Contains({9, 4}));
}

TEST(CausalContext, NextIsPastEveryDotSeenOfTheReplica) {
  CausalContext ctx;
  EXPECT_EQ(ctx.Next(1), (Dot{1, 1}));
  ctx.Add({1, 1});
  ctx.Add({1, 5});
  EXPECT_EQ(ctx.Next(1), (Dot{1, 6}));
  EXPECT_EQ(ctx.Next(2), (Dot{2, 1}));
}

TEST(CausalContext, FromPartsRejectsNonCanonicalParts) {
  VersionVector compact;
  compact.Raise(1, 3);
  CausalContext out;
  EXPECT_FALSE(CausalContext::FromParts(compact, {{1, 2}}, &out));  // covered
  EXPECT_FALSE(CausalContext::FromParts(compact, {{1, 4}}, &out));  // should be folded
  EXPECT_TRUE(CausalContext::FromParts(compact, {{1, 5}}, &out));
  EXPECT_TRUE(out.Contains({1, 5}));
}

}  // namespace
}  // namespace geodatastore::crdt
