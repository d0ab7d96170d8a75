// replbench: replication latency and bytes between two nodes of a running cluster.
// A paced writer sends --rate increments per second to node A (gRPC ApplyBatch, --batch ops
// per call) on --keys keys and records, per call, when A acknowledged it and A's committed
// seq then (from the session token). A reader polls node B's applied vector (AdminService
// GetStatus) as fast as it can. An op's latency is the time from its acknowledgement at A
// to the first poll that shows B has applied its seq. (scripts/bench-replication.sh adds the
// bytes per op from A's /admin/replication/lag.)
#include <grpcpp/grpcpp.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <thread>
#include <vector>

#include "geodatastore/v1/api.grpc.pb.h"

namespace {

namespace v1 = geodatastore::v1;
using Clock = std::chrono::steady_clock;

struct Write {
  uint64_t seq;
  Clock::time_point acked;
  int ops;
};

struct Poll {
  Clock::time_point at;
  uint64_t applied;
};

uint64_t SeqOf(const std::string& token, uint64_t replica) {
  char hex[17];
  snprintf(hex, sizeof(hex), "%016llx", static_cast<unsigned long long>(replica));
  const size_t at = token.find(hex);
  if (at == std::string::npos) return 0;
  return std::stoull(token.substr(at + 17));
}

bool Status(v1::AdminService::Stub& admin, v1::StatusReply* out) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  return admin.GetStatus(&context, v1::StatusRequest(), out).ok();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"replbench: replication latency and bytes between two nodes"};
  std::string a = "127.0.0.1:9090", b = "127.0.0.1:9091";
  double rate = 1000, seconds = 5;
  int batch = 10, keys = 100, writers = 4;
  app.add_option("--a", a, "gRPC address of the node written to")->capture_default_str();
  app.add_option("--b", b, "gRPC address of the node read from (another region)")
      ->capture_default_str();
  app.add_option("--rate", rate, "ops per second")
      ->check(CLI::Range(1.0, 1e6))
      ->capture_default_str();
  app.add_option("--seconds", seconds, "duration")
      ->check(CLI::Range(0.5, 600.0))
      ->capture_default_str();
  app.add_option("--batch", batch, "ops per ApplyBatch call")
      ->check(CLI::Range(1, 10000))
      ->capture_default_str();
  app.add_option("--keys", keys, "distinct keys")
      ->check(CLI::Range(1, 10000000))
      ->capture_default_str();
  app.add_option("--writers", writers, "writer threads")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  auto channel_a = grpc::CreateChannel(a, grpc::InsecureChannelCredentials());
  auto channel_b = grpc::CreateChannel(b, grpc::InsecureChannelCredentials());
  auto admin_a = v1::AdminService::NewStub(channel_a);
  auto admin_b = v1::AdminService::NewStub(channel_b);
  v1::StatusReply status_a;
  if (!Status(*admin_a, &status_a)) {
    fprintf(stderr, "replbench: cannot reach %s\n", a.c_str());
    return 3;
  }
  const uint64_t replica_a = status_a.replica_id();

  std::mutex mu;
  std::vector<Write> writes;
  std::vector<Poll> polls;
  std::atomic<bool> done{false};
  std::atomic<uint64_t> errors{0};
  const auto start = Clock::now();
  const auto until =
      start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));

  std::thread reader([&] {
    std::vector<Poll> mine;
    while (!done) {
      v1::StatusReply s;
      if (!Status(*admin_b, &s)) continue;
      uint64_t applied = 0;
      for (const auto& e : s.applied().entries()) {
        if (e.replica() == replica_a) applied = e.counter();
      }
      mine.push_back({Clock::now(), applied});
    }
    std::lock_guard<std::mutex> lock(mu);
    polls = std::move(mine);
  });

  std::vector<std::thread> threads;
  const double calls_per_writer = rate / batch / writers;
  for (int w = 0; w < writers; ++w) {
    threads.emplace_back([&, w] {
      auto stub = v1::CRDTService::NewStub(channel_a);
      std::vector<Write> mine;
      uint64_t n = 0;
      const auto period = std::chrono::duration<double>(1.0 / calls_per_writer);
      auto next = start + std::chrono::duration_cast<Clock::duration>(
                              period * (w / static_cast<double>(writers)));
      while (next < until) {
        std::this_thread::sleep_until(next);
        next += std::chrono::duration_cast<Clock::duration>(period);
        v1::BatchRequest request;
        for (int i = 0; i < batch; ++i) {
          auto* inc = request.add_operations()->mutable_increment();
          inc->set_name("repl:" + std::to_string((n++ * 7919 + w) % keys));
          inc->set_amount(1);
        }
        grpc::ClientContext context;
        context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
        v1::BatchReply reply;
        if (!stub->ApplyBatch(&context, request, &reply).ok()) {
          ++errors;
          continue;
        }
        const auto acked = Clock::now();
        auto token = context.GetServerInitialMetadata().find("x-session-token");
        if (token == context.GetServerInitialMetadata().end()) continue;
        mine.push_back({SeqOf(std::string(token->second.data(), token->second.size()), replica_a),
                        acked, batch});
      }
      std::lock_guard<std::mutex> lock(mu);
      writes.insert(writes.end(), mine.begin(), mine.end());
    });
  }
  for (auto& t : threads) t.join();
  // Let replication finish (poll until B has applied the last write, or 10 s).
  uint64_t last = 0;
  for (const Write& w : writes) last = std::max(last, w.seq);
  const auto drain_until = Clock::now() + std::chrono::seconds(10);
  while (Clock::now() < drain_until) {
    v1::StatusReply s;
    uint64_t applied = 0;
    if (Status(*admin_b, &s)) {
      for (const auto& e : s.applied().entries()) {
        if (e.replica() == replica_a) applied = e.counter();
      }
    }
    if (applied >= last) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  done = true;
  reader.join();

  // Latency of each op: first poll at or after its acknowledgement that shows its seq applied.
  std::vector<double> latencies_ms;
  uint64_t ops = 0, unseen = 0;
  for (const Write& w : writes) {
    ops += w.ops;
    auto it = std::lower_bound(polls.begin(), polls.end(), w.acked,
                               [](const Poll& p, Clock::time_point t) { return p.at < t; });
    while (it != polls.end() && it->applied < w.seq) ++it;
    if (it == polls.end()) {
      unseen += w.ops;
      continue;
    }
    const double ms = std::chrono::duration<double, std::milli>(it->at - w.acked).count();
    for (int i = 0; i < w.ops; ++i) latencies_ms.push_back(ms);
  }
  std::sort(latencies_ms.begin(), latencies_ms.end());
  auto pct = [&](double p) {
    return latencies_ms.empty()
               ? 0.0
               : latencies_ms[std::min(latencies_ms.size() - 1,
                                       static_cast<size_t>(p * latencies_ms.size()))];
  };
  printf("%-10s %10s %10s %9s %9s %9s %8s %7s\n", "rate", "achieved", "ops", "p50_ms", "p99_ms",
         "max_ms", "unseen", "errors");
  printf("%-10.0f %10.0f %10llu %9.2f %9.2f %9.2f %8llu %7llu\n", rate, ops / seconds,
         static_cast<unsigned long long>(ops), pct(0.5), pct(0.99),
         latencies_ms.empty() ? 0.0 : latencies_ms.back(), static_cast<unsigned long long>(unseen),
         static_cast<unsigned long long>(errors.load()));
  return unseen == 0 && errors == 0 ? 0 : 1;
}
