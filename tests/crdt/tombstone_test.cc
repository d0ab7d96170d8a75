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
