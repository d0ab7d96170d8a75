// Who this node is in the dots and sequence numbers it issues: its configured id plus a
// replica epoch. A node started on a restored checkpoint (or a fresh data directory) takes
// a new epoch, and so a new replica id, so the dots it issues next can never collide with
// dots it issued before the snapshot.
//
// Thread safety: LoadIdentity is called once at start, before the store is shared.
#pragma once

#include <string>

#include "common/status.h"
#include "crdt/clock.h"
#include "storage/store.h"

namespace geodatastore::storage {

struct NodeIdentity {
  std::string node_id;
  uint64_t epoch = 0;
  crdt::ReplicaId replica = 0;  // hash of node id and epoch; never 0
  // Set by LoadIdentity: why it took a new epoch after a restart that went backwards (empty
  // if it did not), and the physical time no stamp may be issued below (HighWater).
  std::string new_epoch_reason;
  uint64_t hlc_floor_ms = 0;
};

crdt::ReplicaId ReplicaIdOf(const std::string& node_id, uint64_t epoch);

// The sum over origins of the seqs applied here (HighWater::applied_total): of what the store
// holds, or of (origin, seq) pairs.
StatusOr<uint64_t> AppliedTotal(const Store& store);
template <typename Applied>
uint64_t SumOfApplied(const Applied& applied) {
  uint64_t total = 0;
  for (const auto& [origin, seq] : applied) total += seq;
  return total;
}

// Reads the identity kept in store, taking a new epoch in a new directory, after a restore,
// and when the store went backwards: RocksDB dropped write-ahead-log records
// (Store::wal_loss), its delta log ends below the committed seq in HIGH_WATER, or that file
// is unreadable. kFailedPrecondition if the directory belongs to another node id.
// clock: where a new epoch's number comes from (nullptr: the system clock; the simulator
// passes its own, so that a replayed seed takes the same replica ids).
StatusOr<NodeIdentity> LoadIdentity(Store& store, const std::string& node_id,
                                    crdt::PhysicalClock* clock = nullptr);

}  // namespace geodatastore::storage
