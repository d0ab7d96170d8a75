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
};

crdt::ReplicaId ReplicaIdOf(const std::string& node_id, uint64_t epoch);

// Reads the identity kept in store, taking a new epoch in a new directory and after a
// restore; kFailedPrecondition if the directory belongs to another node id.
StatusOr<NodeIdentity> LoadIdentity(Store& store, const std::string& node_id);

}  // namespace geodatastore::storage
