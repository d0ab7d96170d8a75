// Two real geods processes whose node-to-node links are mutual TLS, and the helpers the
// security tests use to speak to them as a peer, a client or an attacker would.
#pragma once

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <thread>

#include "support/geods_process.h"
#include "support/test_pki.h"

namespace geodatastore::testing {

// Polls cond every 50 ms until it holds or the deadline passes.
inline bool Eventually(const std::function<bool()>& cond,
                       std::chrono::milliseconds deadline = std::chrono::seconds(15)) {
  const auto until = std::chrono::steady_clock::now() + deadline;
  while (std::chrono::steady_clock::now() < until) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return cond();
}

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// curl with the given arguments; returns "<http code> <body>" (code 000: no HTTP answer).
inline std::string Curl(const std::string& args) {
  std::string out;
  RunCommand("curl -s --max-time 10 -w ' %{http_code}' " + args, &out);
  const size_t space = out.rfind(' ');
  return out.substr(space + 1) + " " + out.substr(0, space);
}

inline std::shared_ptr<grpc::ChannelCredentials> TlsCredentials(const TestPki& pki,
                                                                const std::string& cert = "") {
  grpc::SslCredentialsOptions o;
  o.pem_root_certs = ReadFile(pki.ca_file());
  if (!cert.empty()) {
    o.pem_cert_chain = ReadFile(pki.cert_file(cert));
    o.pem_private_key = ReadFile(pki.key_file(cert));
  }
  return grpc::SslCredentials(o);
}

inline std::shared_ptr<grpc::Channel> Channel(uint16_t port,
                                              std::shared_ptr<grpc::ChannelCredentials> creds,
                                              const std::string& target_name = "") {
  grpc::ChannelArguments args;
  if (!target_name.empty()) args.SetSslTargetNameOverride(target_name);
  return grpc::CreateCustomChannel("127.0.0.1:" + std::to_string(port), creds, args);
}

// Increments counter `name` on `from` by `value` and polls until `to` reads that value.
inline bool Replicates(const GeodsProcess& from, const GeodsProcess& to, const std::string& name,
                       int value) {
  const std::string v = std::to_string(value);
  if (Curl("-X POST -d '{\"value\": " + v + "}' http://127.0.0.1:" +
           std::to_string(from.http_port()) + "/crdt/counters/" + name + "/increment")
          .rfind("200 ", 0) != 0) {
    return false;
  }
  return Eventually([&] {
    return Curl("http://127.0.0.1:" + std::to_string(to.http_port()) + "/crdt/counters/" + name)
               .find("\"value\":" + v) != std::string::npos;
  });
}

// The value of a metric series of node (name with labels, as exposed), or -1 if absent.
inline double MetricOf(const GeodsProcess& node, const std::string& series) {
  const std::string text =
      Curl("http://127.0.0.1:" + std::to_string(node.http_port()) + "/metrics");
  const size_t at = text.find("\n" + series + " ");
  return at == std::string::npos ? -1 : std::stod(text.substr(at + series.size() + 2));
}

// Node a (us-east-1) and node b (eu-west-1), each the other's peer, on mutual TLS; both
// also name a third peer, ap-south-1, that never runs.
class PeerTlsTest : public ::testing::Test {
 protected:
  // Appended to node a's config.
  virtual std::string ExtraYamlForA() const { return ""; }

  void SetUp() override {
    ASSERT_TRUE(pki_.ok()) << pki_.error();
    ASSERT_TRUE(pki_.Issue("us-east-1", "us-east-1")) << pki_.error();
    ASSERT_TRUE(pki_.Issue("eu-west-1", "eu-west-1")) << pki_.error();
    const uint16_t a_peer = FreePort(), b_peer = FreePort();
    auto yaml = [&](const std::string& self, const std::string& other, uint16_t other_port) {
      return "cluster:\n  peers:\n    - {id: " + other + ", region: r-" + other +
             ", grpc: \"127.0.0.1:" + std::to_string(other_port) +
             "\"}\n    - {id: ap-south-1, region: ap-south, grpc: \"127.0.0.1:" +
             std::to_string(FreePort()) + "\"}\nsecurity:\n" + pki_.TlsYaml(self, false);
    };
    a_ = std::make_unique<GeodsProcess>(GeodsProcess::Options{
        .node_id = "us-east-1",
        .region = "us-east",
        .extra_yaml = yaml("us-east-1", "eu-west-1", b_peer) + ExtraYamlForA(),
        .peer_port = a_peer});
    b_ = std::make_unique<GeodsProcess>(
        GeodsProcess::Options{.node_id = "eu-west-1",
                              .region = "eu-west",
                              .extra_yaml = yaml("eu-west-1", "us-east-1", a_peer),
                              .peer_port = b_peer});
    ASSERT_TRUE(a_->Start()) << a_->error();
    ASSERT_TRUE(b_->Start()) << b_->error();
  }

  bool ReplicatesToB(const std::string& name, int value) {
    return Replicates(*a_, *b_, name, value);
  }
  bool ReplicatesToA(const std::string& name, int value) {
    return Replicates(*b_, *a_, name, value);
  }
  double MetricOfA(const std::string& series) { return MetricOf(*a_, series); }

  TestPki pki_;
  std::unique_ptr<GeodsProcess> a_, b_;
};

}  // namespace geodatastore::testing
