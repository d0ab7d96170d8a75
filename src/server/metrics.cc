#include "server/metrics.h"

#include <prometheus/text_serializer.h>

#include "crdt/any_crdt.h"
#include "crdt/validate.h"
#include "engine/engine.h"

namespace geodatastore::server {

namespace {

prometheus::Histogram::BucketBoundaries LatencyBuckets() {
  return {0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
          0.025,   0.05,   0.1,     0.25,   0.5,   1,      2.5};
}

}  // namespace

Metrics::Metrics(std::string region, const storage::Store* store,
                 replication::GrpcReplication* replication)
    : region_(std::move(region)),
      store_(store),
      operations_(prometheus::BuildCounter()
                      .Name("geodatastore_operations_total")
                      .Help("Operations applied or read, by CRDT type and operation")
                      .Register(*registry_)),
      durations_(prometheus::BuildHistogram()
                     .Name("geodatastore_operation_duration_seconds")
                     .Help("Time to apply or read one operation inside the node")
                     .Register(*registry_)),
      write_duration_(durations_.Add({{"kind", "write"}}, LatencyBuckets())),
      read_duration_(durations_.Add({{"kind", "read"}}, LatencyBuckets())),
      keys_(prometheus::BuildGauge()
                .Name("geodatastore_keys")
                .Help("Objects per CRDT type")
                .Register(*registry_)),
      live_sst_bytes_(prometheus::BuildGauge()
                          .Name("geodatastore_storage_live_sst_bytes")
                          .Help("Bytes of live RocksDB SST files (size on disk)")
                          .Register(*registry_)
                          .Add({})),
      memtable_bytes_(prometheus::BuildGauge()
                          .Name("geodatastore_storage_memtable_bytes")
                          .Help("Bytes in RocksDB memtables")
                          .Register(*registry_)
                          .Add({})),
      pending_compaction_bytes_(
          prometheus::BuildGauge()
              .Name("geodatastore_storage_pending_compaction_bytes")
              .Help("RocksDB's estimate of bytes compaction still has to rewrite")
              .Register(*registry_)
              .Add({})),
      rejected_(prometheus::BuildCounter()
                    .Name("geodatastore_rejected_payloads_total")
                    .Help("Requests or payloads refused as invalid or over a limit, by reason")
                    .Register(*registry_)),
      auth_failures_(prometheus::BuildCounter()
                         .Name("geodatastore_auth_failures_total")
                         .Help("Client requests refused: no, wrong or insufficient credentials")
                         .Register(*registry_)),
      handshake_failures_(prometheus::BuildCounter()
                              .Name("geodatastore_tls_handshake_failures_total")
                              .Help("TLS handshakes that failed, by listener")
                              .Register(*registry_)),
      certificate_expiry_(prometheus::BuildGauge()
                              .Name("geodatastore_certificate_expiry_seconds")
                              .Help("When this node's TLS certificate expires (Unix time)")
                              .Register(*registry_)),
      clock_offset_(prometheus::BuildGauge()
                        .Name("geodatastore_clock_offset_seconds")
                        .Help("This node's clock minus the median of its linked peers' clocks")
                        .Register(*registry_)
                        .Add({})),
      clock_fenced_(prometheus::BuildGauge()
                        .Name("geodatastore_clock_fenced")
                        .Help("1 while this node refuses LWW writes: its clock is more than "
                              "80% of clock.max_offset_ms from most of its peers'")
                        .Register(*registry_)
                        .Add({})),
      http_requests_(prometheus::BuildCounter()
                         .Name("geodatastore_http_requests_total")
                         .Help("HTTP answers by status code")
                         .Register(*registry_)),
      uptime_(prometheus::BuildGauge()
                  .Name("geodatastore_uptime_seconds")
                  .Help("Seconds since the node started")
                  .Register(*registry_)
                  .Add({})),
      waiting_requests_(prometheus::BuildGauge()
                            .Name("geodatastore_waiting_requests")
                            .Help("Requests parked for a session token or a consistency level")
                            .Register(*registry_)
                            .Add({})),
      peer_up_(prometheus::BuildGauge()
                   .Name("geodatastore_peer_up")
                   .Help("1 if the peer is up")
                   .Register(*registry_)),
      lag_ops_(prometheus::BuildGauge()
                   .Name("geodatastore_replication_lag_ops")
                   .Help("Own writes the peer has not acknowledged")
                   .Register(*registry_)),
      lag_seconds_(prometheus::BuildGauge()
                       .Name("geodatastore_replication_lag_seconds")
                       .Help("Age of the oldest write the peer has not acknowledged")
                       .Register(*registry_)),
      replication_bytes_(prometheus::BuildCounter()
                             .Name("geodatastore_replication_bytes_total")
                             .Help("Replication bytes exchanged with a peer")
                             .Register(*registry_)),
      conflicts_(prometheus::BuildCounter()
                     .Name("geodatastore_conflicts_resolved_total")
                     .Help("Conflicts resolved while applying remote deltas, by type and kind")
                     .Register(*registry_)),
      relayed_(prometheus::BuildCounter()
                   .Name("geodatastore_replication_relayed_batches_total")
                   .Help("Delta groups of other nodes this gateway forwarded")
                   .Register(*registry_)
                   .Add({})),
      inbound_streams_(prometheus::BuildGauge()
                           .Name("geodatastore_replication_inbound_streams")
                           .Help("StreamDeltas streams peers hold open to this node")
                           .Register(*registry_)
                           .Add({})),
      streams_idle_closed_(prometheus::BuildCounter()
                               .Name("geodatastore_replication_streams_idle_closed_total")
                               .Help("Inbound StreamDeltas streams closed for silence")
                               .Register(*registry_)
                               .Add({})),
      syncs_(prometheus::BuildCounter()
                 .Name("geodatastore_anti_entropy_syncs_total")
                 .Help("Anti-entropy sessions this node started, by peer and result")
                 .Register(*registry_)),
      keys_repaired_(prometheus::BuildCounter()
                         .Name("geodatastore_anti_entropy_keys_repaired_total")
                         .Help("Objects whose state anti-entropy changed, on either side")
                         .Register(*registry_)
                         .Add({})),
      sync_bytes_(prometheus::BuildCounter()
                      .Name("geodatastore_anti_entropy_bytes_total")
                      .Help("Anti-entropy request and reply bytes, by direction")
                      .Register(*registry_)),
      sync_seconds_(prometheus::BuildHistogram()
                        .Name("geodatastore_anti_entropy_session_seconds")
                        .Help("Duration of anti-entropy sessions")
                        .Register(*registry_)
                        .Add({}, prometheus::Histogram::BucketBoundaries{0.001, 0.01, 0.1, 0.5, 1,
                                                                         5, 10, 30, 60, 300})),
      read_repairs_(prometheus::BuildCounter()
                        .Name("geodatastore_read_repairs_total")
                        .Help("Replicas a read above eventual found behind and wrote back to")
                        .Register(*registry_)
                        .Add({})),
      tombstones_collected_(prometheus::BuildCounter()
                                .Name("geodatastore_tombstones_collected_total")
                                .Help("Tombstones this node collected once every replica had "
                                      "seen their removal")
                                .Register(*registry_)
                                .Add({})),
      tombstones_(prometheus::BuildGauge()
                      .Name("geodatastore_tombstones")
                      .Help("Removed elements the types that need tombstones hold")
                      .Register(*registry_)),
      replication_(replication) {}

void Metrics::OnTombstonesCollected(uint64_t n) {
  tombstones_collected_.Increment(static_cast<double>(n));
  std::lock_guard<std::mutex> lock(mu_);
  tombstones_counted_ = {};  // count again at the next scrape
}

prometheus::Counter& Metrics::Operation(v1::CrdtType type, std::string_view op) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = op_counters_.find(std::pair<int, std::string>(type, op));
  if (it != op_counters_.end()) return *it->second;
  prometheus::Counter& c = operations_.Add(
      {{"type", std::string(crdt::TypeName(type))}, {"op", std::string(op)}, {"region", region_}});
  op_counters_.emplace(std::pair<int, std::string>(type, op), &c);
  return c;
}

void Metrics::OnApplied(v1::CrdtType type, const engine::Op& op, double seconds) {
  Operation(type, op.Name()).Increment();
  write_duration_.Observe(seconds);
}

void Metrics::OnRead(v1::CrdtType type, double seconds) {
  Operation(type, "read").Increment();
  read_duration_.Observe(seconds);
}

void Metrics::OnRejected(std::string_view reason) {
  rejected_.Add({{"reason", std::string(reason)}}).Increment();
}

void Metrics::OnRefused(const Status& status) {
  switch (status.code()) {
    case StatusCode::kInvalidArgument:
    case StatusCode::kOutOfRange: {
      const std::string_view reason = crdt::RejectionReason(status);
      return OnRejected(reason.empty() ? "bad_request" : reason);
    }
    case StatusCode::kResourceExhausted:
      return OnRejected("limit");
    case StatusCode::kUnavailable:
      if (status.message().starts_with(engine::Engine::kClockFenced)) OnRejected("clock_fenced");
      return;
    default:
      return;
  }
}

void Metrics::OnAuthFailure(std::string_view frontend, std::string_view reason) {
  auth_failures_.Add({{"frontend", std::string(frontend)}, {"reason", std::string(reason)}})
      .Increment();
}

void Metrics::OnHandshakeFailure(std::string_view listener) {
  handshake_failures_.Add({{"listener", std::string(listener)}}).Increment();
}

void Metrics::SetClock(int64_t offset_ms, bool fenced) {
  clock_offset_.Set(static_cast<double>(offset_ms) / 1000.0);
  clock_fenced_.Set(fenced ? 1 : 0);
}

void Metrics::SetCertificateExpiry(int64_t not_after_unix) {
  certificate_expiry_.Add({}).Set(static_cast<double>(not_after_unix));
}

void Metrics::OnConflict(v1::CrdtType type, std::string_view kind) {
  conflicts_.Add({{"type", std::string(crdt::TypeName(type))}, {"kind", std::string(kind)}})
      .Increment();
}

void Metrics::OnSync(const antientropy::SyncResult& r) {
  syncs_.Add({{"peer", r.peer}, {"result", r.result}}).Increment();
  keys_repaired_.Increment(static_cast<double>(r.stats.repaired_here + r.stats.repaired_there));
  sync_bytes_.Add({{"direction", "sent"}}).Increment(static_cast<double>(r.stats.bytes_sent));
  sync_bytes_.Add({{"direction", "received"}})
      .Increment(static_cast<double>(r.stats.bytes_received));
  sync_seconds_.Observe(r.seconds);
}

void Metrics::OnHttpAnswer(int code) {
  http_requests_.Add({{"code", std::to_string(code)}}).Increment();
}

void Metrics::RefreshReplication() {
  const uint64_t now_ms =
      static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                std::chrono::system_clock::now().time_since_epoch())
                                .count());
  const replication::ReplicatorCounters counters = replication_->Counters();
  std::lock_guard<std::mutex> lock(mu_);
  for (const replication::PeerView& p : replication_->Peers()) {
    peer_up_.Add({{"peer", p.id}}).Set(p.state == replication::PeerState::kUp ? 1 : 0);
    lag_ops_.Add({{"peer", p.id}}).Set(static_cast<double>(p.behind_ops));
    const double lag = replication::SecondsBehind(p, now_ms);
    lag_seconds_.Add({{"peer", p.id}, {"peer_region", p.region}}).Set(lag);
    for (auto [direction, value] :
         {std::pair{"sent", p.bytes_sent}, std::pair{"received", p.bytes_received}}) {
      double& seen = bytes_seen_[p.id + "/" + direction];
      replication_bytes_.Add({{"peer", p.id}, {"direction", direction}})
          .Increment(static_cast<double>(value) - seen);
      seen = static_cast<double>(value);
    }
  }
  rejected_.Add({{"reason", "clock_offset"}})
      .Increment(static_cast<double>(counters.rejected_clock - counters_seen_.rejected_clock));
  rejected_.Add({{"reason", "corrupt_batch"}})
      .Increment(static_cast<double>(counters.rejected_corrupt - counters_seen_.rejected_corrupt));
  relayed_.Increment(static_cast<double>(counters.relayed - counters_seen_.relayed));
  counters_seen_ = counters;
  inbound_streams_.Set(static_cast<double>(replication_->inbound_streams()));
  const uint64_t idle_closed = replication_->idle_closed();
  streams_idle_closed_.Increment(static_cast<double>(idle_closed - idle_closed_seen_));
  idle_closed_seen_ = idle_closed;
}

std::string Metrics::Render() {
  for (v1::CrdtType t : crdt::kAllTypes) {
    keys_.Add({{"type", std::string(crdt::TypeName(t))}})
        .Set(static_cast<double>(store_->KeyCount(t)));
  }
  {
    // A scan of three column families: at most every 10 s.
    std::lock_guard<std::mutex> lock(mu_);
    const auto now = std::chrono::steady_clock::now();
    if (tombstones_counted_ == std::chrono::steady_clock::time_point{} ||
        now - tombstones_counted_ >= std::chrono::seconds(10)) {
      tombstones_counted_ = now;
      for (v1::CrdtType t : {v1::TWO_P_SET, v1::LWW_SET, v1::LWW_GRAPH}) {
        uint64_t count = 0;
        const Status s = store_->ScanStates(t, [&](std::string_view, std::string_view bytes) {
          auto state = crdt::DecodeAnyAs(t, std::string(bytes));
          if (!state.ok()) return;
          std::visit(
              [&](const auto& v) {
                if constexpr (requires { v.tombstones(); }) count += v.tombstones();
              },
              *state);
        });
        if (s.ok()) tombstones_.Add({{"type", std::string(crdt::TypeName(t))}}).Set(count);
      }
    }
  }
  const storage::StoreStats stats = store_->Stats();
  live_sst_bytes_.Set(static_cast<double>(stats.live_sst_bytes));
  memtable_bytes_.Set(static_cast<double>(stats.memtable_bytes));
  pending_compaction_bytes_.Set(static_cast<double>(stats.pending_compaction_bytes));
  uptime_.Set(std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count());
  if (waiting_) waiting_requests_.Set(static_cast<double>(waiting_()));
  if (replication_ != nullptr) RefreshReplication();
  return prometheus::TextSerializer().Serialize(registry_->Collect());
}

}  // namespace geodatastore::server
