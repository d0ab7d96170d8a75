// The gRPC API and geoctl against a real geods process; checkpoint and restore.
#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <atomic>
#include <nlohmann/json.hpp>
#include <thread>

#include "geodatastore/v1/api.grpc.pb.h"
#include "support/geods_process.h"

namespace geodatastore::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
namespace v1 = geodatastore::v1;

class GrpcTest : public ::testing::Test {
 protected:
  explicit GrpcTest(std::string extra_yaml = "") : node_({.extra_yaml = std::move(extra_yaml)}) {}

  void SetUp() override {
    ASSERT_TRUE(node_.Start()) << node_.error();
    channel_ = grpc::CreateChannel(node_.grpc_address(), grpc::InsecureChannelCredentials());
    crdt_ = v1::CRDTService::NewStub(channel_);
    admin_ = v1::AdminService::NewStub(channel_);
  }

  template <typename Request, typename Reply, typename Method>
  grpc::Status Call(Method method, const Request& request, Reply* reply) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    return ((*crdt_).*method)(&context, request, reply);
  }

  v1::ObjectValue Increment(const std::string& name, uint64_t amount,
                            grpc::StatusCode expect = grpc::StatusCode::OK) {
    v1::CounterUpdate r;
    r.set_name(name);
    r.set_amount(amount);
    v1::ObjectValue out;
    EXPECT_EQ(Call(&v1::CRDTService::Stub::IncrementCounter, r, &out).error_code(), expect);
    return out;
  }

  // Runs geoctl against the node; returns its exit code and output.
  int Geoctl(const std::string& args, std::string* output) {
    return RunCommand(std::string(GDS_GEOCTL_PATH) + " --addr " + node_.grpc_address() + " " + args,
                      output);
  }

  GeodsProcess node_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::CRDTService::Stub> crdt_;
  std::unique_ptr<v1::AdminService::Stub> admin_;
};

TEST_F(GrpcTest, EveryDataCall) {
  EXPECT_EQ(Increment("c", 5).counter_value(), 5);
  v1::CounterUpdate dec;
  dec.set_name("c");
  dec.set_amount(2);
  v1::ObjectValue out;
  ASSERT_TRUE(Call(&v1::CRDTService::Stub::DecrementCounter, dec, &out).ok());
  EXPECT_EQ(out.counter_value(), 3);
  v1::GetRequest get;
  get.set_name("c");
  ASSERT_TRUE(Call(&v1::CRDTService::Stub::GetCounter, get, &out).ok());
  EXPECT_EQ(out.type(), v1::PN_COUNTER);

  v1::SetUpdate add;
  add.set_name("s");
  add.add_elements("b");
  add.add_elements("a");
  ASSERT_TRUE(Call(&v1::CRDTService::Stub::AddToSet, add, &out).ok());
  EXPECT_THAT(out.elements(), ElementsAre("a", "b"));

  v1::RegisterWrite w;
  w.set_name("r");
  w.set_value("v");
  w.set_timestamp(1000);
  ASSERT_TRUE(Call(&v1::CRDTService::Stub::SetRegister, w, &out).ok());
  EXPECT_THAT(out.values(), ElementsAre("v"));

  for (const char* v : {"a", "b"}) {
    v1::VertexRequest vr;
    vr.set_name("g");
    vr.set_vertex(v);
    ASSERT_TRUE(Call(&v1::CRDTService::Stub::AddVertex, vr, &out).ok());
  }
  v1::EdgeRequest e;
  e.set_name("g");
  e.set_from("a");
  e.set_to("b");
  ASSERT_TRUE(Call(&v1::CRDTService::Stub::AddEdge, e, &out).ok());
  EXPECT_EQ(out.edges_size(), 1);
  e.set_to("a");
  EXPECT_EQ(Call(&v1::CRDTService::Stub::AddEdge, e, &out).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  v1::PathsRequest p;
  p.set_name("g");
  p.set_from("a");
  p.set_to("b");
  v1::PathsReply paths;
  ASSERT_TRUE(Call(&v1::CRDTService::Stub::GetPaths, p, &paths).ok());
  ASSERT_EQ(paths.paths_size(), 1);

  v1::ListKeysReply keys;
  ASSERT_TRUE(Call(&v1::CRDTService::Stub::ListKeys, v1::ListKeysRequest(), &keys).ok());
  EXPECT_EQ(keys.keys_size(), 4);
}

TEST_F(GrpcTest, ErrorsMapToGrpcCodesAndChangeNothing) {
  Increment("c", 1);
  Increment("c", UINT64_MAX, grpc::StatusCode::OUT_OF_RANGE);
  v1::CreateRequest create;
  create.set_name("c");
  create.set_type(v1::G_COUNTER);
  v1::ObjectValue out;
  EXPECT_EQ(Call(&v1::CRDTService::Stub::CreateObject, create, &out).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  v1::GetRequest get;
  get.set_name("nope");
  EXPECT_EQ(Call(&v1::CRDTService::Stub::GetSet, get, &out).error_code(),
            grpc::StatusCode::NOT_FOUND);
  v1::SetUpdate empty;
  empty.set_name("s");
  EXPECT_EQ(Call(&v1::CRDTService::Stub::AddToSet, empty, &out).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  get.set_name("c");
  ASSERT_TRUE(Call(&v1::CRDTService::Stub::GetCounter, get, &out).ok());
  EXPECT_EQ(out.counter_value(), 1);
}

class GrpcLimitsTest : public GrpcTest {
 protected:
  GrpcLimitsTest() : GrpcTest("limits: {max_collection_elements: 6, max_paths: 1}") {}
};

TEST_F(GrpcLimitsTest, OverTheCapOrThePathBudgetIsResourceExhaustedAndChangesNothing) {
  v1::SetUpdate add;
  add.set_name("s");
  for (const char* e : {"a", "b", "c", "d", "e"}) add.add_elements(e);
  v1::ObjectValue out;
  ASSERT_TRUE(Call(&v1::CRDTService::Stub::AddToSet, add, &out).ok());
  add.clear_elements();
  add.add_elements("f");
  add.add_elements("g");
  grpc::Status over = Call(&v1::CRDTService::Stub::AddToSet, add, &out);
  EXPECT_EQ(over.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(over.error_message(), HasSubstr("limits.max_collection_elements (6)"));
  v1::GetRequest get;
  get.set_name("s");
  ASSERT_TRUE(Call(&v1::CRDTService::Stub::GetSet, get, &out).ok());
  EXPECT_THAT(out.elements(), ElementsAre("a", "b", "c", "d", "e"));

  // Two paths from a to c: over a budget of one, unless the request asks for one.
  for (const char* v : {"a", "b", "c"}) {
    v1::VertexRequest r;
    r.set_name("g");
    r.set_vertex(v);
    ASSERT_TRUE(Call(&v1::CRDTService::Stub::AddVertex, r, &out).ok());
  }
  for (auto [from, to] : {std::pair{"a", "b"}, std::pair{"b", "c"}, std::pair{"a", "c"}}) {
    v1::EdgeRequest r;
    r.set_name("g");
    r.set_from(from);
    r.set_to(to);
    ASSERT_TRUE(Call(&v1::CRDTService::Stub::AddEdge, r, &out).ok());
  }
  v1::PathsRequest paths;
  paths.set_name("g");
  paths.set_from("a");
  paths.set_to("c");
  v1::PathsReply reply;
  grpc::Status budget = Call(&v1::CRDTService::Stub::GetPaths, paths, &reply);
  EXPECT_EQ(budget.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(budget.error_message(), HasSubstr("more than 1 paths (max_paths)"));
  paths.set_max_paths(1);
  ASSERT_TRUE(Call(&v1::CRDTService::Stub::GetPaths, paths, &reply).ok());
  EXPECT_EQ(reply.paths_size(), 1);
}

TEST_F(GrpcTest, BatchesAndStreamsApplyEveryOperation) {
  v1::BatchRequest batch;
  batch.set_return_values(true);
  for (int i = 0; i < 100; ++i) {
    v1::CounterUpdate* inc = batch.add_operations()->mutable_increment();
    inc->set_name("b" + std::to_string(i % 10));
    inc->set_amount(1);
  }
  batch.add_operations()->mutable_decrement()->set_name("");  // invalid: empty name
  v1::BatchReply reply;
  ASSERT_TRUE(Call(&v1::CRDTService::Stub::ApplyBatch, batch, &reply).ok());
  ASSERT_EQ(reply.results_size(), 101);
  EXPECT_EQ(reply.results(99).code(), 0u);
  EXPECT_EQ(reply.results(99).value().counter_value(), 10);
  EXPECT_EQ(reply.results(100).code(), static_cast<uint32_t>(grpc::StatusCode::INVALID_ARGUMENT));

  grpc::ClientContext context;
  auto stream = crdt_->StreamBatches(&context);
  batch.mutable_operations()->RemoveLast();
  batch.set_return_values(false);
  for (int round = 0; round < 5; ++round) {
    ASSERT_TRUE(stream->Write(batch));
    ASSERT_TRUE(stream->Read(&reply));
    EXPECT_EQ(reply.results_size(), 100);
  }
  stream->WritesDone();
  EXPECT_TRUE(stream->Finish().ok());
  EXPECT_EQ(Increment("b3", 0).counter_value(), 60);
}

TEST_F(GrpcTest, SessionTokenTravelsInMetadata) {
  grpc::ClientContext context;
  v1::CounterUpdate r;
  r.set_name("t");
  r.set_amount(1);
  v1::ObjectValue out;
  ASSERT_TRUE(crdt_->IncrementCounter(&context, r, &out).ok());
  auto token = context.GetServerInitialMetadata().find("x-session-token");
  ASSERT_NE(token, context.GetServerInitialMetadata().end());
  grpc::ClientContext bad;
  bad.AddMetadata("x-session-token", "not a token");
  EXPECT_EQ(crdt_->IncrementCounter(&bad, r, &out).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  grpc::ClientContext level;
  level.AddMetadata("x-consistency", "sometimes");
  EXPECT_EQ(crdt_->IncrementCounter(&level, r, &out).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(GrpcTest, AThousandConcurrentClientsLoseNoIncrement) {
  std::vector<std::thread> clients;
  std::atomic<int> failures{0};
  for (int i = 0; i < 1000; ++i) {
    clients.emplace_back([&] {
      auto stub = v1::CRDTService::NewStub(channel_);
      for (int j = 0; j < 10; ++j) {
        grpc::ClientContext context;
        context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
        v1::CounterUpdate r;
        r.set_name("hot");
        r.set_amount(1);
        v1::ObjectValue out;
        if (!stub->IncrementCounter(&context, r, &out).ok()) ++failures;
      }
    });
  }
  for (auto& t : clients) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(Increment("hot", 0).counter_value(), 10000);
}

TEST_F(GrpcTest, GeoctlCoversDataAndAdminWithClearExitCodes) {
  std::string out;
  ASSERT_EQ(Geoctl("counter inc visits 3", &out), 0) << out;
  EXPECT_THAT(out, HasSubstr("visits (pn_counter) = 3"));
  ASSERT_EQ(Geoctl("--json counter get visits", &out), 0) << out;
  EXPECT_EQ(nlohmann::json::parse(out)["value"], 3);
  ASSERT_EQ(Geoctl("set add tags red blue", &out), 0) << out;
  EXPECT_THAT(out, HasSubstr("{blue, red}"));
  ASSERT_EQ(Geoctl("register set greeting hello", &out), 0) << out;
  ASSERT_EQ(Geoctl("graph add-vertex g a", &out), 0) << out;
  ASSERT_EQ(Geoctl("graph add-vertex g b", &out), 0) << out;
  ASSERT_EQ(Geoctl("graph add-edge g a b", &out), 0) << out;
  ASSERT_EQ(Geoctl("--json graph paths g a b", &out), 0) << out;
  EXPECT_EQ(nlohmann::json::parse(out)["paths"].size(), 1u);
  ASSERT_EQ(Geoctl("--json keys", &out), 0) << out;
  EXPECT_EQ(nlohmann::json::parse(out)["keys"].size(), 4u);
  ASSERT_EQ(Geoctl("--json admin status", &out), 0) << out;
  EXPECT_EQ(nlohmann::json::parse(out)["node_id"], "us-east-1");

  EXPECT_EQ(Geoctl("counter get missing", &out), 1);
  EXPECT_THAT(out, HasSubstr("not_found"));
  EXPECT_EQ(Geoctl("graph add-edge g a a", &out), 1);
  EXPECT_EQ(Geoctl("counter", &out), 2);
  EXPECT_EQ(RunCommand(std::string(GDS_GEOCTL_PATH) +
                           " --addr 127.0.0.1:1 --timeout-ms 2000 counter get x",
                       &out),
            3);
  EXPECT_THAT(out, HasSubstr("cannot reach"));
}

TEST(Checkpoint, ARestoredNodeHasTheDataAndANewReplicaEpoch) {
  TempDir snapshots;
  const std::string snap = snapshots.Sub("snap");
  nlohmann::json before;
  {
    // Checkpoints go below the backup directory only.
    GeodsProcess node({.extra_yaml = "security: {backup_dir: " + snapshots.path() + "}\n"});
    ASSERT_TRUE(node.Start()) << node.error();
    std::string out;
    const std::string geoctl =
        std::string(GDS_GEOCTL_PATH) + " --addr " + node.grpc_address() + " ";
    ASSERT_EQ(RunCommand(geoctl + "set add s x y", &out), 0) << out;
    EXPECT_EQ(RunCommand(geoctl + "admin checkpoint /tmp/gds-not-a-backup-dir", &out), 1) << out;
    ASSERT_EQ(RunCommand(geoctl + "admin checkpoint snap", &out), 0) << out;
    ASSERT_EQ(RunCommand(geoctl + "--json admin status", &out), 0) << out;
    before = nlohmann::json::parse(out);
    EXPECT_EQ(RunCommand(geoctl + "admin checkpoint snap", &out), 1);  // exists already
    EXPECT_EQ(node.Stop(), 0);
  }
  GeodsProcess restored({.data_dir = snap});
  ASSERT_TRUE(restored.Start()) << restored.error();
  std::string out;
  const std::string geoctl =
      std::string(GDS_GEOCTL_PATH) + " --addr " + restored.grpc_address() + " ";
  ASSERT_EQ(RunCommand(geoctl + "--json set get s", &out), 0) << out;
  EXPECT_EQ(nlohmann::json::parse(out)["elements"], nlohmann::json::array({"x", "y"}));
  ASSERT_EQ(RunCommand(geoctl + "--json admin status", &out), 0) << out;
  const nlohmann::json after = nlohmann::json::parse(out);
  EXPECT_GT(after["replica_epoch"].get<uint64_t>(), before["replica_epoch"].get<uint64_t>());
  EXPECT_NE(after["replica_id"], before["replica_id"]);
  // The new replica's adds carry new dots: a remove on the restored node still works.
  ASSERT_EQ(RunCommand(geoctl + "set add s z", &out), 0) << out;
  ASSERT_EQ(RunCommand(geoctl + "--json set remove s x", &out), 0) << out;
  EXPECT_EQ(nlohmann::json::parse(out)["elements"], nlohmann::json::array({"y", "z"}));
}

}  // namespace
}  // namespace geodatastore::testing
