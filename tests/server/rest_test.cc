// The REST API of a real geods process: every endpoint, every class of bad input,
// persistence across restarts and kill -9, concurrency, and /metrics through promtool.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "cli/http_client.h"
#include "support/geods_process.h"

namespace geodatastore::testing {
namespace {

using client::HttpClient;
using client::HttpResult;

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using json = nlohmann::json;
namespace http = boost::beast::http;

class RestTest : public ::testing::Test {
 protected:
  void SetUp() override { StartNode(""); }

  void StartNode(const std::string& extra_yaml) {
    node_ = std::make_unique<GeodsProcess>(GeodsProcess::Options{.extra_yaml = extra_yaml});
    ASSERT_TRUE(node_->Start()) << node_->error();
    client_ = std::make_unique<HttpClient>(node_->http_port());
  }

  void Restart() {
    ASSERT_TRUE(node_->Start()) << node_->error();
    client_ = std::make_unique<HttpClient>(node_->http_port());
  }

  // Asserts the status and returns the JSON body.
  json Expect(int status, const HttpResult& r) {
    EXPECT_EQ(r.status, status) << r.body;
    return r.json;
  }

  std::unique_ptr<GeodsProcess> node_;
  std::unique_ptr<HttpClient> client_;
};

TEST_F(RestTest, Counters) {
  EXPECT_EQ(Expect(201, client_->Post("/crdt/counters/c",
                                      {{"type", "pn_counter"}, {"initial_value", 10}}))["value"],
            10);
  EXPECT_EQ(Expect(200, client_->Post("/crdt/counters/c",
                                      {{"type", "pn_counter"}, {"initial_value", 10}}))["value"],
            10);
  Expect(409, client_->Post("/crdt/counters/c", {{"type", "g_counter"}}));
  EXPECT_EQ(Expect(200, client_->Post("/crdt/counters/c/increment", {{"value", 5}}))["value"], 15);
  EXPECT_EQ(Expect(200, client_->Post("/crdt/counters/c/decrement", {{"value", 3}}))["value"], 12);
  json c = Expect(200, client_->Get("/crdt/counters/c"));
  EXPECT_EQ(c, json({{"name", "c"}, {"type", "pn_counter"}, {"value", 12}}));
  // increment creates a pn_counter; decrement is refused on a g_counter.
  EXPECT_EQ(Expect(200, client_->Post("/crdt/counters/fresh/increment", {{"value", 2}}))["type"],
            "pn_counter");
  Expect(201, client_->Post("/crdt/counters/g", {{"type", "g_counter"}}));
  Expect(409, client_->Post("/crdt/counters/g/decrement", {{"value", 1}}));
  Expect(404, client_->Get("/crdt/counters/absent"));
}

TEST_F(RestTest, Sets) {
  EXPECT_THAT(
      Expect(200, client_->Post("/crdt/sets/s/add", {{"elements", {"b", "a"}}}))["elements"],
      ElementsAre("a", "b"));
  Expect(200, client_->Post("/crdt/sets/s/remove", {{"element", "a"}}));
  json s = Expect(200, client_->Get("/crdt/sets/s"));
  EXPECT_EQ(s["type"], "or_set");
  EXPECT_THAT(s["elements"], ElementsAre("b"));

  Expect(201, client_->Post("/crdt/sets/g", {{"type", "g_set"}}));
  Expect(200, client_->Post("/crdt/sets/g/add", {{"element", "x"}}));
  Expect(409, client_->Post("/crdt/sets/g/remove", {{"element", "x"}}));

  Expect(201, client_->Post("/crdt/sets/two", {{"type", "2p_set"}}));
  Expect(200, client_->Post("/crdt/sets/two/add", {{"element", "x"}}));
  Expect(200, client_->Post("/crdt/sets/two/remove", {{"element", "x"}}));
  Expect(409, client_->Post("/crdt/sets/two/add", {{"element", "x"}}));

  EXPECT_EQ(Expect(201, client_->Post("/crdt/sets/l",
                                      {{"type", "lww_set"}, {"bias", "add_wins"}}))["bias"],
            "add_wins");
  Expect(200, client_->Post("/crdt/sets/l/add", {{"element", "e"}}));
  EXPECT_THAT(Expect(200, client_->Get("/crdt/sets/l"))["elements"], ElementsAre("e"));
  Expect(200, client_->Post("/crdt/sets/l/add", {{"element", "f"}}));
  Expect(200, client_->Post("/crdt/sets/l/remove", {{"element", "f"}}));

  // The removed elements held (not collected yet: see the README).
  const std::string metrics = client_->Get("/metrics").body;
  EXPECT_THAT(metrics, HasSubstr("geodatastore_tombstones{type=\"2p_set\"} 1\n"));
  EXPECT_THAT(metrics, HasSubstr("geodatastore_tombstones{type=\"lww_set\"} 1\n"));
  EXPECT_THAT(metrics, HasSubstr("geodatastore_tombstones{type=\"lww_graph\"} 0\n"));
}

TEST_F(RestTest, Registers) {
  Expect(200, client_->Post("/crdt/registers/r",
                            {{"type", "lww_register"}, {"value", "v2000"}, {"timestamp", 2000}}));
  Expect(200, client_->Post("/crdt/registers/r", {{"value", "v1000"}, {"timestamp", 1000}}));
  EXPECT_THAT(Expect(200, client_->Get("/crdt/registers/r"))["values"], ElementsAre("v2000"));
  Expect(200,
         client_->Post("/crdt/registers/r", {{"value", "now"}}));  // HLC time is later than 2000 ms
  EXPECT_THAT(Expect(200, client_->Get("/crdt/registers/r"))["values"], ElementsAre("now"));
  Expect(409, client_->Post("/crdt/registers/r", {{"type", "mv_register"}, {"value", "x"}}));
  Expect(200, client_->Post("/crdt/registers/mv", {{"type", "mv_register"}, {"value", "alice"}}));
  EXPECT_THAT(Expect(200, client_->Get("/crdt/registers/mv"))["values"], ElementsAre("alice"));
}

TEST_F(RestTest, Graphs) {
  for (const char* v : {"1", "2", "3", "4", "5", "6"})
    Expect(200, client_->Post("/crdt/graphs/g/vertices", {{"vertex", v}}));
  for (auto [f, t] : std::vector<std::pair<const char*, const char*>>{{"1", "2"},
                                                                      {"1", "3"},
                                                                      {"3", "2"},
                                                                      {"2", "4"},
                                                                      {"4", "2"},
                                                                      {"4", "5"},
                                                                      {"5", "6"},
                                                                      {"4", "6"}}) {
    Expect(200, client_->Post("/crdt/graphs/g/edges", {{"from", f}, {"to", t}}));
  }
  Expect(409, client_->Post("/crdt/graphs/g/edges", {{"from", "1"}, {"to", "1"}}));
  json g = Expect(200, client_->Get("/crdt/graphs/g"));
  EXPECT_EQ(g["vertices"].size(), 6u);
  EXPECT_EQ(g["edges"].size(), 8u);
  EXPECT_THAT(Expect(200, client_->Get("/crdt/graphs/g/vertices/1/neighbors"))["neighbors"],
              ElementsAre("2", "3"));
  EXPECT_EQ(Expect(200, client_->Get("/crdt/graphs/g/paths?from=1&to=6"))["paths"].size(), 4u);
  Expect(200, client_->Delete("/crdt/graphs/g/edges/5/6"));
  Expect(200, client_->Delete("/crdt/graphs/g/vertices/4"));
  g = Expect(200, client_->Get("/crdt/graphs/g"));
  EXPECT_EQ(g["edges"], json::array({json::array({"1", "2"}), json::array({"1", "3"}),
                                     json::array({"3", "2"})}));
  Expect(404, client_->Delete("/crdt/graphs/g/vertices/4"));
  Expect(404, client_->Get("/crdt/graphs/g/vertices/4/neighbors"));
  Expect(400, client_->Get("/crdt/graphs/g/paths?from=1"));
}

TEST_F(RestTest, PathsOverTheBudgetAre422AndTheNodeStaysResponsive) {
  // A complete graph of 13 vertices: about 10^8 simple paths between two of them.
  auto name = [](int i) { return std::string(i < 10 ? "v0" : "v") + std::to_string(i); };
  for (int i = 0; i < 13; ++i)
    Expect(200, client_->Post("/crdt/graphs/k/vertices", {{"vertex", name(i)}}));
  for (int i = 0; i < 13; ++i) {
    for (int j = 0; j < 13; ++j) {
      if (i != j)
        Expect(200, client_->Post("/crdt/graphs/k/edges", {{"from", name(i)}, {"to", name(j)}}));
    }
  }
  json error = Expect(422, client_->Get("/crdt/graphs/k/paths?from=v00&to=v12"));
  EXPECT_EQ(error["code"], "resource_exhausted");
  EXPECT_THAT(error.value("error", std::string()), HasSubstr("more than 1000 paths (max_paths)"));
  // No path at all, but every simple path from v00 to try: the step budget.
  Expect(200, client_->Post("/crdt/graphs/k/vertices", {{"vertex", "z"}}));
  Expect(200, client_->Post("/crdt/graphs/k/edges", {{"from", "z"}, {"to", "v00"}}));
  error = Expect(422, client_->Get("/crdt/graphs/k/paths?from=v00&to=z"));
  EXPECT_THAT(error.value("error", std::string()), HasSubstr("more than 100000 steps (max_steps)"));
  Expect(200, client_->Get("/healthz"));
  EXPECT_EQ(Expect(200, client_->Get("/crdt/graphs/k/paths?from=z&to=v00"))["paths"].size(), 1u);
}

TEST_F(RestTest, AnAddOfAHundredThousandElementsInOneRequest) {
  json elements = json::array();
  for (int i = 0; i < 100000; ++i) elements.push_back("e" + std::to_string(i * 7919 % 100000));
  Expect(200, client_->Post("/crdt/sets/big/add", {{"elements", elements}}));
  json set = Expect(200, client_->Get("/crdt/sets/big"));
  ASSERT_EQ(set["elements"].size(), 100000u);
  EXPECT_EQ(set["elements"][0], "e0");
}

TEST_F(RestTest, KeysStatusHealthAndConsistencyParameter) {
  Expect(200, client_->Post("/crdt/counters/user:1/increment", {{"value", 1}}));
  Expect(200, client_->Post("/crdt/counters/user:2/increment", {{"value", 1}}));
  Expect(200, client_->Post("/crdt/sets/user:3/add", {{"element", "x"}}));
  EXPECT_EQ(Expect(200, client_->Get("/crdt/keys?type=pn_counter&prefix=user:"))["keys"].size(),
            2u);
  EXPECT_EQ(Expect(200, client_->Get("/crdt/keys?prefix=user:&limit=1"))["keys"].size(), 1u);
  Expect(400, client_->Get("/crdt/keys?type=nope"));
  json status = Expect(200, client_->Get("/admin/status"));
  EXPECT_EQ(status["node_id"], "us-east-1");
  EXPECT_EQ(status["region"], "us-east");
  EXPECT_EQ(status["keys"]["pn_counter"], 2);
  Expect(200, client_->Get("/healthz"));
  Expect(200, client_->Get("/readyz"));
  Expect(200, client_->Get("/crdt/counters/user:1?consistency=all"));
  Expect(400, client_->Get("/crdt/counters/user:1?consistency=strong"));
  EXPECT_TRUE(Expect(200, client_->Get("/admin/replication/lag"))["peers"]
                  .empty());  // a node without peers
  EXPECT_TRUE(Expect(200, client_->Get("/admin/conflicts"))["conflicts"].empty());
  Expect(400, client_->Get("/admin/conflicts?limit=x"));
  Expect(400, client_->Get("/admin/conflicts?limit=0"));
  Expect(400, client_->Get("/admin/conflicts?limit=1001"));
  Expect(200, client_->Get("/admin/conflicts?limit=1000"));
  Expect(400, client_->Get("/crdt/keys?limit=0"));
  Expect(400, client_->Get("/crdt/keys?limit=99999999999"));
  // Anti-entropy needs peers.
  Expect(409, client_->Post("/admin/anti-entropy/full-sync", json::object()));
  Expect(403, client_->Request(http::verb::delete_, "/admin/faults"));  // fault injection is off
}

TEST_F(RestTest, SessionTokensAreIssuedAndHonored) {
  HttpResult r = client_->Post("/crdt/counters/s/increment", {{"value", 1}});
  ASSERT_TRUE(r.headers.count("X-Session-Token"));
  const std::string token = r.headers["X-Session-Token"];
  EXPECT_EQ(client_->Request(http::verb::get, "/crdt/counters/s", "", {{"X-Session-Token", token}})
                .status,
            200);
  EXPECT_EQ(
      client_->Request(http::verb::get, "/crdt/counters/s", "", {{"X-Session-Token", "garbage"}})
          .status,
      400);
}

TEST_F(RestTest, EveryBadInputIsAClearErrorAndChangesNothing) {
  Expect(200, client_->Post("/crdt/counters/c/increment", {{"value", 7}}));
  auto unchanged = [&] { EXPECT_EQ(Expect(200, client_->Get("/crdt/counters/c"))["value"], 7); };
  auto bad = [&](int status, const HttpResult& r, const char* code) {
    EXPECT_EQ(r.status, status) << r.body;
    EXPECT_EQ(r.json["code"], code) << r.body;
    EXPECT_FALSE(r.json["error"].get<std::string>().empty());
    unchanged();
  };
  bad(400, client_->Request(http::verb::post, "/crdt/counters/c/increment", "{not json"),
      "invalid_argument");
  bad(400, client_->Request(http::verb::post, "/crdt/counters/c/increment", "[1]"),
      "invalid_argument");
  bad(400, client_->Post("/crdt/counters/c/increment", json::object()),
      "invalid_argument");  // missing
  bad(400, client_->Post("/crdt/counters/c/increment", {{"value", "5"}}),
      "invalid_argument");  // wrong type
  bad(400, client_->Post("/crdt/counters/c/increment", {{"value", 1.5}}), "invalid_argument");
  bad(400, client_->Post("/crdt/counters/c/increment", {{"value", -3}}),
      "invalid_argument");  // negative
  bad(400,
      client_->Request(http::verb::post, "/crdt/counters/c/increment",
                       R"({"value": 18446744073709551615})"),
      "out_of_range");
  bad(400, client_->Post("/crdt/counters/c/increment", {{"value", INT64_MAX}}),
      "out_of_range");  // overflow
  bad(400, client_->Post("/crdt/counters/c", {{"type", "quantum_counter"}}),
      "invalid_argument");  // unknown type
  bad(400, client_->Post("/crdt/counters/c", {{"type", "or_set"}}),
      "invalid_argument");  // other family
  bad(409, client_->Post("/crdt/counters/c", {{"type", "g_counter"}}), "wrong_type");
  bad(404, client_->Get("/crdt/nothing/here"), "not_found");
  bad(405, client_->Request(http::verb::put, "/crdt/counters/c"), "method_not_allowed");
  bad(400, client_->Post("/crdt/sets/s/add", {{"element", 5}}), "invalid_argument");
  bad(400, client_->Post("/crdt/sets/s/add", {{"elements", json::array()}}), "invalid_argument");
  bad(400, client_->Post("/crdt/sets/s/add", {{"element", "a"}, {"elements", {"b"}}}),
      "invalid_argument");
  bad(400, client_->Get("/crdt/counters/bad%zz"), "invalid_argument");
  Expect(404, client_->Get("/crdt/sets/s"));
}

TEST(RestLimits, OverLimitKeyElementAndBodyAreRefused) {
  GeodsProcess node(
      {.extra_yaml = "limits: {max_key_bytes: 8, max_element_bytes: 4, max_request_bytes: 256}"});
  ASSERT_TRUE(node.Start()) << node.error();
  HttpClient client(node.http_port());
  EXPECT_EQ(client.Post("/crdt/counters/123456789/increment", {{"value", 1}}).status, 400);
  EXPECT_EQ(client.Post("/crdt/sets/s/add", {{"element", "12345"}}).status, 400);
  EXPECT_EQ(client.Post("/crdt/sets/s/add", {{"element", std::string(300, 'x')}}).status, 413);
  EXPECT_EQ(client.Get("/crdt/sets/s").status, 404);
  EXPECT_EQ(client.Post("/crdt/sets/s/add", {{"element", "1234"}}).status, 200);
}

TEST(RestLimits, AddsPastTheCollectionCapAre422AndChangeNothing) {
  GeodsProcess node({.extra_yaml = "limits: {max_collection_elements: 3}"});
  ASSERT_TRUE(node.Start()) << node.error();
  HttpClient client(node.http_port());
  EXPECT_EQ(client.Post("/crdt/sets/s/add", {{"elements", {"a", "b"}}}).status, 200);
  HttpResult over = client.Post("/crdt/sets/s/add", {{"elements", {"c", "d"}}});
  EXPECT_EQ(over.status, 422) << over.body;
  EXPECT_EQ(over.json["code"], "resource_exhausted");
  EXPECT_THAT(over.body, HasSubstr("limits.max_collection_elements (3)"));
  EXPECT_EQ(client.Get("/crdt/sets/s").json["elements"], json::array({"a", "b"}));
  EXPECT_EQ(client.Post("/crdt/sets/s/add", {{"element", "c"}}).status, 200);
  EXPECT_THAT(client.Get("/metrics").body,
              HasSubstr("geodatastore_rejected_payloads_total{reason=\"limit\"} 1"));
}

TEST_F(RestTest, AcknowledgedWritesSurviveARestart) {
  Expect(200, client_->Post("/crdt/counters/n/increment", {{"value", 41}}));
  Expect(200, client_->Post("/crdt/sets/s/add", {{"element", "kept"}}));
  EXPECT_EQ(node_->Stop(), 0);
  Restart();
  EXPECT_EQ(Expect(200, client_->Get("/crdt/counters/n"))["value"], 41);
  EXPECT_THAT(Expect(200, client_->Get("/crdt/sets/s"))["elements"], ElementsAre("kept"));
}

TEST_F(RestTest, AcknowledgedWritesSurviveKill9) {
  for (int i = 0; i < 200; ++i)
    Expect(200, client_->Post("/crdt/counters/k/increment", {{"value", 1}}));
  Expect(200, client_->Post("/crdt/registers/r", {{"value", "last"}}));
  node_->Kill9();
  Restart();
  EXPECT_EQ(Expect(200, client_->Get("/crdt/counters/k"))["value"], 200);
  EXPECT_THAT(Expect(200, client_->Get("/crdt/registers/r"))["values"], ElementsAre("last"));
}

TEST_F(RestTest, AThousandConcurrentClientsLoseNoIncrement) {
  std::vector<std::thread> clients;
  std::atomic<int> failures{0};
  for (int i = 0; i < 1000; ++i) {
    clients.emplace_back([&] {
      HttpClient c(node_->http_port());
      for (int j = 0; j < 10; ++j) {
        if (c.Post("/crdt/counters/hot/increment", {{"value", 1}}).status != 200) ++failures;
      }
    });
  }
  for (auto& t : clients) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(Expect(200, client_->Get("/crdt/counters/hot"))["value"], 10000);
}

TEST_F(RestTest, MetricsPassPromtool) {
  Expect(200, client_->Post("/crdt/counters/m/increment", {{"value", 1}}));
  Expect(200, client_->Get("/crdt/counters/m"));
  HttpResult metrics = client_->Get("/metrics");
  ASSERT_EQ(metrics.status, 200);
  EXPECT_THAT(metrics.body, HasSubstr("geodatastore_operations_total{op=\"increment\",region=\"us-"
                                      "east\",type=\"pn_counter\"} 1"));
  EXPECT_THAT(metrics.body, HasSubstr("geodatastore_keys{type=\"pn_counter\"} 1"));
  EXPECT_THAT(metrics.body, HasSubstr("geodatastore_operation_duration_seconds_bucket"));
  EXPECT_THAT(metrics.body, HasSubstr("geodatastore_storage_pending_compaction_bytes"));
  const std::string file = node_->data_dir() + "/../metrics.txt";
  FILE* f = fopen(file.c_str(), "w");
  fwrite(metrics.body.data(), 1, metrics.body.size(), f);
  fclose(f);
  std::string output;
  EXPECT_EQ(RunCommand("promtool check metrics < " + file, &output), 0) << output;
}

TEST_F(RestTest, SigtermExitsCleanly) { EXPECT_EQ(node_->Stop(), 0); }

TEST(GeodsConfig, ABadConfigStopsTheNodeWithOneLineNamingTheKey) {
  GeodsProcess node({.extra_yaml = "replication: {topology: star}"});
  EXPECT_FALSE(node.Start());
  EXPECT_THAT(node.error(), HasSubstr("replication.topology: 'star' is not one of mesh, gateway"));
}

}  // namespace
}  // namespace geodatastore::testing
