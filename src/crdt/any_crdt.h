// A value of any of the nine CRDT types, for the layers that handle objects whose type is
// only known at run time (storage, engine, replication).
//
// Thread safety: plain value.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "crdt/g_counter.h"
#include "crdt/g_set.h"
#include "crdt/lww_element_set.h"
#include "crdt/lww_graph.h"
#include "crdt/lww_register.h"
#include "crdt/mv_register.h"
#include "crdt/or_set.h"
#include "crdt/pn_counter.h"
#include "crdt/two_p_set.h"

namespace geodatastore::crdt {

using AnyCrdt = std::variant<GCounter, PNCounter, GSet, TwoPSet, ORSet, LWWRegister, MVRegister,
                             LWWElementSet, LWWGraph>;

// Every type tag, in enum order.
inline constexpr v1::CrdtType kAllTypes[] = {v1::G_COUNTER,   v1::PN_COUNTER, v1::G_SET,
                                             v1::TWO_P_SET,   v1::OR_SET,     v1::LWW_REGISTER,
                                             v1::MV_REGISTER, v1::LWW_SET,    v1::LWW_GRAPH};

// The empty state of type. REQUIRES: type is one of kAllTypes.
AnyCrdt NewCrdt(v1::CrdtType type);
v1::CrdtType TypeOf(const AnyCrdt& value);

// "g_counter" -> G_COUNTER; nullopt for an unknown name.
std::optional<v1::CrdtType> ParseTypeName(std::string_view name);

std::string EncodeAny(const AnyCrdt& value);
// Decodes bytes of any type, reading the type from the envelope.
StatusOr<AnyCrdt> DecodeAny(std::string_view bytes);
// Decodes bytes that must be of the given type.
StatusOr<AnyCrdt> DecodeAnyAs(v1::CrdtType type, std::string_view bytes);

// Joins other into into; kWrongType if their types differ (and into is unchanged).
Status JoinAny(AnyCrdt& into, const AnyCrdt& other);

// Type conflicts (the same name created as two types on two replicas). The richer of two
// types when one embeds in the other without loss — a G-Counter is a PN-Counter with no
// decrements, a G-Set a 2P-Set with no removes — else nullopt.
std::optional<v1::CrdtType> EmbeddingType(v1::CrdtType a, v1::CrdtType b);
// value as a state of type; an embedding keeps joins, so replicas that embed at different
// times converge. kWrongType unless type == EmbeddingType(TypeOf(value), type).
StatusOr<AnyCrdt> Embed(const AnyCrdt& value, v1::CrdtType type);

// Validation of a decoded state or delta from outside the process (crdt/validate.h).
Status ValidateAny(const AnyCrdt& value, const StateLimits& limits);
// What a join of valid states can still break, checked on the joined state: a counter's
// totals must not overflow, and a PN-Counter's value must stay within the int64 range (an
// entry near 2^64 from elsewhere would freeze the counter). Ok for other types.
Status ValidateJoined(const AnyCrdt& joined);
// What a delta of origin's own ops (a replicated batch's) may hold beyond ValidateAny: a
// counter delta raises origin's count only, so a count of another replica in it is forged
// (kReplicaId). Ok for other types.
Status ValidateDeltaOf(const AnyCrdt& delta, ReplicaId origin);

// A counter's value (a g_counter's clamped to INT64_MAX); nullopt for other types.
std::optional<int64_t> CounterValue(const AnyCrdt& value);
// The visible elements of a set, sorted; empty for other types.
std::vector<std::string> SetMembers(const AnyCrdt& value);

// Tombstone collection, for the types that hold tombstones (2P-Set, LWW-element-set, LWW
// graph). What value holds as tombstones, as a state of its type, with how many and the
// latest stamp among them (LWW types); nullopt when it holds none.
struct Tombstones {
  AnyCrdt state;
  size_t count = 0;
  std::optional<Stamp> latest;
};
std::optional<Tombstones> TombstonesOf(const AnyCrdt& value);
// Drops from into the tombstones (an earlier TombstonesOf of the same object) it still
// holds unchanged; true if into changed. kWrongType if the types differ.
StatusOr<bool> CollectAny(AnyCrdt& into, const AnyCrdt& tombstones);

}  // namespace geodatastore::crdt
