#include "crdt/lww_graph.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "test_stamps.h"

namespace geodatastore::crdt {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;
using Path = std::vector<std::string>;

void Apply(LWWGraph& g, StatusOr<LWWGraph> delta) {
  ASSERT_TRUE(delta.ok()) << delta.status().ToString();
  g.Join(*delta);
}

// Every path from -> to within the default budget (the graphs here are far below it).
std::vector<Path> PathsOf(const LWWGraph& g, std::string_view from, std::string_view to) {
  auto paths = g.Paths(from, to, {});
  EXPECT_TRUE(paths.ok()) << paths.status().ToString();
  return paths.ok() ? *paths : std::vector<Path>{};
}

// The graph of these edges and their vertices; vertices are added before edges.
LWWGraph GraphOf(const std::vector<LWWGraph::Edge>& edges) {
  LWWGraph g;
  uint64_t t = 1;
  for (const auto& [from, to] : edges) {
    for (const std::string& v : {from, to}) g.Join(g.AddVertex(At(t++), v));
  }
  for (const auto& [from, to] : edges) Apply(g, g.AddEdge(At(t++), from, to));
  return g;
}

// n vertices v00, v01, ... and an edge each way between every two of them.
std::vector<LWWGraph::Edge> CompleteEdges(int n) {
  std::vector<LWWGraph::Edge> edges;
  auto name = [](int i) { return std::string(i < 10 ? "v0" : "v") + std::to_string(i); };
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j < n; ++j) {
      if (i != j) edges.emplace_back(name(i), name(j));
    }
  }
  return edges;
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
      PathsOf(g, "1", "6"),
      UnorderedElementsAre(Path{"1", "3", "2", "4", "6"}, Path{"1", "3", "2", "4", "5", "6"},
                           Path{"1", "2", "4", "6"}, Path{"1", "2", "4", "5", "6"}));
}

TEST(LWWGraph, PathsStopAtTheLimit) {
  EXPECT_EQ(SixVertexGraph().Paths("1", "6", {}, 3)->size(), 3u);
  EXPECT_THAT(PathsOf(SixVertexGraph(), "6", "1"), IsEmpty());
}

TEST(LWWGraph, PathsOfACompleteGraphOf13VerticesExceedThePathBudget) {
  const LWWGraph g = GraphOf(CompleteEdges(13));  // about 10^8 simple paths from v00 to v12
  auto paths = g.Paths("v00", "v12", {.max_paths = 1000, .max_steps = 100000});
  ASSERT_FALSE(paths.ok());
  EXPECT_EQ(paths.status().code(), StatusCode::kResourceExhausted);
  EXPECT_THAT(paths.status().message(), HasSubstr("more than 1000 paths (max_paths)"));
  // A limit under the budget answers with the first paths.
  EXPECT_EQ(g.Paths("v00", "v12", {}, 5)->size(), 5u);
}

TEST(LWWGraph, ASearchThatFindsNoPathStillStopsAtTheStepBudget) {
  std::vector<LWWGraph::Edge> edges = CompleteEdges(13);
  edges.emplace_back("z", "v00");  // z is reachable from nowhere
  auto paths = GraphOf(edges).Paths("v00", "z", {.max_paths = 1000, .max_steps = 100000});
  ASSERT_FALSE(paths.ok());
  EXPECT_EQ(paths.status().code(), StatusCode::kResourceExhausted);
  EXPECT_THAT(paths.status().message(), HasSubstr("more than 100000 steps (max_steps)"));
}

TEST(LWWGraph, TheVerticesOfThePathsFoundCountAgainstTheStepBudget) {
  // A chain of 30 vertices, then a fan of 20 ways to t: 20 paths of 32 vertices (640 in the
  // answer) that the search finds in about 150 steps.
  std::vector<LWWGraph::Edge> edges;
  for (int i = 0; i + 1 < 30; ++i)
    edges.emplace_back("c" + std::to_string(100 + i), "c" + std::to_string(101 + i));
  for (int i = 0; i < 20; ++i) {
    edges.emplace_back("c129", "f" + std::to_string(i));
    edges.emplace_back("f" + std::to_string(i), "t");
  }
  const LWWGraph g = GraphOf(edges);
  EXPECT_EQ(g.Paths("c100", "t", {.max_paths = 1000, .max_steps = 300}).status().code(),
            StatusCode::kResourceExhausted);
  EXPECT_EQ(g.Paths("c100", "t", {.max_paths = 1000, .max_steps = 1000})->size(), 20u);
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
  EXPECT_THAT(PathsOf(g, "1", "6"), IsEmpty());
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
