// ObjectReply: what each type shows (the JSON of REST and geoctl, the gRPC ObjectValue), and
// that the gRPC message carries enough for geoctl to rebuild it.
#include "reply/object_reply.h"

#include <gtest/gtest.h>

#include <limits>

#include "crdt/codec.h"
#include "crdt/test_stamps.h"

namespace geodatastore::reply {
namespace {

using json = nlohmann::json;
using crdt::At;

constexpr crdt::ReplicaId kReplica = 7;

TEST(ObjectReply, CountersShowAValueAndAGCounterPastInt64StaysExactInJson) {
  crdt::GCounter g;
  // Past int64 over two replicas (one replica's count stops at 2^63).
  g.Join(*g.Increment(kReplica, std::numeric_limits<int64_t>::max()));
  g.Join(*g.Increment(kReplica + 1, 10));
  const ObjectReply r = Describe("g", g);
  EXPECT_EQ(ToJson(r), json::parse(R"({"name": "g", "type": "g_counter",
                                       "value": 9223372036854775817})"));
  v1::ObjectValue proto;
  ToProto(r, &proto);
  EXPECT_EQ(proto.family(), v1::COUNTERS);
  EXPECT_EQ(proto.counter_value(), std::numeric_limits<int64_t>::max());  // saturated

  crdt::PNCounter pn;
  pn.Join(*pn.Increment(kReplica, 3));
  EXPECT_EQ(ToJson(Describe("pn", pn)),
            json::parse(R"({"name": "pn", "type": "pn_counter", "value": 3})"));
}

TEST(ObjectReply, EachFamilyShowsItsOwnFieldsOnly) {
  crdt::ORSet set;
  set.Join(set.Add(kReplica, "b"));
  set.Join(set.Add(kReplica, "a"));
  EXPECT_EQ(ToJson(Describe("s", set)),
            json::parse(R"({"name": "s", "type": "or_set", "elements": ["a", "b"]})"));

  crdt::LWWElementSet lww(crdt::LwwBias::kAddWins);
  lww.Join(lww.Add(At(1, kReplica), "x"));
  EXPECT_EQ(
      ToJson(Describe("l", lww)),
      json::parse(R"({"name": "l", "type": "lww_set", "elements": ["x"], "bias": "add_wins"})"));

  crdt::MVRegister mv;
  mv.Join(mv.Write(kReplica, "v"));
  EXPECT_EQ(ToJson(Describe("r", mv)),
            json::parse(R"({"name": "r", "type": "mv_register", "values": ["v"]})"));
  EXPECT_EQ(ToJson(Describe("e", crdt::LWWRegister())),
            json::parse(R"({"name": "e", "type": "lww_register", "values": []})"));

  crdt::LWWGraph g;
  g.Join(g.AddVertex(At(1, kReplica), "a"));
  g.Join(g.AddVertex(At(2, kReplica), "b"));
  g.Join(*g.AddEdge(At(3, kReplica), "a", "b"));
  EXPECT_EQ(ToJson(Describe("g", g)), json::parse(R"({"name": "g", "type": "lww_graph",
                                                     "vertices": ["a", "b"],
                                                     "edges": [["a", "b"]]})"));
}

// geoctl renders what it rebuilds from the gRPC answer: the same as REST renders, for every
// type, empty or not.
TEST(ObjectReply, TheGrpcAnswerRebuildsTheSameReply) {
  crdt::LWWElementSet removes_win;
  removes_win.Join(removes_win.Add(At(1, kReplica), "x"));
  crdt::LWWGraph graph;
  graph.Join(graph.AddVertex(At(1, kReplica), "a"));
  std::vector<crdt::AnyCrdt> states = {removes_win, graph};
  for (v1::CrdtType t : crdt::kAllTypes) states.push_back(crdt::NewCrdt(t));
  for (const crdt::AnyCrdt& state : states) {
    const ObjectReply r = Describe("o", state, /*created=*/true);
    v1::ObjectValue proto;
    ToProto(r, &proto);
    EXPECT_TRUE(proto.created());
    EXPECT_EQ(ToJson(FromProto(proto)), ToJson(r)) << crdt::TypeName(r.type);
  }
}

}  // namespace
}  // namespace geodatastore::reply
