#include "crdt/lww_graph.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "test_stamps.h"

namespace geodatastore::crdt {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;
using Path = std::vector<std::string>;

void Apply(LWWGraph& g, StatusOr<LWWGraph> delta) {
  ASSERT_TRUE(delta.ok()) << delta.status().ToString();
  g.Join(*delta);
}

// Vertices 1..6 and edges (1,2),(1,3),(3,2),(2,4),(4,2),(4,5),(5,6),(4,6).
LWWGraph SixVertexGraph() {
  LWWGraph g;
  uint64_t t = 1;
  for (const char* v : {"1", "2", "3", "4", "5", "6"}) g.Join(g.AddVertex(At(t++), v));
  for (auto [from, to] : std::vector<std::pair<const char*, const char*>>{{"1", "2"},
                                                                          {"1", "3"},
                                                                          {"3", "2"},
                                                                          {"2", "4"},
                                                                          {"4", "2"},
                                                                          {"4", "5"},
                                                                          {"5", "6"},
                                                                          {"4", "6"}}) {
    Apply(g, g.AddEdge(At(t++), from, to));
  }
  return g;
}

TEST(LWWGraph, SixVertexGraphHasExactlyFourPathsFrom1To6) {
  const LWWGraph g = SixVertexGraph();
  EXPECT_EQ(g.vertex_count(), 6u);
  EXPECT_EQ(g.edge_count(), 8u);
  EXPECT_THAT(g.Neighbors("1"), ElementsAre("2", "3"));
  EXPECT_THAT(
      g.Paths("1", "6"),
      UnorderedElementsAre(Path{"1", "3", "2", "4", "6"}, Path{"1", "3", "2", "4", "5", "6"},
                           Path{"1", "2", "4", "6"}, Path{"1", "2", "4", "5", "6"}));
}

TEST(LWWGraph, PathsStopAtTheLimit) {
  EXPECT_EQ(SixVertexGraph().Paths("1", "6", 3).size(), 3u);
  EXPECT_THAT(SixVertexGraph().Paths("6", "1"), IsEmpty());
}

TEST(LWWGraph, SelfLoopsAreRefused) {
  LWWGraph g;
  g.Join(g.AddVertex(At(1), "a"));
  auto loop = g.AddEdge(At(2), "a", "a");
  ASSERT_FALSE(loop.ok());
  EXPECT_EQ(loop.status().code(), StatusCode::kFailedPrecondition);
}

TEST(LWWGraph, EdgesNeedBothVertices) {
  LWWGraph g;
  g.Join(g.AddVertex(At(1), "a"));
  EXPECT_EQ(g.AddEdge(At(2), "a", "b").status().code(), StatusCode::kNotFound);
}

TEST(LWWGraph, RemovingAVertexRemovesItsEdges) {
  LWWGraph g = SixVertexGraph();
  Apply(g, g.RemoveVertex(At(100), "4"));
  EXPECT_FALSE(g.HasVertex("4"));
  EXPECT_THAT(g.Edges(), ElementsAre(LWWGraph::Edge{"1", "2"}, LWWGraph::Edge{"1", "3"},
                                     LWWGraph::Edge{"3", "2"}, LWWGraph::Edge{"5", "6"}));
  EXPECT_THAT(g.Paths("1", "6"), IsEmpty());
}

TEST(LWWGraph, ReAddedVertexDoesNotBringBackItsOldEdges) {
  LWWGraph g = SixVertexGraph();
  Apply(g, g.RemoveVertex(At(100), "4"));
  g.Join(g.AddVertex(At(101), "4"));
  EXPECT_TRUE(g.HasVertex("4"));
  EXPECT_THAT(g.Neighbors("4"), IsEmpty());
  EXPECT_FALSE(g.HasEdge("2", "4"));
}

TEST(LWWGraph, EdgeArrivingBeforeItsReAddedVertexAppearsWithTheVertex) {
  LWWGraph origin;
  origin.Join(origin.AddVertex(At(1), "a"));
  origin.Join(origin.AddVertex(At(2), "b"));
  Apply(origin, origin.RemoveVertex(At(3), "b"));
  LWWGraph replica = origin;  // has seen b removed

  const LWWGraph readd = origin.AddVertex(At(4), "b");
  origin.Join(readd);
  auto edge = origin.AddEdge(At(5), "a", "b");
  ASSERT_TRUE(edge.ok());

  replica.Join(*edge);  // the edge arrives first: hidden
  EXPECT_FALSE(replica.HasEdge("a", "b"));
  EXPECT_EQ(replica.edge_count(), 0u);
  replica.Join(readd);  // then its vertex: visible
  EXPECT_TRUE(replica.HasEdge("a", "b"));
  EXPECT_THAT(replica.Neighbors("a"), ElementsAre("b"));
}

TEST(LWWGraph, RemovingAMissingVertexOrEdgeIsNotFound) {
  LWWGraph g = SixVertexGraph();
  EXPECT_EQ(g.RemoveVertex(At(50), "9").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(g.RemoveEdge(At(50), "2", "1").status().code(), StatusCode::kNotFound);
  Apply(g, g.RemoveEdge(At(50), "1", "2"));
  EXPECT_FALSE(g.HasEdge("1", "2"));
  EXPECT_EQ(g.edge_count(), 7u);
}

TEST(LWWGraph, AddingAVisibleVertexAgainKeepsItsEdges) {
  LWWGraph g = SixVertexGraph();
  EXPECT_EQ(g.AddVertex(At(200), "1"), LWWGraph());
  EXPECT_THAT(g.Neighbors("1"), ElementsAre("2", "3"));
}

}  // namespace
}  // namespace geodatastore::crdt
