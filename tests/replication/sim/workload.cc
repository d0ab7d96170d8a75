#include "replication/sim/workload.h"

#include <type_traits>

#include "engine/session.h"

namespace geodatastore::sim {

using Kind = engine::Op::Kind;

std::vector<std::string> Elements(const crdt::AnyCrdt& state) {
  return std::visit(
      [](const auto& s) -> std::vector<std::string> {
        using T = std::decay_t<decltype(s)>;
        if constexpr (std::is_same_v<T, crdt::GSet> || std::is_same_v<T, crdt::TwoPSet> ||
                      std::is_same_v<T, crdt::ORSet> || std::is_same_v<T, crdt::LWWElementSet>) {
          return s.Value();
        } else {
          return {};
        }
      },
      state);
}

std::optional<int64_t> CounterOf(const crdt::AnyCrdt& state) {
  if (const auto* g = std::get_if<crdt::GCounter>(&state)) return static_cast<int64_t>(g->Value());
  if (const auto* pn = std::get_if<crdt::PNCounter>(&state)) return pn->Value();
  return std::nullopt;
}

void Workload::Acknowledge(const SimNode& n, const engine::ObjectView& view,
                           const std::string& what) {
  if (view.seq == 0) return;
  const std::string op = what + " " + view.key.name + " on " + n.id + " at t=" +
                         std::to_string(now_);
  auto [it, inserted] = issued_.emplace(std::make_pair(n.identity.replica, view.seq), op);
  EXPECT_TRUE(inserted) << "(" << crdt::ReplicaIdHex(n.identity.replica) << ", " << view.seq
                        << ") issued twice: to " << it->second << " and to " << op;
}

void Workload::ClientOp(SimNode& n) {
  const double dice = std::uniform_real_distribution<double>(0, 1)(rng_);
  if (dice < 0.35) {
    const bool inc = Chance(0.7);
    CounterOp(n, "c" + std::to_string(Rand(0, kCounters - 1)), inc, Rand(1, 5));
  } else if (dice < 0.7) {
    OrSetOp(n, "s" + std::to_string(Rand(0, kSets - 1)),
            std::string(1, static_cast<char>('a' + Rand(0, 3))), Chance(0.6));
  } else if (dice < 0.85) {
    TypedOp(n);
  } else {
    SessionWrite(n);
  }
}

void Workload::CounterOp(SimNode& n, const std::string& name, bool increment, uint64_t amount) {
  auto r = n.engine->Apply(
      name, {.kind = increment ? Kind::kIncrement : Kind::kDecrement, .amount = amount});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  expected_counters_[name] += increment ? static_cast<int64_t>(amount) : -static_cast<int64_t>(amount);
  Acknowledge(n, *r, increment ? "increment" : "decrement");
}

bool Workload::OrSetOp(SimNode& n, const std::string& set, const std::string& element, bool add) {
  const crdt::VersionVector observed = n.engine->Knowledge();
  auto r = n.engine->Apply(set, {.kind = add ? Kind::kAdd : Kind::kRemove, .elements = {element}});
  if (!add && !r.ok()) {
    EXPECT_EQ(r.status().code(), StatusCode::kNotFound);  // removing from a set never seen here
    return false;
  }
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  if (!r.ok() || r->seq == 0) return false;
  Acknowledge(n, *r, add ? "add" : "remove");
  set_ops_.push_back({static_cast<int>(set_ops_.size()), set, element, add, n.identity.replica,
                      r->seq, observed});
  Trace(n.id + (add ? " add " : " remove ") + set + "/" + element + " seq=" +
        std::to_string(r->seq));
  return true;
}

void Workload::TypedOp(SimNode& n) {
  const bool counter = Chance(0.5);
  const std::string name = (counter ? "tc" : "ts") + std::to_string(Rand(0, kTyped - 1));
  if (Chance(0.25)) {  // a create with an explicit type, maybe another than elsewhere
    static const v1::CrdtType kCounterTypes[] = {v1::G_COUNTER, v1::PN_COUNTER};
    static const v1::CrdtType kSetTypes[] = {v1::G_SET, v1::TWO_P_SET, v1::OR_SET};
    const v1::CrdtType type = counter ? kCounterTypes[Rand(0, 1)] : kSetTypes[Rand(0, 2)];
    auto r = n.engine->Apply(name, {.kind = Kind::kCreate, .type = type});
    if (!r.ok()) {  // it exists here with another type
      ASSERT_EQ(r.status().code(), StatusCode::kWrongType) << r.status().ToString();
      return;
    }
    Trace(n.id + " create " + name + " as " + v1::CrdtType_Name(type) +
          " seq=" + std::to_string(r->seq));
    if (r->seq != 0) ++typed_creates_;
    Acknowledge(n, *r, "create " + v1::CrdtType_Name(type));
    return;
  }
  if (counter) {
    const bool inc = Chance(0.75);
    const uint64_t amount = Rand(1, 5);
    auto r = n.engine->Apply(name,
                             {.kind = inc ? Kind::kIncrement : Kind::kDecrement, .amount = amount});
    if (!inc && !r.ok()) {  // a g_counter here
      ASSERT_EQ(r.status().code(), StatusCode::kFailedPrecondition) << r.status().ToString();
      return;
    }
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    expected_counters_[name] += inc ? static_cast<int64_t>(amount) : -static_cast<int64_t>(amount);
    Trace(n.id + (inc ? " increment " : " decrement ") + name + " (" +
          v1::CrdtType_Name(r->type) + ") by " + std::to_string(amount) +
          " seq=" + std::to_string(r->seq));
    Acknowledge(n, *r, inc ? "increment" : "decrement");
    return;
  }
  const std::string element(1, static_cast<char>('a' + Rand(0, 5)));
  const bool add = Chance(0.75);
  auto r = n.engine->Apply(name, {.kind = add ? Kind::kAdd : Kind::kRemove, .elements = {element}});
  if (!r.ok()) {  // a remove from a g_set or from no set, a 2p_set's removed element re-added
    ASSERT_TRUE(r.status().code() == StatusCode::kFailedPrecondition ||
                (!add && r.status().code() == StatusCode::kNotFound))
        << r.status().ToString();
    return;
  }
  (add ? typed_adds_ : typed_removes_)[name].insert(element);
  Trace(n.id + (add ? " add " : " remove ") + name + "/" + element + " (" +
        v1::CrdtType_Name(r->type) + ") seq=" + std::to_string(r->seq));
  Acknowledge(n, *r, add ? "add" : "remove");
}

void Workload::SessionWrite(SimNode& n) {
  const int k = static_cast<int>(Rand(0, kClients - 1));
  SessionClient& client = clients_[k];
  engine::ObjectView view;
  if (Chance(0.5)) {
    const std::string name = "k" + std::to_string(k);
    const uint64_t amount = Rand(1, 5);
    auto r = n.engine->Apply(name, {.kind = Kind::kIncrement, .amount = amount});
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    expected_counters_[name] += static_cast<int64_t>(amount);
    client.counted[name] += static_cast<int64_t>(amount);
    Acknowledge(n, *r, "increment");
    view = *r;
  } else {
    const std::string set = "s" + std::to_string(Rand(0, kSets - 1));
    const std::string element = "x" + std::to_string(k) + "." + std::to_string(client.writes);
    const size_t before = set_ops_.size();
    if (!OrSetOp(n, set, element, true)) return;
    client.adds.emplace_back(set, element);
    view.seq = set_ops_[before].seq;
  }
  ++client.writes;
  // What REST and gRPC answer with the write (rest_api.cc: SessionTokenFor(call.wrote)).
  auto token = engine::ParseSessionToken(n.engine->SessionTokenFor(view.seq));
  ASSERT_TRUE(token.ok()) << token.status().ToString();
  client.token.Join(*token);
}

void Workload::SessionRead() {
  const int k = static_cast<int>(Rand(0, kClients - 1));
  const SessionClient& client = clients_[k];
  SimNode& n = AnyNode();
  if (!n.up || client.writes == 0 || !n.engine->HasApplied(client.token)) return;
  ++session_reads_;
  for (const auto& [name, counted] : client.counted) {
    auto r = n.engine->Read(v1::COUNTERS, name);
    ASSERT_TRUE(r.ok()) << "client " << k << " reads " << name << " on " << n.id << ": "
                        << r.status().ToString();
    EXPECT_GE(CounterOf(r->state).value_or(-1), counted)
        << "client " << k << " reads its counter " << name << " on " << n.id
        << " with its token, and misses some of its increments";
  }
  std::map<std::string, std::set<std::string>> sets;
  for (const auto& [set, element] : client.adds) {
    if (!sets.count(set)) {
      auto r = n.engine->Read(v1::SETS, set);
      ASSERT_TRUE(r.ok()) << set << " on " << n.id << ": " << r.status().ToString();
      const auto elements = Elements(r->state);
      sets[set] = {elements.begin(), elements.end()};
    }
    EXPECT_TRUE(sets[set].count(element))
        << "client " << k << " reads " << set << " on " << n.id << " with its token "
        << engine::FormatSessionToken(client.token) << ", and misses its add of " << element;
  }
}

void Workload::CheckCounters() {
  for (const auto& [name, value] : expected_counters_) {
    auto c = nodes_[0]->engine->Read(v1::COUNTERS, name);
    ASSERT_TRUE(c.ok()) << name;
    EXPECT_EQ(CounterOf(c->state), value) << name << " (" << v1::CrdtType_Name(c->type) << ")";
  }
}

void Workload::CheckTypedSets() {
  std::map<std::string, std::set<std::string>> lost;  // set name -> elements kept under lost/
  for (const auto& n : nodes_) {
    auto states = n->store->ListLost(1000);
    ASSERT_TRUE(states.ok()) << states.status().ToString();
    for (const storage::LostState& s : *states) {
      EXPECT_NE(s.key.family, v1::COUNTERS) << s.key.name << ": counters embed, none is lost";
      auto state = crdt::DecodeAnyAs(s.type, s.state);
      ASSERT_TRUE(state.ok()) << state.status().ToString();
      for (const std::string& e : Elements(*state)) lost[s.key.name].insert(e);
    }
  }
  for (const auto& [name, adds] : typed_adds_) {
    auto s = nodes_[0]->engine->Read(v1::SETS, name);
    ASSERT_TRUE(s.ok()) << name;
    const std::vector<std::string> elements = Elements(s->state);
    const std::set<std::string> held(elements.begin(), elements.end());
    for (const std::string& e : adds) {
      if (typed_removes_[name].count(e)) continue;
      EXPECT_TRUE(held.count(e) || lost[name].count(e))
          << "the acknowledged add of " << e << " to " << name << " ("
          << v1::CrdtType_Name(s->type) << ") is neither in it nor kept under lost/";
    }
  }
}

// Add-wins (observed-remove): an add instance lives until a later op on the same element —
// a remove, or another add, which supersedes it — runs on a node that had applied it. An
// element is present while one of its add instances lives: a remove never takes away an
// add it had not seen.
std::map<std::string, std::set<std::string>> Workload::ExpectedSets() const {
  std::map<std::string, std::set<std::string>> out;
  for (const SetOp& a : set_ops_) {
    if (!a.add) continue;
    bool removed = false;
    for (const SetOp& o : set_ops_) {
      if (o.id != a.id && o.set == a.set && o.element == a.element &&
          o.observed.Get(a.origin) >= a.seq) {
        removed = true;
      }
    }
    out[a.set];  // the set exists once anything was added
    if (!removed) out[a.set].insert(a.element);
  }
  return out;
}

std::string Workload::History(const std::string& set) const {
  std::string out;
  for (const SetOp& op : set_ops_) {
    if (op.set != set) continue;
    out += "  #" + std::to_string(op.id) + (op.add ? " add " : " remove ") + op.element + " seq " +
           std::to_string(op.seq) + " of " + std::to_string(op.origin % 65536) + ", had applied:";
    for (const auto& [r, c] : op.observed.entries())
      out += " " + std::to_string(r % 65536) + ":" + std::to_string(c);
    out += "\n";
  }
  return out;
}

void Workload::CheckOrSets(bool exact) {
  for (const auto& [name, elements] : ExpectedSets()) {
    auto s = nodes_[0]->engine->Read(v1::SETS, name);
    ASSERT_TRUE(s.ok()) << name;
    const std::vector<std::string> got = Elements(s->state);
    const std::set<std::string> held(got.begin(), got.end());
    if (exact) {
      EXPECT_EQ(held, elements) << name << "\n" << History(name);
      continue;
    }
    for (const std::string& e : elements) {
      EXPECT_TRUE(held.count(e)) << "acknowledged add of " << e << " to " << name
                                 << " lost, no op that saw it removed it\n"
                                 << History(name);
    }
  }
}

}  // namespace geodatastore::sim
