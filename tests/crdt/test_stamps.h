// Stamps for tests: time t (milliseconds) at replica r.
#pragma once

#include "crdt/clock.h"

namespace geodatastore::crdt {

inline Stamp At(uint64_t t, ReplicaId r = 1) { return {{t, 0}, r}; }

}  // namespace geodatastore::crdt
