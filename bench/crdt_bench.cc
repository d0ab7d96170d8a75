// Micro benchmarks of every CRDT type at 10, 1,000 and 100,000 entries:
//   join/<type>/<n>    a copy of replica A joined with replica B; A and B each hold n entries,
//                      half of them shared (the copy is excluded from the time)
//   mutate/<type>/<n>  one op on a state of n entries: delta mutator plus joining the delta
//                      (or_set: an add and a remove of a fresh element, two ops)
//   encode/<type>/<n>, decode/<type>/<n>: canonical bytes of replica A, and back
//   bulk_add/<type>/<n> one client op adding n distinct elements (in random order) to an
//                      empty set, as the engine runs it: members changed, delta, join
// Entries are: replicas for counters, elements for sets, concurrent values for the
// MV-Register, vertices (plus a path of edges) for the graph; an LWW-Register holds one
// value whatever n, so its n is only the number of writes it saw.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <memory>
#include <random>
#include <string>
#include <tuple>

#include "crdt/g_counter.h"
#include "crdt/g_set.h"
#include "crdt/lww_element_set.h"
#include "crdt/lww_graph.h"
#include "crdt/lww_register.h"
#include "crdt/mv_register.h"
#include "crdt/or_set.h"
#include "crdt/pn_counter.h"
#include "crdt/two_p_set.h"
#include "engine/op.h"

namespace geodatastore::crdt {
namespace {

std::string Key(const char* prefix, size_t i) {
  char buf[32];
  snprintf(buf, sizeof(buf), "%s%08zu", prefix, i);
  return buf;
}

Stamp StampAt(size_t i, ReplicaId r) { return {{1'700'000'000'000 + i, 0}, r}; }

template <typename T, typename Delta>
void JoinDelta(T& s, Delta&& d) {
  if constexpr (requires { d.ok(); }) {
    s.Join(*d);
  } else {
    s.Join(d);
  }
}

// Op(s, i, r): the i-th distinct op, run by replica r. Mutate(s, i): one benchmarked op.
template <typename T>
struct Workload;

template <>
struct Workload<GCounter> {
  static void Op(GCounter& s, size_t i, ReplicaId) { JoinDelta(s, s.Increment(i + 1, 1)); }
  static void Mutate(GCounter& s, size_t) { JoinDelta(s, s.Increment(1, 1)); }
};
template <>
struct Workload<PNCounter> {
  static void Op(PNCounter& s, size_t i, ReplicaId) {
    JoinDelta(s, i % 2 ? s.Increment(i + 1, 2) : s.Decrement(i + 1, 1));
  }
  static void Mutate(PNCounter& s, size_t) { JoinDelta(s, s.Decrement(1, 1)); }
};
template <>
struct Workload<GSet> {
  static void Op(GSet& s, size_t i, ReplicaId) { s.Join(s.Add(Key("e", i))); }
  static void Mutate(GSet& s, size_t i) { s.Join(s.Add(Key("m", i))); }
};
template <>
struct Workload<TwoPSet> {
  static void Op(TwoPSet& s, size_t i, ReplicaId) { JoinDelta(s, s.Add(Key("e", i))); }
  static void Mutate(TwoPSet& s, size_t i) { JoinDelta(s, s.Add(Key("m", i))); }
};
template <>
struct Workload<ORSet> {
  static void Op(ORSet& s, size_t i, ReplicaId r) { s.Join(s.Add(r, Key("e", i))); }
  static void Mutate(ORSet& s, size_t i) {
    const std::string e = Key("m", i);
    s.Join(s.Add(1, e));
    s.Join(s.Remove(e));
  }
};
template <>
struct Workload<LWWRegister> {
  static void Op(LWWRegister& s, size_t i, ReplicaId r) {
    s.Join(s.Set(StampAt(i, r), Key("v", i)));
  }
  static void Mutate(LWWRegister& s, size_t i) { s.Join(s.Set(StampAt(1'000'000 + i, 1), "w")); }
};
template <>
struct Workload<MVRegister> {
  // Each value from a replica that has seen nothing: all n values are concurrent.
  static void Op(MVRegister& s, size_t i, ReplicaId) {
    s.Join(MVRegister().Write(i + 1, Key("v", i)));
  }
  static void Mutate(MVRegister& s, size_t i) { s.Join(s.Write(1, Key("w", i))); }
};
template <>
struct Workload<LWWElementSet> {
  static void Op(LWWElementSet& s, size_t i, ReplicaId r) {
    s.Join(s.Add(StampAt(i, r), Key("e", i)));
  }
  static void Mutate(LWWElementSet& s, size_t i) {
    s.Join(s.Add(StampAt(1'000'000 + i, 1), Key("m", i)));
  }
};
template <>
struct Workload<LWWGraph> {
  static void Op(LWWGraph& s, size_t i, ReplicaId r) {
    const std::string v = Key("v", i);
    s.Join(s.AddVertex(StampAt(2 * i, r), v));
    if (i > 0 && s.HasVertex(Key("v", i - 1)))
      JoinDelta(s, s.AddEdge(StampAt(2 * i + 1, r), Key("v", i - 1), v));
  }
  static void Mutate(LWWGraph& s, size_t i) {
    s.Join(s.AddVertex(StampAt(10'000'000 + i, 1), Key("m", i)));
  }
};

// Replicas A and B with n entries each, n / 2 of them shared.
template <typename T>
std::pair<T, T> Replicas(size_t n) {
  T base;
  for (size_t i = 0; i < n / 2; ++i) Workload<T>::Op(base, i, 1);
  T a = base, b = base;
  for (size_t i = n / 2; i < n; ++i) Workload<T>::Op(a, i, 2);
  for (size_t i = n; i < n + n - n / 2; ++i) Workload<T>::Op(b, i, 3);
  return {std::move(a), std::move(b)};
}

template <typename T>
void BM_Join(benchmark::State& state) {
  const auto [a, b] = Replicas<T>(state.range(0));
  std::unique_ptr<T> x;  // copied and destroyed outside the timed region
  for (auto _ : state) {
    state.PauseTiming();
    x.reset();
    x = std::make_unique<T>(a);
    state.ResumeTiming();
    x->Join(b);
    benchmark::DoNotOptimize(*x);
  }
}

template <typename T>
void BM_Mutate(benchmark::State& state) {
  T s = Replicas<T>(state.range(0)).first;
  size_t i = 0;
  for (auto _ : state) Workload<T>::Mutate(s, i++);
  state.SetItemsProcessed(state.iterations());
}

template <typename T>
void BM_Encode(benchmark::State& state) {
  const T a = Replicas<T>(state.range(0)).first;
  size_t bytes = 0;
  for (auto _ : state) {
    std::string out = EncodeToBytes(a);
    bytes = out.size();
    benchmark::DoNotOptimize(out);
  }
  state.counters["bytes"] = static_cast<double>(bytes);
  state.SetBytesProcessed(state.iterations() * bytes);
}

template <typename T>
void BM_Decode(benchmark::State& state) {
  const std::string bytes = EncodeToBytes(Replicas<T>(state.range(0)).first);
  for (auto _ : state) {
    auto decoded = DecodeFromBytes<T>(bytes);
    if (!decoded.ok()) state.SkipWithError("decode failed");
    benchmark::DoNotOptimize(decoded);
  }
  state.SetBytesProcessed(state.iterations() * bytes.size());
}

template <typename T>
void BM_BulkAdd(benchmark::State& state) {
  engine::Op op{.kind = engine::Op::Kind::kAdd};
  for (int64_t i = 0; i < state.range(0); ++i) op.elements.push_back(Key("e", i));
  std::shuffle(op.elements.begin(), op.elements.end(), std::mt19937(42));
  for (auto _ : state) {
    AnyCrdt s = T();
    benchmark::DoNotOptimize(engine::MembershipChanges(s, op));
    StatusOr<AnyCrdt> delta = engine::DeltaFor(s, op, {1, StampAt(0, 1)});
    if (!delta.ok() || !JoinAny(s, *delta).ok()) state.SkipWithError("add failed");
    benchmark::DoNotOptimize(s);
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}

template <typename T>
void RegisterType() {
  const std::string type(TypeName(T::kType));
  for (auto [name, fn] :
       {std::pair{"join/", &BM_Join<T>}, std::pair{"mutate/", &BM_Mutate<T>},
        std::pair{"encode/", &BM_Encode<T>}, std::pair{"decode/", &BM_Decode<T>}}) {
    benchmark::RegisterBenchmark((name + type).c_str(), fn)
        ->Arg(10)
        ->Arg(1000)
        ->Arg(100000)
        ->Unit(benchmark::kMicrosecond);
  }
  if constexpr (requires(const T& s) { s.Contains(std::string_view()); }) {
    benchmark::RegisterBenchmark(("bulk_add/" + type).c_str(), &BM_BulkAdd<T>)
        ->Arg(1000)
        ->Arg(10000)
        ->Arg(100000)
        ->Unit(benchmark::kMillisecond);
  }
}

}  // namespace
}  // namespace geodatastore::crdt

int main(int argc, char** argv) {
  using namespace geodatastore::crdt;
  std::apply([](auto... t) { (RegisterType<decltype(t)>(), ...); },
             std::tuple<GCounter, PNCounter, GSet, TwoPSet, ORSet, LWWRegister, MVRegister,
                        LWWElementSet, LWWGraph>{});
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
