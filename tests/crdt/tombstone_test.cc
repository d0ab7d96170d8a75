// Tombstone collection at the CRDT level: what a collector takes out, and what it leaves.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "crdt/any_crdt.h"
#include "test_stamps.h"

namespace geodatastore::crdt {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

TEST(TombstoneCollection, TwoPSetForgetsCollectedElementsAndKeepsTheRest) {
  TwoPSet s;
  s.Join(*s.Add("x"));
  s.Join(*s.Add("y"));
  s.Join(s.Remove("x"));
  auto t = TombstonesOf(s);
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->count, 1u);
  EXPECT_FALSE(t->latest.has_value());  // no stamps in a 2P-Set
  AnyCrdt any = s;
  ASSERT_TRUE(CollectAny(any, t->state).value());
  const TwoPSet& after = std::get<TwoPSet>(any);
  EXPECT_EQ(after.tombstones(), 0u);
  EXPECT_THAT(after.Value(), ElementsAre("y"));
  EXPECT_FALSE(TombstonesOf(any).has_value());
  EXPECT_FALSE(CollectAny(any, t->state).value());  // nothing left to collect
}

TEST(TombstoneCollection, LwwSetKeepsAnEntryThatChangedSinceTheSnapshot) {
  LWWElementSet s;
  s.Join(s.Add(At(10), "x"));
  s.Join(s.Remove(At(20), "x"));
  s.Join(s.Add(At(10), "y"));
  s.Join(s.Remove(At(30), "y"));
  s.Join(s.Add(At(5), "z"));
  auto t = TombstonesOf(s);
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->count, 2u);
  EXPECT_EQ(t->latest, At(30));
  // y is removed again later: its entry differs from the snapshot's and stays.
  s.Join(s.Remove(At(40), "y"));
  AnyCrdt any = s;
  ASSERT_TRUE(CollectAny(any, t->state).value());
  const LWWElementSet& after = std::get<LWWElementSet>(any);
  EXPECT_EQ(after.tombstones(), 1u);
  EXPECT_THAT(after.Value(), ElementsAre("z"));
  // A later add of x is an add of a new element.
  AnyCrdt readd = LWWElementSet().Add(At(50), "x");
  ASSERT_TRUE(JoinAny(any, readd).ok());
  EXPECT_THAT(std::get<LWWElementSet>(any).Value(), ElementsAre("x", "z"));
}

// Two replicas collect the same removal, one before and one after a later add of the element
// arrives: they must end identical (found by the simulator: the one that got the add first
// kept the old remove stamp on the re-added element for good, and no round collected it).
TEST(TombstoneCollection, LwwSetReplicasThatCollectBeforeAndAfterAReaddAgree) {
  LWWElementSet base;
  base.Join(base.Add(At(10), "x"));
  base.Join(base.Remove(At(20), "x"));
  const LWWElementSet readd = base.Add(At(50), "x");
  auto t = TombstonesOf(base);
  ASSERT_TRUE(t.has_value());
  // Collects first, then gets the add.
  AnyCrdt early = base;
  ASSERT_TRUE(CollectAny(early, t->state).value());
  ASSERT_TRUE(JoinAny(early, AnyCrdt(readd)).ok());
  // Gets the add first: x is present again, its old remove stamp is what remains to collect.
  AnyCrdt late = base;
  ASSERT_TRUE(JoinAny(late, AnyCrdt(readd)).ok());
  EXPECT_EQ(std::get<LWWElementSet>(late).tombstones(), 1u);
  ASSERT_TRUE(CollectAny(late, t->state).value());
  EXPECT_EQ(EncodeAny(early), EncodeAny(late));
  EXPECT_THAT(std::get<LWWElementSet>(late).Value(), ElementsAre("x"));
  // A replica that never collected still differs by that stamp alone, and a later round
  // (its own snapshot) takes it.
  AnyCrdt other = base;
  ASSERT_TRUE(JoinAny(other, AnyCrdt(readd)).ok());
  auto stale = TombstonesOf(other);
  ASSERT_TRUE(stale.has_value());
  EXPECT_EQ(stale->count, 1u);
  ASSERT_TRUE(CollectAny(other, stale->state).value());
  EXPECT_EQ(EncodeAny(other), EncodeAny(early));
  EXPECT_FALSE(TombstonesOf(other).has_value());
}

TEST(TombstoneCollection, LwwGraphCollectsRemovedVerticesAndEdges) {
  LWWGraph g;
  g.Join(g.AddVertex(At(1), "a"));
  g.Join(g.AddVertex(At(2), "b"));
  g.Join(g.AddVertex(At(3), "c"));
  g.Join(*g.AddEdge(At(4), "a", "b"));
  g.Join(*g.AddEdge(At(5), "b", "c"));
  g.Join(*g.RemoveVertex(At(6), "c"));  // removes c and the edge b->c
  auto t = TombstonesOf(g);
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->count, 2u);
  EXPECT_EQ(t->latest, At(6));
  AnyCrdt any = g;
  ASSERT_TRUE(CollectAny(any, t->state).value());
  const LWWGraph& after = std::get<LWWGraph>(any);
  EXPECT_EQ(after.tombstones(), 0u);
  EXPECT_THAT(after.Vertices(), ElementsAre("a", "b"));
  EXPECT_EQ(after.Edges(), (std::vector<LWWGraph::Edge>{{"a", "b"}}));
  // Re-adding c later does not bring back the edge added before it.
  ASSERT_TRUE(JoinAny(any, AnyCrdt(std::get<LWWGraph>(any).AddVertex(At(7), "c"))).ok());
  EXPECT_THAT(std::get<LWWGraph>(any).Neighbors("b"), IsEmpty());
}

TEST(TombstoneCollection, TypesWithoutTombstonesHaveNone) {
  ORSet s;
  s.Join(s.Add(1, "x"));
  s.Join(s.Remove("x"));
  EXPECT_FALSE(TombstonesOf(s).has_value());
  AnyCrdt any = s;
  EXPECT_FALSE(CollectAny(any, AnyCrdt(ORSet())).value());
  EXPECT_FALSE(CollectAny(any, AnyCrdt(TwoPSet())).ok());
}

}  // namespace
}  // namespace geodatastore::crdt
