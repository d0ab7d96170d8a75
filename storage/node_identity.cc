#include "storage/node_identity.h"

#include <xxhash.h>

#include <algorithm>
#include <optional>

#include "storage/high_water.h"

namespace geodatastore::storage {

crdt::ReplicaId ReplicaIdOf(const std::string& node_id, uint64_t epoch) {
  const std::string seed = node_id + "/" + std::to_string(epoch);
  const uint64_t id = XXH3_64bits(seed.data(), seed.size());
  return id == 0 ? 1 : id;
}

StatusOr<uint64_t> AppliedTotal(const Store& store) {
  GDS_ASSIGN_OR_RETURN(auto applied, store.LoadApplied());
  return SumOfApplied(applied);
}

StatusOr<NodeIdentity> LoadIdentity(Store& store, const std::string& node_id,
                                    crdt::PhysicalClock* clock) {
  GDS_ASSIGN_OR_RETURN(auto stored_id, store.GetMeta("node_id"));
  if (stored_id && *stored_id != node_id) {
    return FailedPrecondition("data directory belongs to node '" + *stored_id + "', not '" +
                              node_id + "'");
  }
  GDS_ASSIGN_OR_RETURN(auto stored_epoch, store.GetMeta("epoch"));
  GDS_ASSIGN_OR_RETURN(std::optional<std::string> restored, store.GetMeta(kNewEpochMetaKey));
  if (restored) restored = "started on a restored checkpoint";
  HighWaterFile marks_file(store.env(), store.path());
  StatusOr<std::optional<HighWater>> marks = marks_file.Load();
  if (!marks.ok()) {
    restored = "its high-water file is unreadable (" + marks.status().message() + ")";
  } else if (!store.wal_loss().empty()) {
    restored = "RocksDB dropped write-ahead-log records (" + store.wal_loss() + ")";
  } else if (*marks && stored_epoch && std::to_string((*marks)->epoch) != *stored_epoch) {
    restored = "its store holds epoch " + *stored_epoch + ", not the " +
               std::to_string((*marks)->epoch) + " of its high-water file";
  } else if (*marks && stored_epoch) {
    GDS_ASSIGN_OR_RETURN(uint64_t last, store.LastSeq(ReplicaIdOf(node_id, (*marks)->epoch)));
    GDS_ASSIGN_OR_RETURN(uint64_t applied, AppliedTotal(store));
    if (last < (*marks)->committed_seq) {
      restored = "its delta log ends at seq " + std::to_string(last) + ", below the " +
                 std::to_string((*marks)->committed_seq) + " it had committed";
    } else if (applied < (*marks)->applied_total) {
      restored = "it holds " + std::to_string(applied) + " of its peers' writes, fewer than the " +
                 std::to_string((*marks)->applied_total) + " it had applied";
    }
  }
  // A new epoch is the wall-clock millisecond it was taken: a node whose disk was wiped
  // gets a fresh replica id too, since it cannot remember its old epoch.
  crdt::SystemClock system;
  const uint64_t now_ms = (clock != nullptr ? clock : &system)->NowMillis();
  uint64_t epoch = now_ms;
  if (stored_epoch) {
    try {
      epoch = std::stoull(*stored_epoch);
    } catch (const std::exception&) {
      return Corruption("stored replica epoch '" + *stored_epoch + "' is not a number");
    }
    if (restored) epoch = std::max(epoch + 1, now_ms);
  }
  if (marks.ok() && *marks && restored) epoch = std::max(epoch, (*marks)->epoch + 1);
  if (!stored_id) GDS_RETURN_IF_ERROR(store.PutMeta("node_id", node_id));
  if (!stored_epoch || restored) GDS_RETURN_IF_ERROR(store.PutMeta("epoch", std::to_string(epoch)));
  if (restored) GDS_RETURN_IF_ERROR(store.DeleteMeta(kNewEpochMetaKey));
  NodeIdentity identity{node_id, epoch, ReplicaIdOf(node_id, epoch)};
  if (stored_epoch && restored) identity.new_epoch_reason = *restored;
  if (marks.ok() && *marks) identity.hlc_floor_ms = (*marks)->hlc_ceiling_ms;
  // The marks of the epoch now in use: later raised by the engine (Engine::SaveHighWater).
  GDS_ASSIGN_OR_RETURN(uint64_t last, store.LastSeq(identity.replica));
  // A new epoch entry must not be lost behind the file (on a restart that keeps its epoch
  // there is nothing new to flush).
  if (!stored_epoch || restored) GDS_RETURN_IF_ERROR(store.Flush());
  GDS_ASSIGN_OR_RETURN(uint64_t applied, AppliedTotal(store));
  GDS_RETURN_IF_ERROR(marks_file.Save({epoch, last, identity.hlc_floor_ms, applied}));
  return identity;
}

}  // namespace geodatastore::storage
