#include "crdt/lww_graph.h"

#include <algorithm>
#include <set>

namespace geodatastore::crdt {

LWWGraph LWWGraph::AddVertex(Stamp stamp, std::string_view vertex) const {
  LWWGraph delta;
  if (!HasVertex(vertex)) delta.vertices_.emplace(std::string(vertex), LwwEntry::Add(stamp));
  return delta;
}

StatusOr<LWWGraph> LWWGraph::RemoveVertex(Stamp stamp, std::string_view vertex) const {
  if (!HasVertex(vertex)) return NotFound("vertex '" + std::string(vertex) + "' not found");
  LWWGraph delta;
  delta.vertices_.emplace(std::string(vertex), LwwEntry::Remove(stamp));
  for (const auto& [edge, entry] : edges_) {
    if ((edge.first == vertex || edge.second == vertex) && EdgeVisible(edge, entry)) {
      delta.edges_.emplace(edge, LwwEntry::Remove(stamp));
    }
  }
  return delta;
}

StatusOr<LWWGraph> LWWGraph::AddEdge(Stamp stamp, std::string_view from,
                                     std::string_view to) const {
  if (from == to) {
    return FailedPrecondition("self-loop on vertex '" + std::string(from) + "' is not allowed");
  }
  for (std::string_view v : {from, to}) {
    if (!HasVertex(v)) return NotFound("vertex '" + std::string(v) + "' not found");
  }
  LWWGraph delta;
  delta.edges_.emplace(Edge(from, to), LwwEntry::Add(stamp));
  return delta;
}

StatusOr<LWWGraph> LWWGraph::RemoveEdge(Stamp stamp, std::string_view from,
                                        std::string_view to) const {
  if (!HasEdge(from, to)) {
    return NotFound("edge '" + std::string(from) + "' -> '" + std::string(to) + "' not found");
  }
  LWWGraph delta;
  delta.edges_.emplace(Edge(from, to), LwwEntry::Remove(stamp));
  return delta;
}

const LwwEntry* LWWGraph::VisibleVertex(std::string_view vertex) const {
  auto it = vertices_.find(vertex);
  return (it != vertices_.end() && it->second.Present(kBias)) ? &it->second : nullptr;
}

bool LWWGraph::EdgeVisible(const Edge& edge, const LwwEntry& entry) const {
  if (!entry.Present(kBias)) return false;
  for (const std::string& v : {edge.first, edge.second}) {
    const LwwEntry* vertex = VisibleVertex(v);
    if (vertex == nullptr || vertex->added->ts > entry.added->ts) return false;
  }
  return true;
}

bool LWWGraph::HasVertex(std::string_view vertex) const { return VisibleVertex(vertex) != nullptr; }

bool LWWGraph::HasEdge(std::string_view from, std::string_view to) const {
  auto it = edges_.find(Edge(from, to));
  return it != edges_.end() && EdgeVisible(it->first, it->second);
}

std::vector<std::string> LWWGraph::Vertices() const {
  std::vector<std::string> out;
  for (const auto& [vertex, entry] : vertices_) {
    if (entry.Present(kBias)) out.push_back(vertex);
  }
  return out;
}

std::vector<LWWGraph::Edge> LWWGraph::Edges() const {
  std::vector<Edge> out;
  for (const auto& [edge, entry] : edges_) {
    if (EdgeVisible(edge, entry)) out.push_back(edge);
  }
  return out;
}

std::vector<std::string> LWWGraph::Neighbors(std::string_view vertex) const {
  std::vector<std::string> out;
  for (auto it = edges_.lower_bound(Edge(vertex, ""));
       it != edges_.end() && it->first.first == vertex; ++it) {
    if (EdgeVisible(it->first, it->second)) out.push_back(it->first.second);
  }
  return out;
}

StatusOr<std::vector<LWWGraph::Path>> LWWGraph::Paths(std::string_view from, std::string_view to,
                                                      const PathBudget& budget,
                                                      size_t limit) const {
  std::vector<Path> paths;
  if (!HasVertex(from) || !HasVertex(to) || limit == 0) return paths;
  if (from == to) return std::vector<Path>{Path{std::string(from)}};
  std::map<std::string, std::vector<std::string>, std::less<>> adjacency;
  for (const Edge& e : Edges()) adjacency[e.first].push_back(e.second);
  auto over_budget = [&](const std::string& what) {
    return ResourceExhausted("paths from '" + std::string(from) + "' to '" + std::string(to) +
                             "' exceed the path budget: " + what);
  };

  // Depth-first search over simple paths; each frame holds the next neighbor to try.
  Path path{std::string(from)};
  std::set<std::string, std::less<>> on_path{std::string(from)};
  std::vector<size_t> next{0};
  size_t steps = 0;
  while (!path.empty() && paths.size() < limit) {
    if (++steps > budget.max_steps) {
      return over_budget("more than " + std::to_string(budget.max_steps) + " steps (max_steps)");
    }
    auto adj = adjacency.find(path.back());
    const size_t i = next.back()++;
    if (adj == adjacency.end() || i >= adj->second.size()) {
      on_path.erase(path.back());
      path.pop_back();
      next.pop_back();
      continue;
    }
    const std::string& v = adj->second[i];
    if (on_path.count(v) > 0) continue;
    if (v == to) {
      if (paths.size() == budget.max_paths) {
        return over_budget("more than " + std::to_string(budget.max_paths) + " paths (max_paths)");
      }
      steps += path.size() + 1;  // the answer's size counts against the steps too
      paths.push_back(path);
      paths.back().push_back(v);
      continue;
    }
    path.push_back(v);
    on_path.insert(v);
    next.push_back(0);
  }
  return paths;
}

size_t LWWGraph::tombstones() const {
  return CountTombstones(vertices_, kBias) + CountTombstones(edges_, kBias);
}

LWWGraph LWWGraph::Tombstones() const {
  LWWGraph out;
  out.vertices_ = TombstoneEntries(vertices_, kBias);
  out.edges_ = TombstoneEntries(edges_, kBias);
  return out;
}

bool LWWGraph::Collect(const LWWGraph& tombstones) {
  const bool vertices = CollectEntries(vertices_, tombstones.vertices_, kBias);
  return CollectEntries(edges_, tombstones.edges_, kBias) || vertices;
}

std::optional<Stamp> LWWGraph::LatestStamp() const {
  const std::optional<Stamp> v = LatestStampOf(vertices_);
  const std::optional<Stamp> e = LatestStampOf(edges_);
  return v && e ? std::max(*v, *e) : (v ? v : e);
}

void LWWGraph::Join(const LWWGraph& other) {
  JoinEntries(vertices_, other.vertices_);
  JoinEntries(edges_, other.edges_);
}

void LWWGraph::EncodeState(v1::CrdtValue* out) const {
  v1::LwwGraphState* s = out->mutable_lww_graph();
  for (const auto& [vertex, entry] : vertices_) {
    v1::LwwElement* e = s->add_vertices();
    e->set_element(vertex);
    EncodeLwwEntry(entry, e);
  }
  for (const auto& [edge, entry] : edges_) {
    v1::LwwEdge* e = s->add_edges();
    e->set_from(edge.first);
    e->set_to(edge.second);
    EncodeLwwEntry(entry, e);
  }
}

StatusOr<LWWGraph> LWWGraph::DecodeState(const v1::CrdtValue& in) {
  const v1::LwwGraphState& s = in.lww_graph();
  LWWGraph out;
  for (int i = 0; i < s.vertices_size(); ++i) {
    const v1::LwwElement& v = s.vertices(i);
    if (i > 0 && !(s.vertices(i - 1).element() < v.element())) {
      return Corruption("lww_graph vertices not strictly sorted");
    }
    LwwEntry entry;
    if (!DecodeLwwEntry(v, &entry)) return Corruption("lww_graph vertex without stamps");
    out.vertices_.emplace_hint(out.vertices_.end(), v.element(), entry);
  }
  for (int i = 0; i < s.edges_size(); ++i) {
    const v1::LwwEdge& e = s.edges(i);
    Edge edge(e.from(), e.to());
    if (edge.first == edge.second) return Corruption("lww_graph self-loop edge");
    if (!out.edges_.empty() && !(out.edges_.rbegin()->first < edge)) {
      return Corruption("lww_graph edges not strictly sorted");
    }
    LwwEntry entry;
    if (!DecodeLwwEntry(e, &entry)) return Corruption("lww_graph edge without stamps");
    out.edges_.emplace_hint(out.edges_.end(), std::move(edge), entry);
  }
  return out;
}

Status LWWGraph::Validate(const StateLimits& limits) const {
  for (const auto& [vertex, entry] : vertices_) {
    GDS_RETURN_IF_ERROR(CheckElement(vertex, "vertex", limits));
    GDS_RETURN_IF_ERROR(ValidateLwwEntry(entry, limits));
  }
  for (const auto& [edge, entry] : edges_) {
    GDS_RETURN_IF_ERROR(CheckElement(edge.first, "vertex", limits));
    GDS_RETURN_IF_ERROR(CheckElement(edge.second, "vertex", limits));
    GDS_RETURN_IF_ERROR(ValidateLwwEntry(entry, limits));
  }
  return Status::Ok();
}

}  // namespace geodatastore::crdt
