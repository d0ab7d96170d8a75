// Config: the node's YAML configuration (API.md, "Configuration") as plain structs with
// documented defaults, validated once at start. Every unknown key, missing required key or
// bad value is an error whose message is one line naming the key.
//
// Thread safety: plain values.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace geodatastore::config {

struct Peer {
  std::string id;      // required
  std::string region;  // required
  std::string grpc;    // required, host:port
};

struct Config {
  struct Node {
    std::string id;        // required, e.g. us-east-1
    std::string region;    // required, e.g. us-east
    std::string data_dir;  // default ./data/<id>
  } node;
  struct Listen {
    std::string http = "127.0.0.1:8080";
    std::string grpc = "127.0.0.1:9090";
    std::string resp = "127.0.0.1:6380";
    // Node-to-node gRPC (ReplicationService, AntiEntropyService), mutual TLS. Required with
    // security.tls; without it ("") those services share the grpc listener (plaintext).
    std::string peer;
  } listen;
  struct Cluster {
    std::string name = "local";
    std::vector<Peer> peers;
  } cluster;
  struct Replication {
    uint32_t flush_interval_ms = 5;
    uint64_t max_batch_bytes = 1 << 20;
    std::string compression = "gzip";  // gzip | none
    std::string topology = "mesh";     // mesh | gateway
    bool delta_groups = true;          // join deltas of the same key within a batch
  } replication;
  struct AntiEntropy {
    uint32_t interval_s = 30;
    // Objects a session may pull plus push per second, so that repair leaves room for
    // clients; 0: no limit.
    uint64_t max_objects_per_second = 50000;
    // Tombstone collection (2P-Set, LWW-element-set, LWW graph): seconds between the end of
    // a round and the next; 0: never collect.
    uint32_t tombstone_interval_s = 60;
  } anti_entropy;
  struct Consistency {
    std::string default_read = "eventual";  // eventual | local_quorum | quorum | all
    std::string default_write = "eventual";
    uint32_t timeout_ms = 2000;
  } consistency;
  struct Clock {
    uint64_t max_offset_ms = 500;
  } clock;
  struct Storage {
    bool sync_writes = false;  // fsync the WAL on every batch
  } storage;
  struct Limits {
    uint64_t max_key_bytes = 1024;
    uint64_t max_element_bytes = 65536;
    uint64_t max_request_bytes = 1048576;
    uint32_t max_connections = 10000;  // per front end (REST, RESP), as Redis maxclients
    // RESP connections, gRPC connections without a call (client and peer listeners) and
    // silent inbound replication streams are closed after this long; 0: never.
    uint32_t idle_timeout_s = 300;
    // A set's or graph's elements (tombstones included) that a client op may bring it to;
    // replicated deltas merge regardless. 0: no cap.
    uint64_t max_collection_elements = 1000000;
    // The budget of one path search (GET .../paths): paths found, and search steps.
    uint64_t max_paths = 1000;
    uint64_t max_path_steps = 100000;
    // Requests that may wait at once (session tokens not yet applied here, quorum/all
    // consistency) — parked, holding no thread; more are answered "unavailable" at once.
    uint32_t max_waiting_requests = 1024;
  } limits;
  struct Security {
    struct Tls {
      std::string ca_file;    // the cluster CA: peers and clients are verified against it
      std::string cert_file;  // this node's certificate; a DNS SAN of it is the node id
      std::string key_file;
      bool clients = false;  // REST (HTTPS), client gRPC and RESP on TLS too
    } tls;                   // on when ca_file is set (then all three files are required)
    std::string users_file;  // users, argon2id hashes, roles; "" = no authentication
    std::string backup_dir;  // the only place Checkpoint may write; "" = <data_dir>/../backups
    bool insecure = false;   // allow a non-loopback listener without TLS and users
    bool tls_enabled() const { return !tls.ca_file.empty(); }
  } security;
  struct Testing {
    bool fault_injection = false;
  } testing;
};

// Parses and validates YAML text.
StatusOr<Config> ParseConfig(std::string_view yaml);
// Reads and parses a file; the error names the file too.
StatusOr<Config> LoadConfig(const std::string& path);

// True for 127.0.0.0/8, ::1 and localhost.
bool IsLoopbackHost(std::string_view host);

// Splits "host:port"; false unless port is 0..65535 and host is non-empty.
bool SplitHostPort(std::string_view address, std::string* host, uint16_t* port);

}  // namespace geodatastore::config
