// Metrics: the node's Prometheus metrics, declared here in one list, and their text
// exposition for GET /metrics.
//
//   geodatastore_operations_total{type,op,region}     counter: ops applied or read
//   geodatastore_operation_duration_seconds{kind}     histogram: read / write latency
//   geodatastore_keys{type}                           gauge: objects per type
//   geodatastore_storage_live_sst_bytes               gauge: RocksDB live SST files
//   geodatastore_storage_memtable_bytes               gauge
//   geodatastore_storage_pending_compaction_bytes     gauge
//   geodatastore_rejected_payloads_total{reason}      counter: bad requests and payloads;
//                                                     reasons: bad_request, limit, clock_offset,
//                                                     counter_overflow, element_size, key_size,
//                                                     replica_id, dot, knowledge, corrupt,
//                                                     corrupt_batch,
//                                                     checksum, spoofed_sender, unknown_peer,
//                                                     unauthenticated_peer, forged_ack,
//                                                     forged_relay, forged_covered, forged_progress,
//                                                     clock_fenced (LWW writes refused)
//   geodatastore_http_requests_total{code}            counter
//   geodatastore_uptime_seconds                       gauge
//   geodatastore_waiting_requests                     gauge: requests parked for a session
//                                                     token or a consistency level
//   geodatastore_peer_up{peer}                        gauge: 1 up, 0 suspect or down
//   geodatastore_replication_lag_ops{peer}            gauge: own writes the peer has not
//                                                     acknowledged
//   geodatastore_replication_lag_seconds{peer,peer_region}  gauge: age of the oldest of them
//   geodatastore_replication_bytes_total{peer,direction}    counter
//   geodatastore_replication_relayed_batches_total    counter: delta groups a gateway forwarded
//   geodatastore_replication_inbound_streams          gauge: StreamDeltas streams peers hold open
//                                                     to this node
//   geodatastore_replication_streams_idle_closed_total  counter: of them, closed for silence
//                                                     (limits.idle_timeout_s)
//   geodatastore_conflicts_resolved_total{type,kind}  counter
//   geodatastore_anti_entropy_syncs_total{peer,result}  counter: sessions this node started
//   geodatastore_anti_entropy_keys_repaired_total     counter: objects they changed, either side
//   geodatastore_anti_entropy_bytes_total{direction}  counter
//   geodatastore_anti_entropy_session_seconds         histogram
//   geodatastore_read_repairs_total                   counter: replicas a read wrote back to
//   geodatastore_tombstones{type}                     gauge: removed elements held (2P-Set,
//                                                     LWW-element-set, graph); counted by a
//                                                     scan at most every 10 s, and at the
//                                                     next scrape after a collection
//   geodatastore_tombstones_collected_total           counter: tombstones collected here
//   geodatastore_clock_offset_seconds                 gauge: this node's clock minus the
//                                                     median of its linked peers'
//   geodatastore_clock_fenced                         gauge: 1 while LWW writes are refused
//                                                     (Engine::SetClockFence)
//   geodatastore_conflicts_resolved_total kinds include type (the loser kept under
//   /admin/lost) and type_embedded (both kept)
//
// Thread safety: every method may be called from any thread.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <array>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "antientropy/grpc_sync.h"
#include "engine/engine.h"
#include "replication/grpc_transport.h"

namespace geodatastore::server {

class Metrics : public engine::OpObserver {
 public:
  // REQUIRES: store outlives the metrics.
  Metrics(std::string region, const storage::Store* store,
          replication::GrpcReplication* replication = nullptr);

  void OnApplied(v1::CrdtType type, const engine::Op& op, double seconds) override;
  void OnRead(v1::CrdtType type, double seconds);
  void OnRejected(std::string_view reason) override;
  // A client request a front end (REST, gRPC) refused, counted as a rejected payload when it
  // is one: bad input under its validation reason (clock_offset, element_size, ...) or
  // bad_request, a limit under limit; any other status is not counted.
  void OnRefused(const Status& status);
  void OnHttpAnswer(int code);
  void OnConflict(v1::CrdtType type, std::string_view kind);
  void OnSync(const antientropy::SyncResult& result);
  void OnReadRepair(uint64_t replicas) { read_repairs_.Increment(static_cast<double>(replicas)); }
  void OnTombstonesCollected(uint64_t n);
  void OnAuthFailure(std::string_view frontend, std::string_view reason);
  void OnHandshakeFailure(std::string_view listener);
  // This node's clock offset from its peers, and whether it fences itself (Engine).
  void SetClock(int64_t offset_ms, bool fenced);
  // When this node's certificate expires (seconds since the epoch).
  void SetCertificateExpiry(int64_t not_after_unix);

  // How many requests are parked waiting (Waits::parked). Set once, before serving.
  void set_waiting(std::function<size_t()> waiting) { waiting_ = std::move(waiting); }

  // The Prometheus text exposition of every metric, with gauges refreshed first.
  std::string Render();

 private:
  prometheus::Counter& Operation(v1::CrdtType type, std::string_view op);
  // The replication gauges and counters, from replication_ (not null).
  void RefreshReplication();

  const std::string region_;
  const storage::Store* const store_;
  const std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  std::shared_ptr<prometheus::Registry> registry_ = std::make_shared<prometheus::Registry>();
  prometheus::Family<prometheus::Counter>& operations_;
  prometheus::Family<prometheus::Histogram>& durations_;
  prometheus::Histogram& write_duration_;
  prometheus::Histogram& read_duration_;
  prometheus::Family<prometheus::Gauge>& keys_;
  prometheus::Gauge& live_sst_bytes_;
  prometheus::Gauge& memtable_bytes_;
  prometheus::Gauge& pending_compaction_bytes_;
  prometheus::Family<prometheus::Counter>& rejected_;
  prometheus::Family<prometheus::Counter>& auth_failures_;
  prometheus::Family<prometheus::Counter>& handshake_failures_;
  prometheus::Family<prometheus::Gauge>& certificate_expiry_;
  prometheus::Gauge& clock_offset_;
  prometheus::Gauge& clock_fenced_;
  prometheus::Family<prometheus::Counter>& http_requests_;
  prometheus::Gauge& uptime_;
  prometheus::Gauge& waiting_requests_;
  std::function<size_t()> waiting_;
  prometheus::Family<prometheus::Gauge>& peer_up_;
  prometheus::Family<prometheus::Gauge>& lag_ops_;
  prometheus::Family<prometheus::Gauge>& lag_seconds_;
  prometheus::Family<prometheus::Counter>& replication_bytes_;
  prometheus::Family<prometheus::Counter>& conflicts_;
  prometheus::Counter& relayed_;
  prometheus::Gauge& inbound_streams_;
  prometheus::Counter& streams_idle_closed_;
  prometheus::Family<prometheus::Counter>& syncs_;
  prometheus::Counter& keys_repaired_;
  prometheus::Family<prometheus::Counter>& sync_bytes_;
  prometheus::Histogram& sync_seconds_;
  prometheus::Counter& read_repairs_;
  prometheus::Counter& tombstones_collected_;
  prometheus::Family<prometheus::Gauge>& tombstones_;
  std::chrono::steady_clock::time_point tombstones_counted_{};  // guarded by mu_
  replication::GrpcReplication* const replication_;
  std::map<std::string, double> bytes_seen_;       // guarded by mu_: last cumulative values
  replication::ReplicatorCounters counters_seen_;  // guarded by mu_
  uint64_t idle_closed_seen_ = 0;                  // guarded by mu_

  std::mutex mu_;  // guards the caches below (Family::Add is costly on the hot path)
  std::map<std::pair<int, std::string>, prometheus::Counter*, std::less<>> op_counters_;
};

}  // namespace geodatastore::server
