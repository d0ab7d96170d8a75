// What the fuzz targets that drive a whole node share: a node (engine, store in an in-memory
// Env, replication and anti-entropy hosts) with a fixed identity and a manual clock, so one
// input always meets the same node; the objects every node starts with; and the check that
// a refused payload changed nothing (DESIGN.md, principle 5).
//
// Thread safety: a FuzzNode is used by one thread.
#pragma once

#include <rocksdb/env.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <utility>

#include "antientropy/session.h"
#include "engine/engine.h"
#include "replication/replicator.h"

#include "fuzz_check.h"

namespace geodatastore::fuzz {

// The clock of every fuzz node: stamps up to this plus the maximum offset are accepted.
inline constexpr uint64_t kNowMs = 1'700'000'000'000;

// Every object of a node and what it has applied of each origin.
struct Contents {
  std::map<std::string, std::pair<v1::CrdtType, std::string>> objects;  // key -> type, state
  crdt::VersionVector applied;
  bool operator==(const Contents&) const = default;
};

class FuzzNode {
 public:
  // A new node `id`; with populate, holding the objects of Populate.
  explicit FuzzNode(const std::string& id, bool populate = true);

  engine::Engine& engine() { return *engine_; }
  storage::Store& store() { return *store_; }
  replication::ReplicationHost& replication_host() { return *replication_host_; }
  antientropy::SyncHost& sync_host() { return *sync_host_; }
  Contents Snapshot() const;
  // Snapshot and what else an input can leave behind: knowledge, cursors, the delta log.
  std::string Fingerprint() const;

 private:
  std::unique_ptr<rocksdb::Env> env_;
  crdt::ManualClock clock_{kNowMs};
  std::unique_ptr<storage::Store> store_;
  std::unique_ptr<engine::Engine> engine_;
  std::unique_ptr<replication::ReplicationHost> replication_host_;
  std::unique_ptr<antientropy::SyncHost> sync_host_;
};

// Node "b" as Populate left it, for the next input. Opening a store costs about 0.3 s under
// ASan (RocksDB writes and verifies an options file per column family), so the node the
// last input used is reused unless that input changed it (Fingerprint): every input still
// meets the same node. (Not compared: the hybrid logical clock, which a received stamp may
// have moved within the maximum offset.)
FuzzNode& PristineNode();

// Writes objects of every type under the names the seeds use (fuzz/make_seeds.cc), variant
// choosing different ops for different nodes, so that fuzzed deltas and states meet existing
// ones (type conflicts included).
void Populate(engine::Engine& engine, int variant);

// The session options of node "b"'s anti-entropy sessions (small, so that a few replies
// reach every phase).
inline antientropy::SessionOptions SessionOptionsForFuzz() {
  antientropy::SessionOptions options;
  options.objects_per_request = 4;
  options.buckets_per_request = 8;
  return options;
}

// The nodes of the fuzzed cluster: the fuzz node "b" and its peers "a" and "c" (mesh).
inline const replication::PeerInfo kSelf{"b", "eu"};
inline const std::vector<replication::PeerInfo> kPeers{{"a", "us"}, {"c", "ap"}};

}  // namespace geodatastore::fuzz
