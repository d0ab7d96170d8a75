// Directed graph from two LWW element sets, vertices and edges (Shapiro et al. 2011, the
// LWW variant of the 2P2P-graph). Ties between an add and a remove of equal timestamps go
// to the remove.
//
// An edge is visible only while its own add wins, both of its vertices are visible, and
// each vertex was added no later than the edge. So removing a vertex hides its edges for
// good (a re-added vertex does not bring back older edges), and an edge that arrives
// through a merge before its vertex stays hidden until the vertex arrives.
//
// Thread safety: plain value.
#pragma once

#include <limits>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "crdt/crdt.h"
#include "crdt/lww_element.h"

namespace geodatastore::crdt {

class LWWGraph {
 public:
  static constexpr v1::CrdtType kType = v1::LWW_GRAPH;
  static constexpr v1::CrdtValue::StateCase kStateCase = v1::CrdtValue::kLwwGraph;

  using Edge = std::pair<std::string, std::string>;  // (from, to)
  struct Snapshot {
    std::vector<std::string> vertices;  // sorted
    std::vector<Edge> edges;            // sorted
    bool operator==(const Snapshot&) const = default;
  };
  using Path = std::vector<std::string>;
  // What one Paths() call may cost. The number of simple paths grows factorially with the
  // vertices (a complete graph of 13 has about 10^8 between two of them), so the search is
  // bounded rather than the graph.
  struct PathBudget {
    size_t max_paths = 1000;  // paths found
    // Steps: every edge the search follows or tries, plus every vertex of every path found
    // (so the answer's size is bounded too).
    size_t max_steps = 100000;
  };

  // Delta adding vertex at stamp; empty if the vertex is already visible (re-stamping it
  // would hide its edges).
  LWWGraph AddVertex(Stamp stamp, std::string_view vertex) const;
  // Delta removing vertex and its visible edges; kNotFound if the vertex is not visible.
  StatusOr<LWWGraph> RemoveVertex(Stamp stamp, std::string_view vertex) const;
  // kFailedPrecondition for a self-loop (refused), kNotFound unless both vertices are visible.
  StatusOr<LWWGraph> AddEdge(Stamp stamp, std::string_view from, std::string_view to) const;
  // kNotFound if the edge is not visible.
  StatusOr<LWWGraph> RemoveEdge(Stamp stamp, std::string_view from, std::string_view to) const;

  bool HasVertex(std::string_view vertex) const;
  bool HasEdge(std::string_view from, std::string_view to) const;
  std::vector<std::string> Vertices() const;
  std::vector<Edge> Edges() const;
  size_t vertex_count() const { return Vertices().size(); }
  size_t edge_count() const { return Edges().size(); }
  // Vertices and edges held, tombstones included. O(1).
  size_t held_elements() const { return vertices_.size() + edges_.size(); }
  // Targets of the visible edges leaving vertex, sorted.
  std::vector<std::string> Neighbors(std::string_view vertex) const;
  // Every simple path from -> to over visible edges, in lexicographic order; only the first
  // `limit` when a limit is given. kResourceExhausted, naming the budget, when the search
  // would find more than budget.max_paths paths or take more than budget.max_steps steps.
  StatusOr<std::vector<Path>> Paths(std::string_view from, std::string_view to,
                                    const PathBudget& budget,
                                    size_t limit = std::numeric_limits<size_t>::max()) const;
  Snapshot Value() const { return {Vertices(), Edges()}; }
  // Vertices and edges whose remove wins, and stale remove stamps: tombstones.
  size_t tombstones() const;
  // Tombstone collection, as LWWElementSet's: vertices and edges whose remove wins.
  LWWGraph Tombstones() const;
  bool Collect(const LWWGraph& tombstones);
  std::optional<Stamp> LatestStamp() const;

  void Join(const LWWGraph& other);
  bool operator==(const LWWGraph&) const = default;
  Status Validate(const StateLimits& limits) const;

  void EncodeState(v1::CrdtValue* out) const;
  static StatusOr<LWWGraph> DecodeState(const v1::CrdtValue& in);

 private:
  static constexpr LwwBias kBias = LwwBias::kRemoveWins;

  const LwwEntry* VisibleVertex(std::string_view vertex) const;
  bool EdgeVisible(const Edge& edge, const LwwEntry& entry) const;

  SortedMap<std::string, LwwEntry> vertices_;
  SortedMap<Edge, LwwEntry> edges_;
};

static_assert(Crdt<LWWGraph>);

}  // namespace geodatastore::crdt
