// What idle node-to-node calls cost a node (docs/security.md, "Limits against denial of
// service"): a StreamDeltas stream held open holds no thread of the node, a silent one is
// closed after limits.idle_timeout_s while peers that heartbeat keep theirs, and an idle
// connection to the peer or client listener is closed after that timeout too.
#include <gtest/gtest.h>

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

// A StreamDeltas stream to node a with eu-west-1's certificate, held open by the test.
struct HeldStream {
  grpc::ClientContext context;
  std::unique_ptr<Stream> stream;
};

std::unique_ptr<v1::ReplicationService::Stub> AsEuWest(const TestPki& pki, uint16_t port) {
  return v1::ReplicationService::NewStub(
      Channel(port, TlsCredentials(pki, "eu-west-1"), "us-east-1"));
}

TEST_F(PeerTlsTest, IdlePeerStreamsHoldNoThreadAndTheNodeStillReplicatesAndStops) {
  ASSERT_TRUE(ReplicatesToB("before", 1)) << a_->Log();
  const int threads_before = ThreadsOf(a_->pid());
  constexpr int kStreams = 200;
  auto stub = AsEuWest(pki_, a_->peer_port());
  // A frame without its checksum: the node reads it, counts it and drops it, and the stream
  // stays open, idle from then on.
  v1::ReplicationMessage unsealed;
  unsealed.set_from("eu-west-1");
  unsealed.mutable_heartbeat()->set_wall_time_ms(1);
  std::vector<std::unique_ptr<HeldStream>> held;
  for (int i = 0; i < kStreams; ++i) {
    auto h = std::make_unique<HeldStream>();
    h->stream = stub->StreamDeltas(&h->context);
    ASSERT_TRUE(h->stream->Write(unsealed)) << i;
    held.push_back(std::move(h));
  }
  // Each stream is being served once the node has counted each one's frame.
  const std::string checksum = "geodatastore_rejected_payloads_total{reason=\"checksum\"}";
  ASSERT_TRUE(Eventually([&] { return MetricOfA(checksum) >= kStreams; })) << MetricOfA(checksum);
  EXPECT_GE(MetricOfA("geodatastore_replication_inbound_streams"), kStreams);
  const int threads_during = ThreadsOf(a_->pid());
  std::cout << "node threads: " << threads_before << " before, " << threads_during << " with "
            << kStreams << " idle peer streams open\n";
  EXPECT_LT(threads_during - threads_before, kStreams / 10);

  EXPECT_TRUE(ReplicatesToB("during", 2));
  EXPECT_TRUE(ReplicatesToA("back", 3));
  // Stop cancels every inbound stream: the node exits promptly with all of them open.
  const auto stop_started = Clock::now();
  EXPECT_EQ(a_->Stop(), 0);
  EXPECT_LT(Clock::now() - stop_started, std::chrono::seconds(5)) << a_->Log();
  for (auto& h : held) {
    v1::ReplicationMessage ignored;
    while (h->stream->Read(&ignored)) {
    }
    h->stream->Finish();
  }
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
