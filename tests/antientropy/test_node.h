// A node for anti-entropy tests: a store (on an in-memory Env unless a directory is given),
// its engine and its sync host.
#pragma once

#include <gtest/gtest.h>
#include <rocksdb/env.h>

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "engine/engine.h"
#include "engine/sync_host.h"

namespace geodatastore::antientropy::testing {

struct Node {
  explicit Node(const std::string& id, std::string dir = "")
      : env(dir.empty() ? rocksdb::NewMemEnv(rocksdb::Env::Default()) : nullptr),
        path(dir.empty() ? "/ae/" + id : dir) {
    Open(id);
  }
  void Open(const std::string& id) {
    host.reset();
    engine.reset();
    store.reset();
    store = std::move(storage::Store::Open({path, false, env.get()})).value();
    auto identity = storage::LoadIdentity(*store, id);
    EXPECT_TRUE(identity.ok());
    engine =
        std::make_unique<engine::Engine>(store.get(), *identity, &clock, engine::EngineOptions{});
    EXPECT_TRUE(engine->Start().ok());
    host = std::make_unique<engine::EngineSyncHost>(engine.get());
  }
  bool WaitReady() {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (!store->merkle_ready() && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    return store->merkle_ready();
  }

  std::unique_ptr<rocksdb::Env> env;
  std::string path;
  crdt::SystemClock clock;
  std::unique_ptr<storage::Store> store;
  std::unique_ptr<engine::Engine> engine;
  std::unique_ptr<engine::EngineSyncHost> host;
};

// Every object of a node: encoded key -> (type, state bytes).
inline std::map<std::string, std::pair<v1::CrdtType, std::string>> Contents(Node& n) {
  std::map<std::string, std::pair<v1::CrdtType, std::string>> out;
  auto keys = n.engine->ListKeys(std::nullopt, "", 10000000);
  EXPECT_TRUE(keys.ok());
  for (const auto& [key, type] : *keys) {
    auto bytes = n.store->ReadState(type, key);
    EXPECT_TRUE(bytes.ok() && bytes->has_value());
    out[key.Encode()] = {type, **bytes};
  }
  return out;
}

}  // namespace geodatastore::antientropy::testing
