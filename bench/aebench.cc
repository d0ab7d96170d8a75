// aebench: anti-entropy time and bytes between two nodes over real gRPC on loopback.
//
// Node A holds N counters; node B starts as a RocksDB checkpoint of A (identical states)
// and then differs in D of them (an increment each on B), or starts empty (a full sync).
// A session from B to A (B pulls A's states and pushes its own) must leave both identical;
// the table gives the session's time, bytes, objects moved and repaired.
//
//   build/bin/aebench --keys 1000000 --diffs 0,1000,100000 --full
#include <grpcpp/grpcpp.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <random>
#include <sstream>

#include "antientropy/grpc_sync.h"
#include "engine/engine.h"
#include "engine/sync_host.h"

using namespace geodatastore;

namespace {

struct Node {
  Node(const std::string& dir, const std::string& id) {
    store = std::move(storage::Store::Open({dir, false})).value();
    auto identity = storage::LoadIdentity(*store, id);
    if (!identity.ok()) {
      fprintf(stderr, "aebench: %s\n", identity.status().ToString().c_str());
      exit(1);
    }
    engine =
        std::make_unique<engine::Engine>(store.get(), *identity, &clock, engine::EngineOptions{});
    if (!engine->Start().ok()) exit(1);
    host = std::make_unique<engine::EngineSyncHost>(engine.get());
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(10);
    while (!store->merkle_ready() && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  crdt::SystemClock clock;
  std::unique_ptr<storage::Store> store;
  std::unique_ptr<engine::Engine> engine;
  std::unique_ptr<engine::EngineSyncHost> host;
};

void Increment(Node& n, const std::vector<uint64_t>& keys) {
  std::vector<std::pair<std::string, engine::Op>> ops;
  for (size_t i = 0; i < keys.size(); ++i) {
    ops.push_back(
        {"key:" + std::to_string(keys[i]), {.kind = engine::Op::Kind::kIncrement, .amount = 1}});
    if (ops.size() == 1000 || i + 1 == keys.size()) {
      for (auto& r : n.engine->ApplyBatch(ops)) {
        if (!r.ok()) {
          fprintf(stderr, "aebench: %s\n", r.status().ToString().c_str());
          exit(1);
        }
      }
      ops.clear();
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"aebench: anti-entropy time and bytes"};
  uint64_t keys = 1000000;
  std::string diffs_arg = "0,1000,100000";
  bool full = true;
  bool rebuild = false;
  std::string dir = "/tmp/aebench";
  app.add_option("--keys", keys, "objects on node A")->capture_default_str();
  app.add_option("--diffs", diffs_arg, "differences to repair, comma-separated")
      ->capture_default_str();
  app.add_option("--full", full, "also a full sync into an empty node")->capture_default_str();
  app.add_option("--rebuild", rebuild, "also time a rebuild of A's trees")->capture_default_str();
  app.add_option("--dir", dir, "scratch directory (emptied)")->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  auto a = std::make_unique<Node>(dir + "/a", "a");
  {
    std::vector<uint64_t> all(keys);
    for (uint64_t i = 0; i < keys; ++i) all[i] = i;
    const auto t0 = std::chrono::steady_clock::now();
    Increment(*a, all);
    fprintf(stderr, "loaded %llu keys in %.1f s\n", static_cast<unsigned long long>(keys),
            std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  if (rebuild) {
    // The trees rebuilt in the background, as for a database from before them.
    if (!a->store->DeleteMeta("merkle_ready").ok()) return 1;
    a.reset();
    const auto t0 = std::chrono::steady_clock::now();
    a = std::make_unique<Node>(dir + "/a", "a");  // waits until the trees are ready
    printf("Merkle trees of %llu keys rebuilt in %.1f s (the node serves meanwhile)\n",
           static_cast<unsigned long long>(keys),
           std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  // A serves anti-entropy over gRPC on loopback.
  antientropy::GrpcAntiEntropy service("a", "r", {}, a->host.get(), {}, nullptr, nullptr);
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.SetMaxReceiveMessageSize(64 << 20);
  builder.RegisterService(&service);
  auto server = builder.BuildAndStart();

  std::vector<int64_t> diffs;
  std::stringstream ss(diffs_arg);
  for (std::string d; std::getline(ss, d, ',');) diffs.push_back(std::stoll(d));
  if (full) diffs.push_back(-1);  // -1: B empty

  printf("%-10s %12s %10s %10s %12s %12s %12s\n", "keys", "differences", "seconds", "MB", "pulled",
         "pushed", "repaired");
  std::mt19937_64 rng(1);
  int round = 0;
  for (int64_t d : diffs) {
    const std::string bdir = dir + "/b" + std::to_string(round++);
    if (d >= 0) {
      if (!a->store->Checkpoint(bdir).ok()) return 1;
    }
    auto b = std::make_unique<Node>(bdir, "a");
    if (d > 0) {
      std::vector<uint64_t> picked;
      for (int64_t i = 0; i < d; ++i) picked.push_back(rng() % keys);
      std::sort(picked.begin(), picked.end());
      picked.erase(std::unique(picked.begin(), picked.end()), picked.end());
      while (static_cast<int64_t>(picked.size()) < d) {  // distinct keys
        picked.push_back(rng() % keys);
        std::sort(picked.begin(), picked.end());
        picked.erase(std::unique(picked.begin(), picked.end()), picked.end());
      }
      Increment(*b, picked);
    }
    antientropy::GrpcAntiEntropy client("b", "r", {}, b->host.get(), {}, nullptr, nullptr);
    const auto result = client.RunSession({"a", "r", "127.0.0.1:" + std::to_string(port)});
    if (result.result != "ok") {
      fprintf(stderr, "aebench: session %s: %s\n", result.result.c_str(), result.error.c_str());
      return 1;
    }
    const auto& s = result.stats;
    printf("%-10llu %12s %10.3f %10.2f %12llu %12llu %12llu\n",
           static_cast<unsigned long long>(keys), d < 0 ? "all (empty)" : std::to_string(d).c_str(),
           result.seconds, (s.bytes_sent + s.bytes_received) / 1e6,
           static_cast<unsigned long long>(s.pulled), static_cast<unsigned long long>(s.pushed),
           static_cast<unsigned long long>(s.repaired_here + s.repaired_there));
    fflush(stdout);
    b.reset();
    std::filesystem::remove_all(bdir);
  }
  server->Shutdown();
  return 0;
}
