// ObjectReply: what a client is told of one object, whichever front end it asked — built
// once from the object's state (Describe: the one place that knows which type shows which
// fields) and rendered by each front end: the gRPC ObjectValue (ToProto), the JSON of REST
// and of geoctl --json (ToJson), RESP's replies (resp_handler.cc) and geoctl's text.
//
// A field is set exactly when the object's type has it:
//   counters   value                  registers  values (one for LWW, every concurrent for MV)
//   sets       elements (+ bias for an lww_set)
//   graphs     vertices, edges
// so renderers go by which fields are set, never by the type. A new type or field is added
// in Describe (and, for a field, in each renderer's one line for it).
//
// Thread safety: plain values and pure functions.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "crdt/any_crdt.h"
#include "geodatastore/v1/api.pb.h"

namespace geodatastore::reply {

struct ObjectReply {
  // A pn_counter's value, or a g_counter's total (which may pass 2^63 - 1).
  using Counter = std::variant<int64_t, uint64_t>;
  using Edge = std::pair<std::string, std::string>;  // from, to

  std::string name;
  v1::CrdtType type = v1::CRDT_TYPE_UNSPECIFIED;
  v1::Family family = v1::FAMILY_UNSPECIFIED;
  bool created = false;  // the call that answers with it created the object

  std::optional<Counter> value;
  std::optional<std::vector<std::string>> values;
  std::optional<std::vector<std::string>> elements;  // sorted
  std::optional<std::vector<std::string>> vertices;  // sorted
  std::optional<std::vector<Edge>> edges;            // sorted by (from, to)
  std::optional<crdt::LwwBias> bias;

  // The counter's value where only the int64 range fits (the gRPC field, RESP): a g_counter
  // over 2^63 - 1 reads as 2^63 - 1. REQUIRES: value is set.
  int64_t SaturatedValue() const;
};

// The reply for the object name holding state.
ObjectReply Describe(std::string name, const crdt::AnyCrdt& state, bool created = false);

// The gRPC answer (api.proto ObjectValue) and back (geoctl): the proto's family says which
// of its repeated fields are meant.
void ToProto(const ObjectReply& reply, v1::ObjectValue* out);
ObjectReply FromProto(const v1::ObjectValue& in);

// The JSON of REST and geoctl --json: {"name", "type", and the fields the type has}.
nlohmann::json ToJson(const ObjectReply& reply);

}  // namespace geodatastore::reply
