// Decoding untrusted bytes: random, truncated, wrongly tagged or non-canonical input is
// an error, never a crash and never a partial state.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

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

namespace geodatastore::crdt {
namespace {

using AllTypes = std::tuple<GCounter, PNCounter, GSet, TwoPSet, ORSet, LWWRegister, MVRegister,
                            LWWElementSet, LWWGraph>;

template <typename Fn>
void ForEachType(Fn&& fn) {
  std::apply([&](auto... t) { (fn(t), ...); }, AllTypes{});
}

// Decodes bytes as every type; whatever is accepted must re-encode to a state that decodes
// to itself.
void DecodeAsEveryType(const std::string& bytes) {
  ForEachType([&](auto t) {
    using T = decltype(t);
    auto decoded = DecodeFromBytes<T>(bytes);
    if (decoded.ok()) {
      auto again = DecodeFromBytes<T>(EncodeToBytes(*decoded));
      RC_ASSERT(again.ok());
      RC_ASSERT(*again == *decoded);
    } else {
      RC_ASSERT(decoded.status().code() == StatusCode::kCorruption);
    }
  });
}

// A sample of every type with some content.
std::vector<std::string> SampleEncodings() {
  const Stamp s{{10, 0}, 1};
  ORSet orset;
  orset.Join(orset.Add(1, "x"));
  orset.Join(orset.Add(2, "y"));
  orset.Join(orset.Remove("x"));
  MVRegister mv;
  mv.Join(mv.Write(1, "a"));
  mv.Join(MVRegister().Write(2, "b"));
  LWWGraph graph;
  graph.Join(graph.AddVertex(s, "a"));
  graph.Join(graph.AddVertex(s, "b"));
  graph.Join(*graph.AddEdge(s, "a", "b"));
  LWWElementSet lww;
  lww.Join(lww.Add(s, "e"));
  lww.Join(lww.Remove(s, "f"));
  TwoPSet two;
  two.Join(*two.Add("x"));
  two.Join(two.Remove("x"));
  return {EncodeToBytes(*GCounter().Increment(1, 5)),
          EncodeToBytes(*PNCounter().Decrement(3, 2)),
          EncodeToBytes(GSet().Add("g")),
          EncodeToBytes(two),
          EncodeToBytes(orset),
          EncodeToBytes(LWWRegister().Set(s, "v")),
          EncodeToBytes(mv),
          EncodeToBytes(lww),
          EncodeToBytes(graph)};
}

RC_GTEST_PROP(Codec, RandomBytesAreAnErrorOrAValidState, (const std::string& bytes)) {
  DecodeAsEveryType(bytes);
}

RC_GTEST_PROP(Codec, TruncatedAndBitFlippedEncodingsNeverCrash, ()) {
  const auto samples = SampleEncodings();
  std::string bytes = *rc::gen::elementOf(samples);
  const size_t cut = *rc::gen::inRange<size_t>(0, bytes.size() + 1);
  bytes.resize(cut);
  if (!bytes.empty() && *rc::gen::arbitrary<bool>()) {
    const size_t i = *rc::gen::inRange<size_t>(0, bytes.size());
    bytes[i] = static_cast<char>(bytes[i] ^ (1 << *rc::gen::inRange(0, 8)));
  }
  DecodeAsEveryType(bytes);
}

TEST(Codec, WrongTypeTagIsRejected) {
  v1::CrdtValue value = Encode(*GCounter().Increment(1, 5));
  value.set_type(v1::OR_SET);
  EXPECT_EQ(Decode<ORSet>(value).status().code(), StatusCode::kCorruption);
  EXPECT_EQ(Decode<GCounter>(value).status().code(), StatusCode::kCorruption);
  EXPECT_EQ(DecodeFromBytes<PNCounter>(EncodeToBytes(GSet())).status().code(),
            StatusCode::kCorruption);
}

TEST(Codec, UnknownVersionIsRejected) {
  v1::CrdtValue value = Encode(GSet().Add("x"));
  value.set_version(2);
  EXPECT_EQ(Decode<GSet>(value).status().code(), StatusCode::kCorruption);
}

TEST(Codec, UnsortedOrDuplicateEntriesAreRejected) {
  v1::CrdtValue value = Encode(GSet().Add("b"));
  value.mutable_g_set()->add_elements("a");
  EXPECT_FALSE(Decode<GSet>(value).ok());
  value.mutable_g_set()->set_elements(1, "b");
  EXPECT_FALSE(Decode<GSet>(value).ok());
}

TEST(Codec, ADotOutsideTheCausalContextIsRejected) {
  ORSet s;
  s.Join(s.Add(1, "x"));
  v1::CrdtValue value = Encode(s);
  value.mutable_or_set()->mutable_kernel()->mutable_entries(0)->mutable_dots(0)->set_counter(9);
  EXPECT_EQ(Decode<ORSet>(value).status().code(), StatusCode::kCorruption);
}

TEST(Codec, ZeroCountersAreRejected) {
  v1::CrdtValue value = Encode(*GCounter().Increment(1, 5));
  value.mutable_g_counter()->mutable_entries(0)->set_counter(0);
  EXPECT_FALSE(Decode<GCounter>(value).ok());
}

TEST(Codec, EqualStatesEncodeToIdenticalBytes) {
  ORSet a, b;
  a.Join(a.Add(1, "x"));
  a.Join(a.Add(1, "y"));
  b.Join(b.Add(1, "x"));
  b.Join(b.Add(1, "y"));
  ORSet ab = a, ba = b;
  ab.Join(b);
  ba.Join(a);
  EXPECT_EQ(EncodeToBytes(ab), EncodeToBytes(ba));
  for (const std::string& bytes : SampleEncodings()) {
    ForEachType([&](auto t) {
      auto decoded = DecodeFromBytes<decltype(t)>(bytes);
      if (decoded.ok()) {
        EXPECT_EQ(EncodeToBytes(*decoded), bytes);
      }
    });
  }
}

}  // namespace
}  // namespace geodatastore::crdt
