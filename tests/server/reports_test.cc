// The admin reports (src/server/reports.h) are built once: REST, gRPC and geoctl must say
// the same of the same node. Two real geods processes in two regions replicate; their status,
// lag and full-sync reports are read over REST and over gRPC and compared field by field —
// fields that once only REST had included (acked_seq, state_for_seconds, last_anti_entropy,
// memtable_bytes, tombstones, the lag's node_id).
#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <functional>
#include <nlohmann/json.hpp>
#include <thread>

#include "cli/http_client.h"
#include "crdt/clock.h"
#include "crdt/codec.h"
#include "geodatastore/v1/api.grpc.pb.h"
#include "support/geods_process.h"

namespace geodatastore::testing {
namespace {

using client::HttpClient;
using json = nlohmann::json;
namespace v1 = geodatastore::v1;

class ReportsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::pair<std::string, std::string> layout[] = {{"us-east-1", "us-east"},
                                                          {"eu-west-1", "eu-west"}};
    const uint16_t ports[] = {FreePort(), FreePort()};
    for (int i = 0; i < 2; ++i) {
      const int j = 1 - i;
      nodes_[i] = std::make_unique<GeodsProcess>(GeodsProcess::Options{
          .node_id = layout[i].first,
          .region = layout[i].second,
          .extra_yaml = "cluster:\n  name: reports\n  peers:\n    - {id: " + layout[j].first +
                        ", region: " + layout[j].second +
                        ", grpc: \"127.0.0.1:" + std::to_string(ports[j]) + "\"}\n" +
                        "anti_entropy: {interval_s: 3600, tombstone_interval_s: 3600}\n",
          .peer_port = ports[i]});
    }
    for (auto& n : nodes_) ASSERT_TRUE(n->Start()) << n->error();
    rest_ = std::make_unique<HttpClient>(nodes_[0]->http_port());
    admin_ = v1::AdminService::NewStub(
        grpc::CreateChannel(nodes_[0]->grpc_address(), grpc::InsecureChannelCredentials()));
    // A write the peer has applied and acknowledged: the reports stay still while read.
    ASSERT_EQ(rest_->Post("/crdt/counters/visits/increment", {{"value", 2}}).status, 200);
    Eventually(
        [&] {
          const json lag = rest_->Get("/admin/replication/lag").json;
          return lag["peers"].size() == 1 && lag["peers"][0]["state"] == "up" &&
                 lag["peers"][0]["ops_behind"] == 0;
        },
        "the peer up and caught up");
  }

  void Eventually(const std::function<bool()>& pred, const std::string& what) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (std::chrono::steady_clock::now() < deadline) {
      if (pred()) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    FAIL() << "not within 30 s: " << what;
  }

  template <typename Request, typename Reply, typename Method>
  grpc::Status Admin(Method method, const Request& request, Reply* reply) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    return ((*admin_).*method)(&context, request, reply);
  }

  std::unique_ptr<GeodsProcess> nodes_[2];
  std::unique_ptr<HttpClient> rest_;
  std::unique_ptr<v1::AdminService::Stub> admin_;
};

// Every field of one peer's status, as REST and gRPC report it.
void ExpectSamePeer(const json& rest, const v1::PeerStatus& grpc) {
  EXPECT_EQ(rest["id"], grpc.id());
  EXPECT_EQ(rest["region"], grpc.region());
  EXPECT_EQ(rest["grpc"], grpc.address());
  EXPECT_EQ(rest["state"], "up");  // a connected peer, on both sides
  EXPECT_EQ(grpc.state(), "up");
  ASSERT_TRUE(rest.contains("acked_seq"));
  ASSERT_TRUE(grpc.has_acked_seq()) << "gRPC does not report acked_seq";
  EXPECT_EQ(rest["acked_seq"], grpc.acked_seq());
  EXPECT_GE(grpc.acked_seq(), 1u);
  ASSERT_TRUE(rest.contains("state_for_seconds"));
  EXPECT_TRUE(grpc.has_state_for_seconds()) << "gRPC does not report state_for_seconds";
  EXPECT_EQ(rest.value("via", ""), grpc.via());
  ASSERT_TRUE(rest.contains("last_anti_entropy"));
  ASSERT_TRUE(grpc.has_last_anti_entropy()) << "gRPC does not report last_anti_entropy";
  EXPECT_EQ(rest["last_anti_entropy"]["result"], "ok");
  EXPECT_EQ(rest["last_anti_entropy"]["result"], grpc.last_anti_entropy().result());
  EXPECT_EQ(rest["last_anti_entropy"]["keys_repaired"], grpc.last_anti_entropy().keys_repaired());
  EXPECT_EQ(rest["last_anti_entropy"]["seconds"], grpc.last_anti_entropy().seconds());
}

TEST_F(ReportsTest, RestAndGrpcReportTheSameStatus) {
  ASSERT_EQ(rest_->Post("/admin/anti-entropy/full-sync", json::object()).status, 200);
  const json rest = rest_->Get("/admin/status").json;
  v1::StatusReply grpc;
  ASSERT_TRUE(Admin(&v1::AdminService::Stub::GetStatus, v1::StatusRequest(), &grpc).ok());

  EXPECT_EQ(rest["node_id"], "us-east-1");
  EXPECT_EQ(rest["node_id"], grpc.node_id());
  EXPECT_EQ(rest["region"], grpc.region());
  EXPECT_EQ(rest["cluster"], grpc.cluster());
  EXPECT_EQ(rest["replica_id"], crdt::ReplicaIdHex(grpc.replica_id()));
  EXPECT_EQ(rest["replica_epoch"], grpc.replica_epoch());
  ASSERT_EQ(rest["peers"].size(), 1u);
  ASSERT_EQ(grpc.peers_size(), 1);
  ExpectSamePeer(rest["peers"][0], grpc.peers(0));

  ASSERT_EQ(rest["keys"].size(), static_cast<size_t>(grpc.keys_size()));
  for (const v1::TypeCount& k : grpc.keys())
    EXPECT_EQ(rest["keys"][std::string(crdt::TypeName(k.type()))], k.keys());
  EXPECT_EQ(rest["keys"]["pn_counter"], 1);
  ASSERT_EQ(rest["applied"].size(), static_cast<size_t>(grpc.applied().entries_size()));
  for (const v1::Dot& e : grpc.applied().entries())
    EXPECT_EQ(rest["applied"][crdt::ReplicaIdHex(e.replica())], e.counter());

  ASSERT_TRUE(grpc.has_tombstones()) << "gRPC does not report tombstone collection";
  EXPECT_EQ(rest["tombstones"]["collection"], grpc.tombstones().collection());
  EXPECT_EQ(rest["tombstones"]["rounds"], grpc.tombstones().rounds());
  EXPECT_TRUE(grpc.tombstones().has_rounds());
  EXPECT_EQ(rest["storage"]["live_sst_bytes"], grpc.live_sst_bytes());
  EXPECT_GT(rest["storage"]["memtable_bytes"].get<uint64_t>(), 0u);
  EXPECT_GT(grpc.memtable_bytes(), 0u) << "gRPC does not report memtable_bytes";
}

TEST_F(ReportsTest, RestAndGrpcReportTheSameLag) {
  const json rest = rest_->Get("/admin/replication/lag").json;
  v1::LagReply grpc;
  ASSERT_TRUE(Admin(&v1::AdminService::Stub::GetReplicationLag, v1::LagRequest(), &grpc).ok());
  EXPECT_EQ(rest["node_id"], "us-east-1");
  EXPECT_EQ(rest["node_id"], grpc.node_id());
  EXPECT_EQ(rest["committed_seq"], grpc.committed_seq());
  ASSERT_EQ(rest["peers"].size(), 1u);
  ASSERT_EQ(grpc.peers_size(), 1);
  const json& r = rest["peers"][0];
  const v1::PeerLag& g = grpc.peers(0);
  EXPECT_EQ(r["peer"], "eu-west-1");
  EXPECT_EQ(r["peer"], g.peer());
  EXPECT_EQ(r["region"], g.region());
  EXPECT_EQ(r["state"], "up");
  EXPECT_EQ(r["state"], g.state());
  EXPECT_EQ(r["acked_seq"], g.acked_seq());
  EXPECT_EQ(r["ops_behind"], g.ops_behind());
  EXPECT_EQ(r["via"], g.via());
}

TEST_F(ReportsTest, RestAndGrpcAnswerFullSyncAlike) {
  const client::HttpResult rest = rest_->Post("/admin/anti-entropy/full-sync", json::object());
  ASSERT_EQ(rest.status, 200);
  v1::FullSyncReply grpc;
  ASSERT_TRUE(Admin(&v1::AdminService::Stub::FullSync, v1::FullSyncRequest(), &grpc).ok());
  ASSERT_EQ(rest.json["peers"].size(), 1u);
  ASSERT_EQ(grpc.peers_size(), 1);
  EXPECT_EQ(rest.json["peers"][0]["peer"], grpc.peers(0).peer());
  EXPECT_EQ(rest.json["peers"][0]["result"], "ok");
  EXPECT_EQ(rest.json["peers"][0]["result"], grpc.peers(0).result());
  EXPECT_FALSE(rest.json["peers"][0].contains("error"));  // only when there is one
  EXPECT_EQ(rest.json["keys_repaired"], 0);               // in sync already: nothing to repair
  EXPECT_EQ(grpc.keys_repaired(), 0u);

  // A region without peers: 404 and NOT_FOUND.
  EXPECT_EQ(rest_->Post("/admin/sync/regions/mars", json::object()).status, 404);
  v1::FullSyncRequest mars;
  mars.set_region("mars");
  EXPECT_EQ(Admin(&v1::AdminService::Stub::FullSync, mars, &grpc).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

// geoctl --json prints what the REST route answers.
TEST_F(ReportsTest, GeoctlPrintsTheReportsAsRestAnswersThem) {
  const std::string geoctl =
      std::string(GDS_GEOCTL_PATH) + " --json --addr " + nodes_[0]->grpc_address() + " ";
  std::string out;
  ASSERT_EQ(RunCommand(geoctl + "admin status", &out), 0) << out;
  json printed = json::parse(out);
  json rest = rest_->Get("/admin/status").json;
  for (const char* volatile_field : {"uptime_seconds", "storage"}) {
    printed.erase(volatile_field);
    rest.erase(volatile_field);
  }
  for (json* status : {&printed, &rest}) {
    for (json& p : (*status)["peers"]) {
      p.erase("state_for_seconds");
      if (p.contains("last_anti_entropy")) p["last_anti_entropy"].erase("seconds_ago");
    }
  }
  EXPECT_EQ(printed["peers"][0]["state"], "up");
  EXPECT_EQ(printed, rest);

  ASSERT_EQ(RunCommand(geoctl + "admin lag", &out), 0) << out;
  printed = json::parse(out);
  rest = rest_->Get("/admin/replication/lag").json;
  for (json* lag : {&printed, &rest}) {
    for (json& p : (*lag)["peers"]) {
      for (const char* f : {"seconds_behind", "bytes_sent", "bytes_received"}) p.erase(f);
    }
  }
  EXPECT_EQ(printed, rest);
}

}  // namespace
}  // namespace geodatastore::testing
