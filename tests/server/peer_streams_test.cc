// What idle node-to-node calls cost a node (docs/security.md, "Limits against denial of
// service"): a StreamDeltas stream held open holds no thread of the node, a silent one is
// closed after limits.idle_timeout_s while peers that heartbeat keep theirs, and an idle
// connection to the peer or client listener is closed after that timeout too.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <memory>
#include <vector>

#include "geodatastore/v1/api.grpc.pb.h"
#include "geodatastore/v1/replication.grpc.pb.h"
#include "server/peer_tls.h"

namespace geodatastore::testing {
namespace {

using Clock = std::chrono::steady_clock;
using Stream = grpc::ClientReaderWriter<v1::ReplicationMessage, v1::ReplicationMessage>;

// Threads of process pid now.
int ThreadsOf(pid_t pid) {
  int n = 0;
  std::error_code ec;
  for (std::filesystem::directory_iterator it("/proc/" + std::to_string(pid) + "/task", ec), end;
       !ec && it != end; it.increment(ec)) {
    ++n;
  }
  return n;
}

// A StreamDeltas stream held open by the test.
struct HeldStream {
  grpc::ClientContext context;
  std::unique_ptr<Stream> stream;
};
using HeldStreams = std::vector<std::unique_ptr<HeldStream>>;

constexpr int kStreams = 200;
const char kChecksumRejections[] = "geodatastore_rejected_payloads_total{reason=\"checksum\"}";

// Opens kStreams streams and sends on each a frame from `from` without its checksum: the
// node reads it, counts it and drops it, and the stream stays open, idle from then on.
// Returns once the node counted every frame (so that it is serving every stream), or fails.
void HoldIdleStreams(v1::ReplicationService::Stub* stub, const std::string& from,
                     const GeodsProcess& node, HeldStreams* held) {
  const double rejected = std::max(0.0, MetricOf(node, kChecksumRejections));
  v1::ReplicationMessage unsealed;
  unsealed.set_from(from);
  unsealed.mutable_heartbeat()->set_wall_time_ms(1);
  for (int i = 0; i < kStreams; ++i) {
    auto h = std::make_unique<HeldStream>();
    h->stream = stub->StreamDeltas(&h->context);
    ASSERT_TRUE(h->stream->Write(unsealed)) << i;
    held->push_back(std::move(h));
  }
  ASSERT_TRUE(Eventually([&] {
    return MetricOf(node, kChecksumRejections) >= rejected + kStreams;
  })) << MetricOf(node, kChecksumRejections);
}

// Reads each held stream to its end (the node's cancellation, or ours).
void Release(HeldStreams* held, bool cancel) {
  for (auto& h : *held) {
    if (cancel) h->context.TryCancel();
    v1::ReplicationMessage ignored;
    while (h->stream->Read(&ignored)) {
    }
    h->stream->Finish();
  }
}

// The node's threads grew by less than a tenth of the streams held open.
void ExpectFewThreadsMore(const char* where, int before, int during) {
  std::cout << where << ": node threads " << before << " before, " << during << " with " << kStreams
            << " idle peer streams open\n";
  EXPECT_LT(during - before, kStreams / 10);
}

// A stub for node a's peer listener, with eu-west-1's certificate.
std::unique_ptr<v1::ReplicationService::Stub> AsEuWest(const TestPki& pki, uint16_t port) {
  return v1::ReplicationService::NewStub(
      Channel(port, TlsCredentials(pki, "eu-west-1"), "us-east-1"));
}

TEST_F(PeerTlsTest, IdlePeerStreamsHoldNoThreadAndTheNodeStillReplicatesAndStops) {
  ASSERT_TRUE(ReplicatesToB("before", 1)) << a_->Log();
  const int threads_before = ThreadsOf(a_->pid());
  auto stub = AsEuWest(pki_, a_->peer_port());
  HeldStreams held;
  HoldIdleStreams(stub.get(), "eu-west-1", *a_, &held);
  EXPECT_GE(MetricOfA("geodatastore_replication_inbound_streams"), kStreams);
  ExpectFewThreadsMore("peer listener, TLS", threads_before, ThreadsOf(a_->pid()));
  EXPECT_TRUE(ReplicatesToB("during", 2));
  EXPECT_TRUE(ReplicatesToA("back", 3));
  // Stop cancels every inbound stream: the node exits promptly with all of them open.
  const auto stop_started = Clock::now();
  EXPECT_EQ(a_->Stop(), 0);
  EXPECT_LT(Clock::now() - stop_started, std::chrono::seconds(5)) << a_->Log();
  Release(&held, false);
}

// Without TLS and a peer listener (loopback test clusters) the node-to-node services share
// the client listener with CRDTService and AdminService.
TEST(PlaintextPeersTest, OnTheClientListenerIdlePeerStreamsHoldNoThreadEither) {
  const uint16_t a_port = FreePort(), b_port = FreePort();
  auto peer = [](const std::string& id, uint16_t port) {
    return "cluster:\n  peers:\n    - {id: " + id + ", region: r-" + id +
           ", grpc: \"127.0.0.1:" + std::to_string(port) + "\"}\n";
  };
  GeodsProcess a(
      {.node_id = "us-east-1", .extra_yaml = peer("eu-west-1", b_port), .grpc_port = a_port});
  GeodsProcess b({.node_id = "eu-west-1",
                  .region = "eu-west",
                  .extra_yaml = peer("us-east-1", a_port),
                  .grpc_port = b_port});
  ASSERT_TRUE(a.Start()) << a.error();
  ASSERT_TRUE(b.Start()) << b.error();
  ASSERT_TRUE(Replicates(a, b, "before", 1)) << a.Log();
  const int threads_before = ThreadsOf(a.pid());
  auto stub = v1::ReplicationService::NewStub(Channel(a_port, grpc::InsecureChannelCredentials()));
  HeldStreams held;
  HoldIdleStreams(stub.get(), "eu-west-1", a, &held);
  ExpectFewThreadsMore("client listener, plaintext", threads_before, ThreadsOf(a.pid()));
  EXPECT_TRUE(Replicates(a, b, "during", 2));
  EXPECT_TRUE(Replicates(b, a, "back", 3));
  Release(&held, true);
}

class PeerIdleTimeoutTest : public PeerTlsTest {
 protected:
  std::string ExtraYamlForA() const override { return "limits: {idle_timeout_s: 1}\n"; }
};

TEST_F(PeerIdleTimeoutTest, ASilentPeerStreamIsClosedWhilePeersThatHeartbeatKeepTheirs) {
  ASSERT_TRUE(ReplicatesToB("before", 1)) << a_->Log();
  auto stub = AsEuWest(pki_, a_->peer_port());
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  const auto opened = Clock::now();
  auto stream = stub->StreamDeltas(&context);
  v1::ReplicationMessage ignored;
  EXPECT_FALSE(stream->Read(&ignored));  // returns once the node ends the stream
  EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::CANCELLED);
  EXPECT_GE(Clock::now() - opened, std::chrono::seconds(1));
  // Only that stream was closed: b's, which heartbeats every 100 ms, is still open.
  EXPECT_EQ(MetricOfA("geodatastore_replication_streams_idle_closed_total"), 1);
  EXPECT_TRUE(
      Eventually([&] { return MetricOfA("geodatastore_replication_inbound_streams") == 1; }));
  EXPECT_TRUE(ReplicatesToA("after", 2));
}

// Makes one call on channel, then polls until the server has closed the idle connection
// (the channel falls back to IDLE; its own idle timeout is 30 minutes).
bool ClosedWhenIdle(const std::shared_ptr<grpc::Channel>& channel,
                    const std::function<grpc::Status()>& call) {
  const grpc::Status status = call();
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(channel->GetState(false), GRPC_CHANNEL_READY);
  return Eventually([&] { return channel->GetState(false) == GRPC_CHANNEL_IDLE; },
                    std::chrono::seconds(15));
}

TEST_F(PeerIdleTimeoutTest, IdleConnectionsToThePeerAndClientListenersAreClosed) {
  auto peer = Channel(a_->peer_port(), TlsCredentials(pki_, "eu-west-1"), "us-east-1");
  EXPECT_TRUE(ClosedWhenIdle(peer, [&] {
    grpc::ClientContext context;
    v1::FetchStateRequest request;
    request.set_family(v1::COUNTERS);
    request.set_name("c");
    v1::FetchStateReply reply;
    return v1::ReplicationService::NewStub(peer)->FetchState(&context, request, &reply);
  }));
  auto client = Channel(a_->grpc_port(), grpc::InsecureChannelCredentials());
  EXPECT_TRUE(ClosedWhenIdle(client, [&] {
    grpc::ClientContext context;
    v1::EchoRequest request;
    v1::EchoReply reply;
    return v1::CRDTService::NewStub(client)->Echo(&context, request, &reply);
  }));
}

}  // namespace
}  // namespace geodatastore::testing
