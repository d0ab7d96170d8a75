// The generic CRDT property harness (after riak_dt's crdt_statem_eqc): several replicas
// run random ops and random merges; a model computes each type's value from nothing but
// the events a replica has seen and their causal pasts, so it shares no data structure
// with the implementation.
//
// A Spec gives, for one type:
//   using Type;                                  the CRDT
//   static Type Initial();                        the state every replica starts from
//   static rc::Gen<Op> GenOp();                   random ops of that type
//   static Verdict Predict(const View&, const Op&)  what the model expects the op to do
//   static StatusOr<Type> Delta(const Type&, ReplicaId, Stamp, const Op&)
//   static auto ModelValue(const View&)          the value, same type as Type::Value()
#pragma once

#include <rapidcheck.h>

#include <algorithm>
#include <array>
#include <memory>
#include <ostream>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "crdt/clock.h"
#include "crdt/crdt.h"

namespace geodatastore::crdt::testing {

inline constexpr int kReplicas = 3;
inline ReplicaId ReplicaOf(int r) { return static_cast<ReplicaId>(r + 1); }

// One op for any type; each Spec generates only its own kinds.
struct Op {
  enum Kind {
    kIncrement,
    kDecrement,
    kAdd,
    kRemove,
    kWrite,
    kAddVertex,
    kRemoveVertex,
    kAddEdge,
    kRemoveEdge
  };
  Kind kind = kAdd;
  std::string a;  // element, value, vertex, edge source
  std::string b;  // edge target
  uint64_t amount = 0;
};

inline std::ostream& operator<<(std::ostream& os, const Op& op) {
  static const char* kNames[] = {"increment",  "decrement",     "add",      "remove",     "write",
                                 "add_vertex", "remove_vertex", "add_edge", "remove_edge"};
  os << kNames[op.kind] << "(";
  if (op.kind == Op::kIncrement || op.kind == Op::kDecrement) return os << op.amount << ")";
  os << op.a;
  if (!op.b.empty()) os << ", " << op.b;
  return os << ")";
}

// An op that took effect, with the events its replica had seen when it ran.
struct Event {
  int id;
  int replica;
  Stamp stamp;
  Op op;
  std::set<int> past;
};

using View = std::vector<const Event*>;  // in id order

enum class Verdict { kApply, kNoop, kRefuse };

struct Step {
  bool merge = false;  // merge replica `from` into `replica`; else run `op` at `replica`
  int replica = 0;
  int from = 0;
  Op op;
  uint64_t physical = 0;  // the op's timestamp, milliseconds
};

inline std::ostream& operator<<(std::ostream& os, const Step& s) {
  if (s.merge) return os << "merge " << s.from << " -> " << s.replica;
  return os << "at " << s.replica << " t=" << s.physical << ": " << s.op;
}

// Small alphabets so that ops on one replica collide with ops on the others.
inline rc::Gen<std::string> GenElement() {
  return rc::gen::elementOf(std::vector<std::string>{"a", "b", "c", "d"});
}

template <typename Spec>
rc::Gen<Step> GenStep() {
  auto op = rc::gen::apply(
      [](int r, Op o, uint64_t t) {
        return Step{false, r, r, std::move(o), t};
      },
      rc::gen::inRange(0, kReplicas), Spec::GenOp(), rc::gen::inRange<uint64_t>(1, 20));
  auto merge = rc::gen::apply(
      [](int r, int f) {
        return Step{true, r, f, Op{}, 0};
      },
      rc::gen::inRange(0, kReplicas), rc::gen::inRange(0, kReplicas));
  return rc::gen::weightedOneOf<Step>({{3, op}, {1, merge}});
}

template <typename Spec>
std::vector<Step> GenSteps() {
  return *rc::gen::container<std::vector<Step>>(GenStep<Spec>());
}

// Replicas of Spec::Type and the model, run side by side. Every step checks that each
// replica's value equals the model's value for the events that replica has seen.
template <typename Spec>
class Simulation {
 public:
  using T = typename Spec::Type;

  Simulation() { states_.fill(Spec::Initial()); }

  void Run(const std::vector<Step>& steps) {
    for (const Step& s : steps) {
      if (s.merge) {
        Merge(s.from, s.replica);
      } else {
        Apply(s.replica, s.op, s.physical);
      }
    }
  }

  // Every replica merges every other: afterwards all have seen every event.
  void MergeAll() {
    for (int r = 1; r < kReplicas; ++r) Merge(r, 0);
    for (int r = 1; r < kReplicas; ++r) Merge(0, r);
  }

  const std::array<T, kReplicas>& states() const { return states_; }
  const std::vector<T>& deltas() const { return deltas_; }
  View AllEvents() const {
    return ViewOf(events_, [](const Event&) { return true; });
  }

 private:
  void Apply(int r, const Op& op, uint64_t physical) {
    const View view = ViewOfReplica(r);
    const Verdict verdict = Spec::Predict(view, op);
    const Stamp stamp{{physical, 0}, ReplicaOf(r)};
    StatusOr<T> delta = Spec::Delta(states_[r], ReplicaOf(r), stamp, op);
    if (verdict == Verdict::kRefuse) {
      RC_ASSERT(!delta.ok());
      return;
    }
    RC_ASSERT(delta.ok());
    const T before = states_[r];
    states_[r].Join(*delta);
    deltas_.push_back(*std::move(delta));
    if (verdict == Verdict::kNoop) {
      RC_ASSERT(states_[r] == before);
    } else {
      const int id = static_cast<int>(events_.size());
      events_.push_back(std::make_unique<Event>(Event{id, r, stamp, op, seen_[r]}));
      seen_[r].insert(id);
    }
    CheckReplica(r);
  }

  void Merge(int from, int to) {
    states_[to].Join(states_[from]);
    seen_[to].insert(seen_[from].begin(), seen_[from].end());
    CheckReplica(to);
  }

  void CheckReplica(int r) const {
    RC_ASSERT(states_[r].Value() == Spec::ModelValue(ViewOfReplica(r)));
  }

  View ViewOfReplica(int r) const {
    return ViewOf(events_, [&](const Event& e) { return seen_[r].count(e.id) > 0; });
  }

  template <typename Pred>
  static View ViewOf(const std::vector<std::unique_ptr<Event>>& events, Pred pred) {
    View view;
    for (const auto& e : events) {
      if (pred(*e)) view.push_back(e.get());
    }
    return view;
  }

  std::vector<std::unique_ptr<Event>> events_;
  std::array<std::set<int>, kReplicas> seen_;
  std::array<T, kReplicas> states_;
  std::vector<T> deltas_;
};

// The event with the greatest stamp among those matching pred, or nullptr.
template <typename Pred>
const Event* Latest(const View& view, Pred pred) {
  const Event* best = nullptr;
  for (const Event* e : view) {
    if (pred(*e) && (best == nullptr || best->stamp < e->stamp)) best = e;
  }
  return best;
}

// True when some event in view matching pred has e in its causal past.
template <typename Pred>
bool SeenBy(const View& view, const Event& e, Pred pred) {
  return std::any_of(view.begin(), view.end(),
                     [&](const Event* later) { return pred(*later) && later->past.count(e.id); });
}

// --- Generic properties, run by GDS_CRDT_PROPERTIES for every Spec. ---

template <typename Spec>
void CheckConvergesToModel() {
  Simulation<Spec> sim;
  sim.Run(GenSteps<Spec>());
  sim.MergeAll();
  const auto& states = sim.states();
  const std::string bytes = EncodeToBytes(states[0]);
  for (const auto& s : states) {
    RC_ASSERT(s == states[0]);
    RC_ASSERT(EncodeToBytes(s) == bytes);
  }
  RC_ASSERT(states[0].Value() == Spec::ModelValue(sim.AllEvents()));
}

template <typename Spec>
void CheckJoinLaws() {
  Simulation<Spec> sim;
  sim.Run(GenSteps<Spec>());
  const auto& [a, b, c] = sim.states();
  RC_ASSERT(Joined(a, a) == a);
  RC_ASSERT(Joined(a, b) == Joined(b, a));
  RC_ASSERT(EncodeToBytes(Joined(a, b)) == EncodeToBytes(Joined(b, a)));
  RC_ASSERT(Joined(Joined(a, b), c) == Joined(a, Joined(b, c)));
  RC_ASSERT(Joined(Joined(a, b), b) == Joined(a, b));
}

template <typename Spec>
void CheckDeltasEqualFullJoin() {
  Simulation<Spec> sim;
  sim.Run(GenSteps<Spec>());
  sim.MergeAll();
  std::vector<typename Spec::Type> deltas = sim.deltas();
  // Duplicate some deltas, then apply all in a random order.
  const auto extra = *rc::gen::container<std::vector<size_t>>(
      rc::gen::inRange<size_t>(0, std::max<size_t>(deltas.size(), 1)));
  for (size_t i : extra) {
    if (i < deltas.size()) deltas.push_back(deltas[i]);
  }
  std::mt19937 rng(*rc::gen::arbitrary<uint32_t>());
  std::shuffle(deltas.begin(), deltas.end(), rng);
  auto state = Spec::Initial();
  for (const auto& d : deltas) state.Join(d);
  RC_ASSERT(state == sim.states()[0]);
}

template <typename Spec>
void CheckCodec() {
  Simulation<Spec> sim;
  sim.Run(GenSteps<Spec>());
  std::vector<typename Spec::Type> samples = sim.deltas();
  samples.insert(samples.end(), sim.states().begin(), sim.states().end());
  for (const auto& s : samples) {
    const std::string bytes = EncodeToBytes(s);
    auto decoded = DecodeFromBytes<typename Spec::Type>(bytes);
    RC_ASSERT(decoded.ok());
    RC_ASSERT(*decoded == s);
    RC_ASSERT(EncodeToBytes(*decoded) == bytes);
  }
}

}  // namespace geodatastore::crdt::testing

#define GDS_CRDT_PROPERTIES(Spec)                                        \
  RC_GTEST_PROP(Spec, ReplicasMatchModelAndConverge, ()) {               \
    ::geodatastore::crdt::testing::CheckConvergesToModel<Spec>();        \
  }                                                                      \
  RC_GTEST_PROP(Spec, JoinIsIdempotentCommutativeAssociative, ()) {      \
    ::geodatastore::crdt::testing::CheckJoinLaws<Spec>();                \
  }                                                                      \
  RC_GTEST_PROP(Spec, DeltasInAnyOrderWithDuplicatesEqualFullJoin, ()) { \
    ::geodatastore::crdt::testing::CheckDeltasEqualFullJoin<Spec>();     \
  }                                                                      \
  RC_GTEST_PROP(Spec, EncodingRoundTripsCanonically, ()) {               \
    ::geodatastore::crdt::testing::CheckCodec<Spec>();                   \
  }
