#include "storage/node_identity.h"

#include <xxhash.h>

#include <algorithm>

namespace geodatastore::storage {

crdt::ReplicaId ReplicaIdOf(const std::string& node_id, uint64_t epoch) {
  const std::string seed = node_id + "/" + std::to_string(epoch);
  const uint64_t id = XXH3_64bits(seed.data(), seed.size());
  return id == 0 ? 1 : id;
}

StatusOr<NodeIdentity> LoadIdentity(Store& store, const std::string& node_id) {
  GDS_ASSIGN_OR_RETURN(auto stored_id, store.GetMeta("node_id"));
  if (stored_id && *stored_id != node_id) {
    return FailedPrecondition("data directory belongs to node '" + *stored_id + "', not '" +
                              node_id + "'");
  }
  GDS_ASSIGN_OR_RETURN(auto stored_epoch, store.GetMeta("epoch"));
  GDS_ASSIGN_OR_RETURN(auto restored, store.GetMeta(kNewEpochMetaKey));
  // A new epoch is the wall-clock millisecond it was taken: a node whose disk was wiped
  // gets a fresh replica id too, since it cannot remember its old epoch.
  const uint64_t now_ms = crdt::SystemClock().NowMillis();
  uint64_t epoch = now_ms;
  if (stored_epoch) {
    try {
      epoch = std::stoull(*stored_epoch);
    } catch (const std::exception&) {
      return Corruption("stored replica epoch '" + *stored_epoch + "' is not a number");
    }
    if (restored) epoch = std::max(epoch + 1, now_ms);
  }
  if (!stored_id) GDS_RETURN_IF_ERROR(store.PutMeta("node_id", node_id));
  if (!stored_epoch || restored) GDS_RETURN_IF_ERROR(store.PutMeta("epoch", std::to_string(epoch)));
  if (restored) GDS_RETURN_IF_ERROR(store.DeleteMeta(kNewEpochMetaKey));
  return NodeIdentity{node_id, epoch, ReplicaIdOf(node_id, epoch)};
}

}  // namespace geodatastore::storage
