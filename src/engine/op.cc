#include "engine/op.h"

#include <absl/container/flat_hash_set.h>

#include <limits>

#include "storage/store.h"

namespace geodatastore::engine {

namespace {

using crdt::AnyCrdt;
using Kind = Op::Kind;

Status Unsupported(const Op& op, v1::CrdtType type) {
  return FailedPrecondition(std::string(op.Name()) + " is not supported by " +
                            std::string(crdt::TypeName(type)));
}

// Applies fn to each element, joining the deltas (a multi-element op is one delta).
// REQUIRES: an element's delta does not depend on the deltas of the elements before it
// (an OR-Set's add does, through its next dot: it has ORSet::AddAll instead). So every
// delta is taken from the state itself, never from a copy: O(k log n) for k elements.
template <typename T, typename Fn>
StatusOr<AnyCrdt> ForEachElement(const T& state, const Op& op, Fn&& fn) {
  T delta;
  for (const std::string& e : op.elements) {
    StatusOr<T> d = fn(state, e);
    if (!d.ok()) return d.status();
    delta.Join(*d);
  }
  return AnyCrdt(std::move(delta));
}

template <typename T>
StatusOr<T> Lift(T value) {
  return value;
}

template <typename T>
StatusOr<AnyCrdt> Wrap(StatusOr<T> delta) {
  if (!delta.ok()) return delta.status();
  return AnyCrdt(std::move(delta).value());
}

StatusOr<AnyCrdt> CounterDelta(const crdt::GCounter& s, const Op& op, const OpContext& ctx) {
  switch (op.kind) {
    case Kind::kCreate:
      if (op.initial_value < 0) return InvalidArgument("a g_counter cannot start below 0");
      return Wrap(s.Increment(ctx.replica, static_cast<uint64_t>(op.initial_value)));
    case Kind::kIncrement:
      return Wrap(s.Increment(ctx.replica, op.amount));
    default:
      return Unsupported(op, s.kType);
  }
}

StatusOr<AnyCrdt> CounterDelta(const crdt::PNCounter& s, const Op& op, const OpContext& ctx) {
  switch (op.kind) {
    case Kind::kCreate: {
      const int64_t v = op.initial_value;
      if (v >= 0) return Wrap(s.Increment(ctx.replica, static_cast<uint64_t>(v)));
      return Wrap(s.Decrement(ctx.replica, v == std::numeric_limits<int64_t>::min()
                                               ? static_cast<uint64_t>(v)
                                               : static_cast<uint64_t>(-v)));
    }
    case Kind::kIncrement:
      return Wrap(s.Increment(ctx.replica, op.amount));
    case Kind::kDecrement:
      return Wrap(s.Decrement(ctx.replica, op.amount));
    default:
      return Unsupported(op, s.kType);
  }
}

StatusOr<AnyCrdt> SetDelta(const crdt::GSet& s, const Op& op, const OpContext&) {
  if (op.kind == Kind::kCreate) return AnyCrdt(crdt::GSet());
  if (op.kind != Kind::kAdd) return Unsupported(op, s.kType);
  return ForEachElement(s, op,
                        [](const crdt::GSet& x, const std::string& e) { return Lift(x.Add(e)); });
}

StatusOr<AnyCrdt> SetDelta(const crdt::TwoPSet& s, const Op& op, const OpContext&) {
  switch (op.kind) {
    case Kind::kCreate:
      return AnyCrdt(crdt::TwoPSet());
    case Kind::kAdd:
      return ForEachElement(s, op,
                            [](const crdt::TwoPSet& x, const std::string& e) { return x.Add(e); });
    case Kind::kRemove:
      return ForEachElement(
          s, op, [](const crdt::TwoPSet& x, const std::string& e) { return Lift(x.Remove(e)); });
    default:
      return Unsupported(op, s.kType);
  }
}

StatusOr<AnyCrdt> SetDelta(const crdt::ORSet& s, const Op& op, const OpContext& ctx) {
  switch (op.kind) {
    case Kind::kCreate:
      return AnyCrdt(crdt::ORSet());
    case Kind::kAdd:
      return AnyCrdt(s.AddAll(ctx.replica, op.elements));
    case Kind::kRemove:
      return ForEachElement(
          s, op, [](const crdt::ORSet& x, const std::string& e) { return Lift(x.Remove(e)); });
    default:
      return Unsupported(op, s.kType);
  }
}

StatusOr<AnyCrdt> SetDelta(const crdt::LWWElementSet& s, const Op& op, const OpContext& ctx) {
  switch (op.kind) {
    case Kind::kCreate:
      return AnyCrdt(crdt::LWWElementSet(op.bias.value_or(crdt::LwwBias::kRemoveWins)));
    case Kind::kAdd:
      return ForEachElement(s, op, [&](const crdt::LWWElementSet& x, const std::string& e) {
        return Lift(x.Add(ctx.stamp, e));
      });
    case Kind::kRemove:
      return ForEachElement(s, op, [&](const crdt::LWWElementSet& x, const std::string& e) {
        return Lift(x.Remove(ctx.stamp, e));
      });
    default:
      return Unsupported(op, s.kType);
  }
}

StatusOr<AnyCrdt> RegisterDelta(const crdt::LWWRegister& s, const Op& op, const OpContext& ctx) {
  if (op.kind == Kind::kCreate) return AnyCrdt(crdt::LWWRegister());
  if (op.kind != Kind::kSet) return Unsupported(op, s.kType);
  return AnyCrdt(s.Set(ctx.stamp, op.value));
}

StatusOr<AnyCrdt> RegisterDelta(const crdt::MVRegister& s, const Op& op, const OpContext& ctx) {
  if (op.kind == Kind::kCreate) return AnyCrdt(crdt::MVRegister());
  if (op.kind != Kind::kSet) return Unsupported(op, s.kType);
  return AnyCrdt(s.Write(ctx.replica, op.value));
}

StatusOr<AnyCrdt> GraphDelta(const crdt::LWWGraph& s, const Op& op, const OpContext& ctx) {
  switch (op.kind) {
    case Kind::kCreate:
      return AnyCrdt(crdt::LWWGraph());
    case Kind::kAddVertex:
      return AnyCrdt(s.AddVertex(ctx.stamp, op.vertex));
    case Kind::kRemoveVertex:
      return Wrap(s.RemoveVertex(ctx.stamp, op.vertex));
    case Kind::kAddEdge:
      return Wrap(s.AddEdge(ctx.stamp, op.from, op.to));
    case Kind::kRemoveEdge:
      return Wrap(s.RemoveEdge(ctx.stamp, op.from, op.to));
    default:
      return Unsupported(op, s.kType);
  }
}

// Elements op may add to those state holds (CheckCollectionCap).
size_t Growth(const AnyCrdt& state, const Op& op, int64_t members_changed) {
  const auto* graph = std::get_if<crdt::LWWGraph>(&state);
  switch (op.kind) {
    case Kind::kAdd:
      return static_cast<size_t>(members_changed);
    case Kind::kAddVertex:
      return graph != nullptr && !graph->HasVertex(op.vertex);
    case Kind::kAddEdge:
      return graph != nullptr && !graph->HasEdge(op.from, op.to);
    default:
      return 0;
  }
}

size_t HeldElements(const AnyCrdt& state) {
  return std::visit(
      [](const auto& s) -> size_t {
        if constexpr (requires { s.held_elements(); }) {
          return s.held_elements();
        } else {
          return 0;
        }
      },
      state);
}

}  // namespace

Status CheckCollectionCap(std::string_view what, const AnyCrdt& state, const Op& op,
                          int64_t members_changed, size_t cap) {
  const size_t growth = Growth(state, op, members_changed);
  if (cap == 0 || growth == 0) return Status::Ok();
  const size_t held = HeldElements(state);
  if (held + growth <= cap) return Status::Ok();
  return ResourceExhausted(std::string(what) + " holds " + std::to_string(held) +
                           " elements; this " + std::string(op.Name()) + " would add up to " +
                           std::to_string(growth) + ", past limits.max_collection_elements (" +
                           std::to_string(cap) + ")");
}

v1::Family Op::family() const {
  switch (kind) {
    case Kind::kIncrement:
    case Kind::kDecrement:
      return v1::COUNTERS;
    case Kind::kAdd:
    case Kind::kRemove:
      return v1::SETS;
    case Kind::kSet:
      return v1::REGISTERS;
    case Kind::kAddVertex:
    case Kind::kRemoveVertex:
    case Kind::kAddEdge:
    case Kind::kRemoveEdge:
      return v1::GRAPHS;
    case Kind::kCreate:
      break;
  }
  return type ? storage::FamilyOf(*type) : v1::FAMILY_UNSPECIFIED;
}

std::optional<v1::CrdtType> Op::ImplicitType() const {
  switch (kind) {
    case Kind::kCreate:
      return type;
    case Kind::kIncrement:
    case Kind::kDecrement:
      return v1::PN_COUNTER;
    case Kind::kAdd:
      return v1::OR_SET;
    case Kind::kSet:
      return type.value_or(v1::LWW_REGISTER);
    case Kind::kAddVertex:
    case Kind::kAddEdge:
      return v1::LWW_GRAPH;
    default:
      return std::nullopt;
  }
}

std::string_view Op::Name() const {
  switch (kind) {
    case Kind::kCreate:
      return "create";
    case Kind::kIncrement:
      return "increment";
    case Kind::kDecrement:
      return "decrement";
    case Kind::kAdd:
      return "add";
    case Kind::kRemove:
      return "remove";
    case Kind::kSet:
      return "set";
    case Kind::kAddVertex:
      return "add_vertex";
    case Kind::kRemoveVertex:
      return "remove_vertex";
    case Kind::kAddEdge:
      return "add_edge";
    case Kind::kRemoveEdge:
      return "remove_edge";
  }
  return "unknown";
}

StatusOr<AnyCrdt> DeltaFor(const AnyCrdt& state, const Op& op, const OpContext& ctx) {
  return std::visit(
      [&](const auto& s) -> StatusOr<AnyCrdt> {
        using T = std::decay_t<decltype(s)>;
        if constexpr (std::is_same_v<T, crdt::GCounter> || std::is_same_v<T, crdt::PNCounter>) {
          return CounterDelta(s, op, ctx);
        } else if constexpr (std::is_same_v<T, crdt::LWWRegister> ||
                             std::is_same_v<T, crdt::MVRegister>) {
          return RegisterDelta(s, op, ctx);
        } else if constexpr (std::is_same_v<T, crdt::LWWGraph>) {
          return GraphDelta(s, op, ctx);
        } else {
          return SetDelta(s, op, ctx);
        }
      },
      state);
}

int64_t MembershipChanges(const AnyCrdt& state, const Op& op) {
  if (op.kind != Kind::kAdd && op.kind != Kind::kRemove) return 0;
  return std::visit(
      [&](const auto& s) -> int64_t {
        if constexpr (requires { s.Contains(std::string_view()); }) {
          int64_t n = 0;
          absl::flat_hash_set<std::string_view> seen;  // an op may name an element twice
          seen.reserve(op.elements.size());
          for (const std::string& e : op.elements) {
            if (seen.insert(e).second && s.Contains(e) == (op.kind == Kind::kRemove)) ++n;
          }
          return n;
        } else {
          return 0;
        }
      },
      state);
}

}  // namespace geodatastore::engine
