// Security of real geods processes (API.md, "Security"), tried as an attacker would, with
// the real clients: node-to-node mutual TLS (no certificate, self-signed, another CA,
// expired, a client's certificate, one node's certificate speaking as another), client TLS
// and users on REST (curl --cacert), RESP (redis-cli --tls --user --pass) and gRPC, roles on
// data and admin routes, Checkpoint confined to the backup directory, connection caps, idle
// timeouts, refusals counted, certificate rotation without a restart.
#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include "antientropy/message_checksum.h"
#include "cli/http_client.h"
#include "geodatastore/v1/antientropy.grpc.pb.h"
#include "geodatastore/v1/api.grpc.pb.h"
#include "geodatastore/v1/replication.grpc.pb.h"
#include "server/peer_tls.h"
#include "support/geods_process.h"
#include "support/redis_cli.h"

namespace geodatastore::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// A TCP connection to 127.0.0.1:port whose reads time out after 5 s.
int ConnectLoopback(uint16_t port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  return fd;
}

std::string HashOf(const std::string& password) {
  std::string out;
  EXPECT_EQ(RunCommand("echo '" + password + "' | " + GDS_GEODS_PATH + " hash-password", &out), 0)
      << out;
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

// Users admin, writer and reader; each one's password is its name reversed.
std::string WriteUsers(const std::string& path) {
  std::ofstream f(path);
  f << "users:\n"
    << "  - {name: admin, password_hash: \"" << HashOf("nimda") << "\", roles: [admin]}\n"
    << "  - {name: writer, password_hash: \"" << HashOf("retirw") << "\", roles: [write]}\n"
    << "  - {name: reader, password_hash: \"" << HashOf("redaer") << "\", roles: [read]}\n";
  return path;
}

grpc::StatusCode FetchState(const std::shared_ptr<grpc::Channel>& channel) {
  auto stub = v1::ReplicationService::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  v1::FetchStateRequest request;
  request.set_family(v1::COUNTERS);
  request.set_name("c");
  v1::FetchStateReply reply;
  return stub->FetchState(&context, request, &reply).error_code();
}

// Opens a StreamDeltas stream, sends one heartbeat from `from`, and returns how the server
// ended the stream.
grpc::Status SpeakAs(const std::shared_ptr<grpc::Channel>& channel, const std::string& from) {
  auto stub = v1::ReplicationService::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  auto stream = stub->StreamDeltas(&context);
  v1::ReplicationMessage m;
  m.set_from(from);
  m.mutable_heartbeat()->set_wall_time_ms(1);
  stream->Write(m);
  stream->WritesDone();
  v1::ReplicationMessage ignored;
  while (stream->Read(&ignored)) {
  }
  return stream->Finish();
}

grpc::StatusCode SyncAs(const std::shared_ptr<grpc::Channel>& channel, const std::string& from) {
  auto stub = v1::AntiEntropyService::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  v1::SyncRequest request;
  request.set_from(from);
  request.mutable_nodes();
  antientropy::Seal(&request);  // an intact request: only who sends it is wrong
  v1::SyncReply reply;
  return stub->Sync(&context, request, &reply).error_code();
}

TEST_F(PeerTlsTest, NodesReplicateOverMutualTls) {
  EXPECT_TRUE(ReplicatesToB("c", 5)) << b_->Log();
  EXPECT_THAT(a_->Log(), HasSubstr("peers mutual TLS"));
}

TEST_F(PeerTlsTest, OnlyAVerifiedPeerCertificateOpensTheNodeToNodeServices) {
  ASSERT_TRUE(pki_.Issue("alice", "alice")) << pki_.error();
  ASSERT_TRUE(pki_.SelfSigned("self-signed", "eu-west-1")) << pki_.error();
  ASSERT_TRUE(pki_.IssueRogue("rogue", "eu-west-1")) << pki_.error();
  ASSERT_TRUE(pki_.Issue("expired", "eu-west-1", -1)) << pki_.error();
  const uint16_t port = a_->peer_port();
  ASSERT_NE(port, 0);
  // Plaintext to the TLS port; TLS without a certificate; untrusted or expired certificates:
  // the handshake fails.
  EXPECT_EQ(FetchState(Channel(port, grpc::InsecureChannelCredentials())),
            grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(FetchState(Channel(port, TlsCredentials(pki_), "us-east-1")),
            grpc::StatusCode::UNAVAILABLE);
  for (const char* bad : {"self-signed", "rogue", "expired"}) {
    EXPECT_EQ(FetchState(Channel(port, TlsCredentials(pki_, bad), "us-east-1")),
              grpc::StatusCode::UNAVAILABLE)
        << bad;
  }
  // A certificate the CA signed, but not a configured peer's.
  auto alice = Channel(port, TlsCredentials(pki_, "alice"), "us-east-1");
  EXPECT_EQ(FetchState(alice), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(SpeakAs(alice, "alice").error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(SyncAs(alice, "eu-west-1"), grpc::StatusCode::PERMISSION_DENIED);
  // A peer's certificate may speak only as that peer.
  auto eu = Channel(port, TlsCredentials(pki_, "eu-west-1"), "us-east-1");
  EXPECT_EQ(FetchState(eu), grpc::StatusCode::OK);
  EXPECT_EQ(SyncAs(eu, "eu-west-1"), grpc::StatusCode::OK);
  EXPECT_EQ(SyncAs(eu, "ap-south-1"), grpc::StatusCode::PERMISSION_DENIED);
  const grpc::Status spoofed = SpeakAs(eu, "ap-south-1");
  EXPECT_EQ(spoofed.error_code(), grpc::StatusCode::PERMISSION_DENIED) << spoofed.error_message();
  const std::string metrics =
      Curl("http://127.0.0.1:" + std::to_string(a_->http_port()) + "/metrics");
  EXPECT_THAT(metrics,
              HasSubstr("geodatastore_rejected_payloads_total{reason=\"spoofed_sender\"} 2"));
  EXPECT_THAT(metrics,
              HasSubstr("geodatastore_rejected_payloads_total{reason=\"unknown_peer\"} 3"));
  // The client listener does not host the node-to-node services at all.
  EXPECT_EQ(FetchState(Channel(a_->grpc_port(), grpc::InsecureChannelCredentials())),
            grpc::StatusCode::UNIMPLEMENTED);
  // A node checks that the peer it dials is the one it meant: a certificate naming another
  // node is refused for this target name.
  EXPECT_EQ(FetchState(Channel(port, TlsCredentials(pki_, "eu-west-1"), "ap-south-1")),
            grpc::StatusCode::UNAVAILABLE);
}

TEST_F(PeerTlsTest, APeerIsTheNodeItsCertificatesSubjectAlternativeNameNames) {
  // Common name eu-west-1, SAN ap-south-1: the certificate speaks as ap-south-1 only.
  ASSERT_TRUE(pki_.Issue("cn-eu-san-ap", "eu-west-1", 30, "ap-south-1")) << pki_.error();
  auto mixed = Channel(a_->peer_port(), TlsCredentials(pki_, "cn-eu-san-ap"), "us-east-1");
  EXPECT_EQ(SyncAs(mixed, "eu-west-1"), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(SyncAs(mixed, "ap-south-1"), grpc::StatusCode::OK);
  // A common name without a subject alternative name names no node.
  ASSERT_TRUE(pki_.Issue("cn-only", "eu-west-1", 30, "-")) << pki_.error();
  auto cn_only = Channel(a_->peer_port(), TlsCredentials(pki_, "cn-only"), "us-east-1");
  EXPECT_EQ(SyncAs(cn_only, "eu-west-1"), grpc::StatusCode::UNAUTHENTICATED);
  const std::string metrics =
      Curl("http://127.0.0.1:" + std::to_string(a_->http_port()) + "/metrics");
  EXPECT_THAT(metrics,
              HasSubstr("geodatastore_rejected_payloads_total{reason=\"spoofed_sender\"} 1"));
  EXPECT_THAT(metrics,
              HasSubstr("geodatastore_rejected_payloads_total{reason=\"unauthenticated_peer\"} 1"));
  // Nor does a node start with a certificate whose SAN names another node.
  GeodsProcess c(
      GeodsProcess::Options{.node_id = "us-east-1",
                            .region = "us-east",
                            .extra_yaml = "security:\n" + pki_.TlsYaml("cn-eu-san-ap", false),
                            .peer_port = FreePort()});
  EXPECT_FALSE(c.Start());
  EXPECT_THAT(c.Log(), HasSubstr("must name this node's id 'us-east-1'"));
}

TEST_F(PeerTlsTest, ACertificateRenewedOnDiskIsUsedWithoutARestart) {
  auto expiry = [&] {
    const std::string metrics =
        Curl("http://127.0.0.1:" + std::to_string(a_->http_port()) + "/metrics");
    const std::string key = "\ngeodatastore_certificate_expiry_seconds ";
    const size_t at = metrics.find(key);
    return at == std::string::npos ? 0.0 : std::stod(metrics.substr(at + key.size()));
  };
  const double before = expiry();
  ASSERT_GT(before, 0);
  ASSERT_TRUE(pki_.Issue("us-east-1", "us-east-1", 90)) << pki_.error();  // rewrites the files
  EXPECT_TRUE(Eventually([&] { return expiry() > before + 50 * 86400; })) << a_->Log();
  // Replication still works with the new certificate.
  EXPECT_TRUE(ReplicatesToB("r", 2));
}

class ClientSecurityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(pki_.ok()) << pki_.error();
    ASSERT_TRUE(pki_.Issue("us-east-1", "us-east-1")) << pki_.error();
    node_ = std::make_unique<GeodsProcess>(
        GeodsProcess::Options{.extra_yaml = "security:\n" + pki_.TlsYaml("us-east-1", true) +
                                            "  users_file: " + WriteUsers(dir_.Sub("users.yaml")) +
                                            "\n  backup_dir: " + dir_.Sub("backups") + "\n"});
    ASSERT_TRUE(node_->Start()) << node_->error();
  }

  std::string Https(const std::string& args, const std::string& path) {
    return Curl("--cacert " + pki_.ca_file() + " " + args +
                " https://localhost:" + std::to_string(node_->http_port()) + path);
  }
  std::string Redis(const std::vector<std::string>& args) {
    std::vector<std::string> all = {"--tls", "--cacert", pki_.ca_file(), "--no-auth-warning"};
    all.insert(all.end(), args.begin(), args.end());
    return RedisCli(node_->resp_port(), all);
  }
  std::shared_ptr<grpc::Channel> GrpcChannel() {
    return Channel(node_->grpc_port(), TlsCredentials(pki_), "us-east-1");
  }

  TempDir dir_;
  TestPki pki_;
  std::unique_ptr<GeodsProcess> node_;
};

TEST_F(ClientSecurityTest, RestNeedsCredentialsAndTheRightRole) {
  const std::string write = "-X POST -d '{\"value\": 1}'";
  const std::string counter = "/crdt/counters/c/increment";
  std::string missing = Https(write, counter);
  EXPECT_THAT(missing, HasSubstr("401 "));
  EXPECT_THAT(Https("-i " + write, counter), HasSubstr("WWW-Authenticate: Basic"));
  EXPECT_THAT(Https("-u writer:wrong " + write, counter), HasSubstr("401 "));
  EXPECT_THAT(Https("-u nobody:x " + write, counter), HasSubstr("401 "));
  EXPECT_THAT(Https("-H 'Authorization: Digest x' " + write, counter), HasSubstr("401 "));
  EXPECT_THAT(Https("-u reader:redaer " + write, counter), HasSubstr("403 "));
  EXPECT_THAT(Https("-u writer:retirw " + write, counter), HasSubstr("200 "));
  EXPECT_THAT(Https("-u reader:redaer", "/crdt/counters/c"), HasSubstr("\"value\":1"));
  for (const char* admin : {"/admin/status", "/admin/replication/lag", "/admin/conflicts"}) {
    EXPECT_THAT(Https("", admin), HasSubstr("401 ")) << admin;
    EXPECT_THAT(Https("-u writer:retirw", admin), HasSubstr("403 ")) << admin;
    EXPECT_THAT(Https("-u admin:nimda", admin), HasSubstr("200 ")) << admin;
  }
  EXPECT_THAT(Https("-u writer:retirw -X POST", "/admin/anti-entropy/full-sync"),
              HasSubstr("403 "));
  // Probes and the scrape stay open; plaintext to the HTTPS port gets no answer.
  EXPECT_THAT(Https("", "/readyz"), HasSubstr("200 "));
  EXPECT_THAT(Curl("http://127.0.0.1:" + std::to_string(node_->http_port()) + "/readyz"),
              Not(HasSubstr("200 ")));
  const std::string metrics = Https("", "/metrics");
  EXPECT_THAT(
      metrics,
      HasSubstr("geodatastore_auth_failures_total{frontend=\"rest\",reason=\"forbidden\"}"));
  EXPECT_THAT(metrics, HasSubstr("geodatastore_auth_failures_total{frontend=\"rest\",reason="
                                 "\"bad_password\"} 1"));
  EXPECT_THAT(metrics, HasSubstr("geodatastore_auth_failures_total{frontend=\"rest\",reason="
                                 "\"missing_credentials\"}"));
}

TEST_F(ClientSecurityTest, RespSpeaksRedis6AclAuthentication) {
  EXPECT_THAT(Redis({"PING"}), HasSubstr("NOAUTH Authentication required"));
  EXPECT_THAT(Redis({"--user", "writer", "--pass", "wrong", "PING"}), HasSubstr("WRONGPASS"));
  EXPECT_EQ(Redis({"--user", "writer", "--pass", "retirw", "INCR", "n"}), "(integer) 1");
  EXPECT_THAT(Redis({"--user", "reader", "--pass", "redaer", "INCR", "n"}),
              HasSubstr("NOPERM this user has no permissions to run the 'incr' command"));
  EXPECT_EQ(Redis({"--user", "reader", "--pass", "redaer", "GET", "n"}), "\"1\"");
  EXPECT_THAT(Redis({"HELLO", "2", "AUTH", "reader", "redaer"}), HasSubstr("\"proto\""));
  EXPECT_THAT(Redis({"HELLO", "3", "AUTH", "reader", "redaer"}), HasSubstr("NOPROTO"));
  // Without TLS the server never answers in RESP.
  EXPECT_THAT(RedisCli(node_->resp_port(), {"PING"}), Not(HasSubstr("PONG")));
  EXPECT_THAT(
      Https("", "/metrics"),
      HasSubstr("geodatastore_auth_failures_total{frontend=\"resp\",reason=\"forbidden\"}"));
}

TEST_F(ClientSecurityTest, GrpcNeedsCredentialsAndAdminForAdminService) {
  auto crdt = v1::CRDTService::NewStub(GrpcChannel());
  auto admin = v1::AdminService::NewStub(GrpcChannel());
  auto increment = [&](const std::string& user, const std::string& password) {
    grpc::ClientContext context;
    if (!user.empty()) {
      std::string out;
      RunCommand("printf '%s' '" + user + ":" + password + "' | base64 -w0", &out);
      context.AddMetadata("authorization", "Basic " + out);
    }
    v1::CounterUpdate request;
    request.set_name("g");
    request.set_amount(1);
    v1::ObjectValue reply;
    return crdt->IncrementCounter(&context, request, &reply).error_code();
  };
  EXPECT_EQ(increment("", ""), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(increment("writer", "wrong"), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(increment("reader", "redaer"), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(increment("writer", "retirw"), grpc::StatusCode::OK);

  auto checkpoint = [&](const std::string& password, const std::string& user,
                        const std::string& dir) {
    grpc::ClientContext context;
    std::string out;
    RunCommand("printf '%s' '" + user + ":" + password + "' | base64 -w0", &out);
    context.AddMetadata("authorization", "Basic " + out);
    v1::CheckpointRequest request;
    request.set_dir(dir);
    v1::CheckpointReply reply;
    return admin->Checkpoint(&context, request, &reply).error_code();
  };
  EXPECT_EQ(checkpoint("retirw", "writer", "snap"), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(checkpoint("nimda", "admin", dir_.Sub("elsewhere")),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(checkpoint("nimda", "admin", "../escape"), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_FALSE(std::filesystem::exists(dir_.Sub("elsewhere")));
  EXPECT_FALSE(std::filesystem::exists(dir_.Sub("escape")));
  EXPECT_EQ(checkpoint("nimda", "admin", "snap"), grpc::StatusCode::OK);
  EXPECT_TRUE(std::filesystem::exists(dir_.Sub("backups/snap/CURRENT")));

  // geoctl takes the CA and credentials.
  std::string out;
  const std::string geoctl = std::string(GDS_GEOCTL_PATH) +
                             " --addr 127.0.0.1:" + std::to_string(node_->grpc_port()) +
                             " --cacert " + pki_.ca_file() + " --tls-name us-east-1";
  EXPECT_EQ(RunCommand(geoctl + " counter get g", &out), 1) << out;
  EXPECT_EQ(RunCommand("GEODS_PASSWORD=redaer " + geoctl + " --user reader counter get g", &out), 0)
      << out;
  EXPECT_THAT(out, HasSubstr("= 1"));
  EXPECT_EQ(RunCommand(geoctl + " --user reader --password redaer admin status", &out), 1) << out;
  EXPECT_THAT(out, HasSubstr("permission"));
}

TEST(FrontEndLimitsTest, RespRefusesPastTheConnectionCapAndClosesIdleConnections) {
  GeodsProcess node(
      GeodsProcess::Options{.extra_yaml = "limits: {max_connections: 3, idle_timeout_s: 1}\n"});
  ASSERT_TRUE(node.Start()) << node.error();
  auto open_connection = [&] { return ConnectLoopback(node.resp_port()); };
  auto ping = [](int fd) {
    const std::string ping = "PING\r\n";
    if (send(fd, ping.data(), ping.size(), MSG_NOSIGNAL) < 0) return std::string("send failed");
    char buf[256];
    const ssize_t n = recv(fd, buf, sizeof buf, 0);
    return n <= 0 ? std::string("closed") : std::string(buf, n);
  };
  std::vector<int> open;
  for (int i = 0; i < 3; ++i) {
    open.push_back(open_connection());
    EXPECT_EQ(ping(open.back()), "+PONG\r\n");
  }
  const int fourth = open_connection();
  char buf[256];
  const ssize_t n = recv(fourth, buf, sizeof buf, 0);
  EXPECT_EQ(std::string(buf, std::max<ssize_t>(n, 0)), "-ERR max number of clients reached\r\n");
  close(fourth);
  // Idle connections are closed after the timeout (1 s): recv sees the end of the stream.
  for (int fd : open) {
    EXPECT_TRUE(Eventually([&] { return recv(fd, buf, sizeof buf, MSG_DONTWAIT) == 0; },
                           std::chrono::seconds(10)));
    close(fd);
  }
  // Room again.
  const int again = open_connection();
  EXPECT_EQ(ping(again), "+PONG\r\n");
  close(again);
}

TEST(FrontEndLimitsTest, RestAnswers503PastTheConnectionCap) {
  GeodsProcess node(GeodsProcess::Options{.extra_yaml = "limits: {max_connections: 2}\n"});
  ASSERT_TRUE(node.Start()) << node.error();
  auto connect_to = [&] { return ConnectLoopback(node.http_port()); };
  auto healthz = [](int fd) {
    const std::string request = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    send(fd, request.data(), request.size(), MSG_NOSIGNAL);
    char buf[512];
    const ssize_t n = recv(fd, buf, sizeof buf, 0);
    return n <= 0 ? std::string("closed") : std::string(buf, n);
  };
  const int first = connect_to(), second = connect_to();
  EXPECT_THAT(healthz(first), HasSubstr("200 OK"));
  EXPECT_THAT(healthz(second), HasSubstr("200 OK"));
  const int third = connect_to();
  EXPECT_THAT(healthz(third), HasSubstr("503 Service Unavailable"));
  close(third);
  close(second);
  // Room again once a connection closed.
  EXPECT_TRUE(Eventually([&] {
    const int fd = connect_to();
    const bool ok = healthz(fd).find("200 OK") != std::string::npos;
    close(fd);
    return ok;
  }));
  close(first);
}

// Requests that wait — for a session token this node never applies, for a quorum a down
// peer never completes — are parked, holding no thread: far more of them than the REST and
// gRPC front ends have threads (16 each) wait at once while the node answers others, and
// past limits.max_waiting_requests a request is refused at once.
TEST(FrontEndLimitsTest, WaitingRequestsHoldNoThreadAndTheirNumberIsCapped) {
  const uint16_t dead = FreePort();  // the only peer, in another region, never up
  GeodsProcess node(GeodsProcess::Options{
      .extra_yaml = "consistency: {timeout_ms: 6000}\nlimits: {max_waiting_requests: 60}\n"
                    "cluster:\n  name: t\n  peers:\n    - {id: far-1, region: far, grpc: "
                    "\"127.0.0.1:" +
                    std::to_string(dead) + "\"}\n"});
  ASSERT_TRUE(node.Start()) << node.error();
  const std::string metrics = "http://127.0.0.1:" + std::to_string(node.http_port()) + "/metrics";
  auto waiting = [&] {
    const std::string text = Curl(metrics);
    const size_t at = text.find("\ngeodatastore_waiting_requests ");
    return at == std::string::npos ? -1 : std::stoi(text.substr(at + 31));
  };
  // A token for a replica nobody has heard of: no node ever applies it.
  const std::map<std::string, std::string> impossible = {
      {"X-Session-Token", "00000000deadbeef:1000000000"}};
  std::atomic<int> unapplied{0}, unacknowledged{0}, too_many{0}, other{0};
  auto tally = [&](const client::HttpResult& r) {
    if (r.status == 503 && r.body.find("has not yet applied") != std::string::npos) {
      ++unapplied;
    } else if (r.status == 504 && r.body.find("acknowledged") != std::string::npos) {
      ++unacknowledged;
    } else if (r.status == 503 && r.body.find("too many requests") != std::string::npos) {
      ++too_many;
    } else {
      ++other;
    }
  };
  std::vector<std::thread> flood;
  for (int i = 0; i < 30; ++i) {
    flood.emplace_back([&] {
      client::HttpClient http(node.http_port());
      tally(http.Request(boost::beast::http::verb::get, "/crdt/counters/c", "", impossible));
    });
  }
  ASSERT_TRUE(Eventually([&] { return waiting() == 30; }, std::chrono::seconds(5)));
  for (int i = 0; i < 40; ++i) {
    flood.emplace_back([&, i] {
      client::HttpClient http(node.http_port());
      tally(http.Post("/crdt/counters/q" + std::to_string(i) + "/increment?consistency=quorum",
                      {{"value", 1}}));
    });
  }
  // 60 parked, 10 refused at once; meanwhile the node answers others, on REST and gRPC.
  EXPECT_TRUE(Eventually([&] { return waiting() == 60 && too_many == 10; },
                         std::chrono::seconds(5)));
  client::HttpClient probe(node.http_port());
  EXPECT_EQ(probe.Get("/healthz").status, 200);
  EXPECT_EQ(probe.Post("/crdt/counters/d/increment", {{"value", 1}}).status, 200);
  auto stub = v1::CRDTService::NewStub(
      grpc::CreateChannel(node.grpc_address(), grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  v1::GetRequest get;
  get.set_name("d");
  v1::ObjectValue value;
  EXPECT_TRUE(stub->GetCounter(&context, get, &value).ok());
  EXPECT_EQ(waiting(), 60);  // still waiting: answered by their timeouts, not before
  for (std::thread& t : flood) t.join();
  EXPECT_EQ(unapplied.load(), 30);
  EXPECT_EQ(unacknowledged.load(), 30);
  EXPECT_EQ(too_many.load(), 10);
  EXPECT_EQ(other.load(), 0);
  EXPECT_EQ(waiting(), 0);
}

TEST(RejectedPayloadsTest, AClientTimestampFromTheFarFutureIsRefusedAndCountedAsClockOffset) {
  GeodsProcess node;
  ASSERT_TRUE(node.Start()) << node.error();
  const std::string url = "http://127.0.0.1:" + std::to_string(node.http_port());
  EXPECT_THAT(Curl("-X POST -d '{\"value\": \"v\", \"timestamp\": 9223372036854775807}' " + url +
                   "/crdt/registers/r"),
              HasSubstr("400 "));
  EXPECT_THAT(Curl(url + "/crdt/registers/r"), HasSubstr("404 "));
  EXPECT_THAT(Curl(url + "/metrics"),
              HasSubstr("geodatastore_rejected_payloads_total{reason=\"clock_offset\"} 1"));
}

TEST(SecureByDefaultTest, ANonLoopbackListenerWithoutTlsAndUsersDoesNotStart) {
  TempDir dir;
  const std::string config = dir.Sub("geods.yaml");
  std::ofstream(config) << "node: {id: n1, region: r, data_dir: " << dir.Sub("data") << "}\n"
                        << "listen: {http: \"0.0.0.0:0\", grpc: \"127.0.0.1:0\", resp: "
                           "\"127.0.0.1:0\"}\n";
  std::string out;
  EXPECT_EQ(RunCommand(std::string(GDS_GEODS_PATH) + " --config " + config, &out), 2);
  EXPECT_THAT(out, HasSubstr("listen.http"));
  EXPECT_THAT(out, HasSubstr("security.insecure"));
}

}  // namespace
}  // namespace geodatastore::testing
