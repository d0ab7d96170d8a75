// The generic property suite over every CRDT type: each Spec below is the type's op
// generator and its model, written from the type's specification over event histories.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <map>
#include <numeric>

#include "crdt/g_counter.h"
#include "crdt/g_set.h"
#include "crdt/lww_element_set.h"
#include "crdt/lww_graph.h"
#include "crdt/lww_register.h"
#include "crdt/mv_register.h"
#include "crdt/or_set.h"
#include "crdt/pn_counter.h"
#include "crdt/two_p_set.h"
#include "crdt_model.h"

namespace geodatastore::crdt::testing {
namespace {

rc::Gen<Op> GenOpOf(std::vector<Op::Kind> kinds) {
  return rc::gen::apply(
      [](Op::Kind kind, std::string a, std::string b, uint64_t amount) {
        const bool edge = kind == Op::kAddEdge || kind == Op::kRemoveEdge;
        return Op{kind, std::move(a), edge ? std::move(b) : "", amount};
      },
      rc::gen::elementOf(kinds), GenElement(), GenElement(), rc::gen::inRange<uint64_t>(0, 1000));
}

template <typename Pred>
std::vector<std::string> ElementsWhere(const View& view, Pred present) {
  std::set<std::string> out;
  for (const Event* e : view) {
    if (present(e->op.a)) out.insert(e->op.a);
  }
  return {out.begin(), out.end()};
}

bool Is(const Event& e, Op::Kind kind, const std::string& a) {
  return e.op.kind == kind && e.op.a == a;
}

uint64_t Sum(const View& view, Op::Kind kind) {
  uint64_t sum = 0;
  for (const Event* e : view) {
    if (e->op.kind == kind) sum += e->op.amount;
  }
  return sum;
}

struct GCounterSpec {
  using Type = GCounter;
  static Type Initial() { return {}; }
  static rc::Gen<Op> GenOp() { return GenOpOf({Op::kIncrement}); }
  static Verdict Predict(const View&, const Op&) { return Verdict::kApply; }
  static StatusOr<Type> Delta(const Type& s, ReplicaId r, Stamp, const Op& op) {
    return s.Increment(r, op.amount);
  }
  static uint64_t ModelValue(const View& view) { return Sum(view, Op::kIncrement); }
};

struct PNCounterSpec {
  using Type = PNCounter;
  static Type Initial() { return {}; }
  static rc::Gen<Op> GenOp() { return GenOpOf({Op::kIncrement, Op::kDecrement}); }
  static Verdict Predict(const View&, const Op&) { return Verdict::kApply; }
  static StatusOr<Type> Delta(const Type& s, ReplicaId r, Stamp, const Op& op) {
    return op.kind == Op::kIncrement ? s.Increment(r, op.amount) : s.Decrement(r, op.amount);
  }
  static int64_t ModelValue(const View& view) {
    return static_cast<int64_t>(Sum(view, Op::kIncrement)) -
           static_cast<int64_t>(Sum(view, Op::kDecrement));
  }
};

struct GSetSpec {
  using Type = GSet;
  static Type Initial() { return {}; }
  static rc::Gen<Op> GenOp() { return GenOpOf({Op::kAdd}); }
  static Verdict Predict(const View&, const Op&) { return Verdict::kApply; }
  static StatusOr<Type> Delta(const Type& s, ReplicaId, Stamp, const Op& op) { return s.Add(op.a); }
  static std::vector<std::string> ModelValue(const View& view) {
    return ElementsWhere(view, [](const std::string&) { return true; });
  }
};

// Present: added and never removed. Re-adding a removed element is refused; removing an
// absent element does nothing.
struct TwoPSetSpec {
  using Type = TwoPSet;
  static Type Initial() { return {}; }
  static rc::Gen<Op> GenOp() { return GenOpOf({Op::kAdd, Op::kRemove}); }
  static bool Removed(const View& view, const std::string& x) {
    return std::any_of(view.begin(), view.end(),
                       [&](const Event* e) { return Is(*e, Op::kRemove, x); });
  }
  static Verdict Predict(const View& view, const Op& op) {
    if (op.kind == Op::kAdd) return Removed(view, op.a) ? Verdict::kRefuse : Verdict::kApply;
    const auto present = ModelValue(view);
    return std::binary_search(present.begin(), present.end(), op.a) ? Verdict::kApply
                                                                    : Verdict::kNoop;
  }
  static StatusOr<Type> Delta(const Type& s, ReplicaId, Stamp, const Op& op) {
    if (op.kind == Op::kAdd) return s.Add(op.a);
    return s.Remove(op.a);
  }
  static std::vector<std::string> ModelValue(const View& view) {
    return ElementsWhere(view, [&](const std::string& x) { return !Removed(view, x); });
  }
};

// Add-wins: present when some add of it was not in the causal past of any remove of it.
struct ORSetSpec {
  using Type = ORSet;
  static Type Initial() { return {}; }
  static rc::Gen<Op> GenOp() { return GenOpOf({Op::kAdd, Op::kRemove}); }
  static Verdict Predict(const View&, const Op&) { return Verdict::kApply; }
  static StatusOr<Type> Delta(const Type& s, ReplicaId r, Stamp, const Op& op) {
    return op.kind == Op::kAdd ? s.Add(r, op.a) : s.Remove(op.a);
  }
  static std::vector<std::string> ModelValue(const View& view) {
    std::set<std::string> out;
    for (const Event* add : view) {
      if (add->op.kind != Op::kAdd) continue;
      if (!SeenBy(view, *add, [&](const Event& e) { return Is(e, Op::kRemove, add->op.a); })) {
        out.insert(add->op.a);
      }
    }
    return {out.begin(), out.end()};
  }
};

// The write with the greatest (stamp, value).
struct LWWRegisterSpec {
  using Type = LWWRegister;
  static Type Initial() { return {}; }
  static rc::Gen<Op> GenOp() { return GenOpOf({Op::kWrite}); }
  static Verdict Predict(const View&, const Op&) { return Verdict::kApply; }
  static StatusOr<Type> Delta(const Type& s, ReplicaId, Stamp stamp, const Op& op) {
    return s.Set(stamp, op.a);
  }
  static std::vector<std::string> ModelValue(const View& view) {
    const Event* best = nullptr;
    for (const Event* e : view) {
      if (!best || std::tie(best->stamp, best->op.a) < std::tie(e->stamp, e->op.a)) best = e;
    }
    if (!best) return {};
    return {best->op.a};
  }
};

// Every write that no other write has in its causal past.
struct MVRegisterSpec {
  using Type = MVRegister;
  static Type Initial() { return {}; }
  static rc::Gen<Op> GenOp() { return GenOpOf({Op::kWrite}); }
  static Verdict Predict(const View&, const Op&) { return Verdict::kApply; }
  static StatusOr<Type> Delta(const Type& s, ReplicaId r, Stamp, const Op& op) {
    return s.Write(r, op.a);
  }
  static std::vector<std::string> ModelValue(const View& view) {
    std::set<std::string> out;
    for (const Event* w : view) {
      if (!SeenBy(view, *w, [](const Event&) { return true; })) out.insert(w->op.a);
    }
    return {out.begin(), out.end()};
  }
};

// Latest add against latest remove by timestamp; equal timestamps go to the bias.
bool LwwPresent(const Event* add, const Event* remove, bool add_wins) {
  if (add == nullptr) return false;
  if (remove == nullptr) return true;
  if (add->stamp.ts != remove->stamp.ts) return add->stamp.ts > remove->stamp.ts;
  return add_wins;
}

template <LwwBias kBias>
struct LWWSetSpec {
  using Type = LWWElementSet;
  static Type Initial() { return Type(kBias); }
  static rc::Gen<Op> GenOp() { return GenOpOf({Op::kAdd, Op::kRemove}); }
  static Verdict Predict(const View&, const Op&) { return Verdict::kApply; }
  static StatusOr<Type> Delta(const Type& s, ReplicaId, Stamp stamp, const Op& op) {
    return op.kind == Op::kAdd ? s.Add(stamp, op.a) : s.Remove(stamp, op.a);
  }
  static std::vector<std::string> ModelValue(const View& view) {
    return ElementsWhere(view, [&](const std::string& x) {
      return LwwPresent(Latest(view, [&](const Event& e) { return Is(e, Op::kAdd, x); }),
                        Latest(view, [&](const Event& e) { return Is(e, Op::kRemove, x); }),
                        kBias == LwwBias::kAddWins);
    });
  }
};
using LWWSetRemoveWinsSpec = LWWSetSpec<LwwBias::kRemoveWins>;
using LWWSetAddWinsSpec = LWWSetSpec<LwwBias::kAddWins>;

// Vertices and edges as LWW sets (ties to the remove); an edge shows only while both
// vertices show and were added no later than the edge.
struct LWWGraphSpec {
  using Type = LWWGraph;
  static Type Initial() { return {}; }
  static rc::Gen<Op> GenOp() {
    return GenOpOf({Op::kAddVertex, Op::kRemoveVertex, Op::kAddEdge, Op::kRemoveEdge});
  }
  static const Event* LatestOf(const View& view, Op::Kind kind, const std::string& a,
                               const std::string& b = "") {
    return Latest(view, [&](const Event& e) { return Is(e, kind, a) && e.op.b == b; });
  }
  static const Event* VisibleVertex(const View& view, const std::string& v) {
    const Event* add = LatestOf(view, Op::kAddVertex, v);
    return LwwPresent(add, LatestOf(view, Op::kRemoveVertex, v), false) ? add : nullptr;
  }
  static bool EdgeVisible(const View& view, const std::string& from, const std::string& to) {
    const Event* add = LatestOf(view, Op::kAddEdge, from, to);
    if (!LwwPresent(add, LatestOf(view, Op::kRemoveEdge, from, to), false)) return false;
    for (const std::string& v : {from, to}) {
      const Event* vertex = VisibleVertex(view, v);
      if (!vertex || vertex->stamp.ts > add->stamp.ts) return false;
    }
    return true;
  }
  static Verdict Predict(const View& view, const Op& op) {
    switch (op.kind) {
      case Op::kAddVertex:
        return VisibleVertex(view, op.a) ? Verdict::kNoop : Verdict::kApply;
      case Op::kRemoveVertex:
        return VisibleVertex(view, op.a) ? Verdict::kApply : Verdict::kRefuse;
      case Op::kAddEdge:
        return op.a != op.b && VisibleVertex(view, op.a) && VisibleVertex(view, op.b)
                   ? Verdict::kApply
                   : Verdict::kRefuse;
      default:
        return EdgeVisible(view, op.a, op.b) ? Verdict::kApply : Verdict::kRefuse;
    }
  }
  static StatusOr<Type> Delta(const Type& s, ReplicaId, Stamp stamp, const Op& op) {
    switch (op.kind) {
      case Op::kAddVertex:
        return s.AddVertex(stamp, op.a);
      case Op::kRemoveVertex:
        return s.RemoveVertex(stamp, op.a);
      case Op::kAddEdge:
        return s.AddEdge(stamp, op.a, op.b);
      default:
        return s.RemoveEdge(stamp, op.a, op.b);
    }
  }
  static LWWGraph::Snapshot ModelValue(const View& view) {
    LWWGraph::Snapshot out;
    std::set<std::string> vertices;
    std::set<LWWGraph::Edge> edges;
    for (const Event* e : view) {
      if (VisibleVertex(view, e->op.a)) vertices.insert(e->op.a);
      if (e->op.kind == Op::kAddEdge && EdgeVisible(view, e->op.a, e->op.b)) {
        edges.insert({e->op.a, e->op.b});
      }
    }
    return {{vertices.begin(), vertices.end()}, {edges.begin(), edges.end()}};
  }
};

GDS_CRDT_PROPERTIES(GCounterSpec)
GDS_CRDT_PROPERTIES(PNCounterSpec)
GDS_CRDT_PROPERTIES(GSetSpec)
GDS_CRDT_PROPERTIES(TwoPSetSpec)
GDS_CRDT_PROPERTIES(ORSetSpec)
GDS_CRDT_PROPERTIES(LWWRegisterSpec)
GDS_CRDT_PROPERTIES(MVRegisterSpec)
GDS_CRDT_PROPERTIES(LWWSetRemoveWinsSpec)
GDS_CRDT_PROPERTIES(LWWSetAddWinsSpec)
GDS_CRDT_PROPERTIES(LWWGraphSpec)

// The dot kernel's two join strategies must agree on every pair of reachable states.
template <typename Spec>
void CheckKernelJoinStrategiesAgree() {
  Simulation<Spec> sim;
  sim.Run(GenSteps<Spec>());
  std::vector<DotKernel> kernels;
  for (const auto& s : sim.states()) kernels.push_back(s.kernel());
  for (const auto& d : sim.deltas()) kernels.push_back(d.kernel());
  const size_t i = *rc::gen::inRange<size_t>(0, kernels.size());
  const size_t j = *rc::gen::inRange<size_t>(0, kernels.size());
  DotKernel by_scan = kernels[i];
  DotKernel by_index = kernels[i];
  by_scan.Join(kernels[j], DotKernel::JoinStrategy::kScan);
  by_index.Join(kernels[j], DotKernel::JoinStrategy::kIndex);
  RC_ASSERT(by_scan == by_index);
  // Joining again through the index built above must still agree.
  by_scan.Join(kernels[i], DotKernel::JoinStrategy::kScan);
  by_index.Join(kernels[i], DotKernel::JoinStrategy::kIndex);
  RC_ASSERT(by_scan == by_index);
}

RC_GTEST_PROP(DotKernel, ScanAndIndexJoinsAgreeOnORSets, ()) {
  CheckKernelJoinStrategiesAgree<ORSetSpec>();
}
RC_GTEST_PROP(DotKernel, ScanAndIndexJoinsAgreeOnMVRegisters, ()) {
  CheckKernelJoinStrategiesAgree<MVRegisterSpec>();
}

}  // namespace
}  // namespace geodatastore::crdt::testing
