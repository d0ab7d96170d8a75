// Op: one client operation on a named object, as every front end (REST, gRPC, RESP)
// parses it; and the function that turns an op into a CRDT delta.
//
// Thread safety: plain values and a pure function.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "crdt/any_crdt.h"
#include "geodatastore/v1/storage.pb.h"

namespace geodatastore::engine {

struct Op {
  enum class Kind {
    kCreate,        // type (+ initial_value, bias); succeeds without change if it exists as type
    kIncrement,     // amount; creates a pn_counter if absent
    kDecrement,     // amount; refused on a g_counter
    kAdd,           // elements; creates an or_set if absent
    kRemove,        // elements; refused on a g_set
    kSet,           // value (+ timestamp); creates type (default lww_register) if absent
    kAddVertex,     // vertex; creates an lww_graph if absent
    kRemoveVertex,  // vertex
    kAddEdge,       // from, to; creates an lww_graph if absent
    kRemoveEdge,    // from, to
  };

  Kind kind = Kind::kCreate;
  std::optional<v1::CrdtType> type;   // kCreate, kSet: the type asked for
  int64_t initial_value = 0;          // kCreate of a counter
  std::optional<crdt::LwwBias> bias;  // kCreate of an lww_set
  uint64_t amount = 0;                // kIncrement, kDecrement
  std::vector<std::string> elements;  // kAdd, kRemove
  std::string value;                  // kSet
  std::optional<uint64_t> timestamp;  // kSet and LWW ops: caller's timestamp, milliseconds
  std::string vertex;                 // kAddVertex, kRemoveVertex
  std::string from, to;               // edges
  // One keyspace (the Redis protocol): an op that would create the object is refused with
  // kWrongType if the name exists in another family.
  bool one_keyspace = false;

  // The family whose names the op addresses.
  v1::Family family() const;
  // The type created when the op meets no object; nullopt if it needs one to exist.
  std::optional<v1::CrdtType> ImplicitType() const;
  std::string_view Name() const;
};

// What an op needs besides the state: who applies it and when (for LWW types).
struct OpContext {
  crdt::ReplicaId replica = 0;
  crdt::Stamp stamp;  // from the caller's timestamp or the node's hybrid logical clock
};

// How many distinct elements of op (kAdd, kRemove on a set) change membership in state: for
// an add those absent, for a remove those present (what Redis's SADD and SREM answer).
int64_t MembershipChanges(const crdt::AnyCrdt& state, const Op& op);

// kResourceExhausted when op could bring the set or graph `what` (named in the message) past
// cap elements held, tombstones included (0: no cap). It counts every element op adds that is
// not visible now (members_changed: MembershipChanges(state, op)), a vertex or an edge not
// visible now; an element re-added over its tombstone counts too, so the cap errs on the
// refusing side. Ops that add nothing always pass.
Status CheckCollectionCap(std::string_view what, const crdt::AnyCrdt& state, const Op& op,
                          int64_t members_changed, size_t cap);

// The delta that op makes on state. kFailedPrecondition when the type does not support the
// op (decrement of a g_counter, remove from a g_set, re-adding a removed 2p_set element),
// kInvalidArgument for bad arguments (a negative g_counter value), kNotFound for
// a missing vertex or edge, kOutOfRange on overflow. A self-loop is kFailedPrecondition.
StatusOr<crdt::AnyCrdt> DeltaFor(const crdt::AnyCrdt& state, const Op& op, const OpContext& ctx);

}  // namespace geodatastore::engine
