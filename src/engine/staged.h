// Engine internals shared by its source files (engine.cc: local ops; remote.cc: what comes
// from other replicas): an object as one batch stages it, and how errors name an object.
#pragma once

#include <optional>
#include <string>

#include "engine/engine.h"

namespace geodatastore::engine {

namespace internal {

// "counter 'hits'": an object as errors name it.
inline std::string Describe(const storage::ObjectKey& key) {
  std::string family(storage::FamilyName(key.family));
  family.pop_back();  // "counters" -> "counter"
  return family + " '" + key.name + "'";
}

}  // namespace internal

// An object's state as the ops of one batch see it.
struct Engine::Staged {
  size_t bytes = 0;  // of the encoded state, as last loaded or written
  storage::ObjectKey key;
  std::optional<v1::CrdtType> type;  // nullopt: does not exist (yet)
  crdt::AnyCrdt state;
  bool in_store = false;  // exists in the store (the catalog entry is written)
  // The Merkle digest of the state as the writes staged so far leave it in the store; none
  // if not stored yet, or after a deferred write (the store keeps the object dirty).
  std::optional<storage::Digest> digest;
};

}  // namespace geodatastore::engine
