#include "reply/object_reply.h"

#include <limits>
#include <type_traits>

#include "crdt/codec.h"

namespace geodatastore::reply {

using json = nlohmann::json;

int64_t ObjectReply::SaturatedValue() const {
  return std::visit(
      [](auto v) -> int64_t {
        if constexpr (std::is_same_v<decltype(v), uint64_t>) {
          return static_cast<int64_t>(std::min<uint64_t>(v, std::numeric_limits<int64_t>::max()));
        } else {
          return v;
        }
      },
      *value);
}

ObjectReply Describe(std::string name, const crdt::AnyCrdt& state, bool created) {
  ObjectReply r;
  r.name = std::move(name);
  r.type = crdt::TypeOf(state);
  r.created = created;
  std::visit(
      [&r](const auto& s) {
        using T = std::decay_t<decltype(s)>;
        if constexpr (std::is_same_v<T, crdt::GCounter> || std::is_same_v<T, crdt::PNCounter>) {
          r.family = v1::COUNTERS;
          r.value = s.Value();
        } else if constexpr (std::is_same_v<T, crdt::LWWRegister> ||
                             std::is_same_v<T, crdt::MVRegister>) {
          r.family = v1::REGISTERS;
          r.values = s.Value();
        } else if constexpr (std::is_same_v<T, crdt::LWWGraph>) {
          r.family = v1::GRAPHS;
          r.vertices = s.Vertices();
          r.edges = s.Edges();
        } else {
          r.family = v1::SETS;
          r.elements = s.Value();
          if constexpr (std::is_same_v<T, crdt::LWWElementSet>) r.bias = s.bias();
        }
      },
      state);
  return r;
}

namespace {

void Put(const std::optional<std::vector<std::string>>& from,
         google::protobuf::RepeatedPtrField<std::string>* to) {
  if (from) to->Add(from->begin(), from->end());
}

std::vector<std::string> Strings(const google::protobuf::RepeatedPtrField<std::string>& in) {
  return {in.begin(), in.end()};
}

}  // namespace

void ToProto(const ObjectReply& reply, v1::ObjectValue* out) {
  out->set_name(reply.name);
  out->set_type(reply.type);
  out->set_family(reply.family);
  out->set_created(reply.created);
  if (reply.value) out->set_counter_value(reply.SaturatedValue());
  Put(reply.values, out->mutable_values());
  Put(reply.elements, out->mutable_elements());
  Put(reply.vertices, out->mutable_vertices());
  if (reply.edges) {
    for (const auto& [from, to] : *reply.edges) {
      v1::Edge* e = out->add_edges();
      e->set_from(from);
      e->set_to(to);
    }
  }
  if (reply.bias) out->set_bias(static_cast<v1::LwwBias>(*reply.bias));
}

ObjectReply FromProto(const v1::ObjectValue& in) {
  ObjectReply r;
  r.name = in.name();
  r.type = in.type();
  r.family = in.family();
  r.created = in.created();
  switch (in.family()) {
    case v1::COUNTERS:
      r.value = in.counter_value();
      break;
    case v1::REGISTERS:
      r.values = Strings(in.values());
      break;
    case v1::SETS:
      r.elements = Strings(in.elements());
      break;
    case v1::GRAPHS:
      r.vertices = Strings(in.vertices());
      r.edges.emplace();
      for (const v1::Edge& e : in.edges()) r.edges->emplace_back(e.from(), e.to());
      break;
    default:
      break;
  }
  if (in.has_bias()) r.bias = static_cast<crdt::LwwBias>(in.bias());
  return r;
}

json ToJson(const ObjectReply& reply) {
  json out = {{"name", reply.name}, {"type", crdt::TypeName(reply.type)}};
  if (reply.value) out["value"] = std::visit([](auto v) { return json(v); }, *reply.value);
  if (reply.values) out["values"] = *reply.values;
  if (reply.elements) out["elements"] = *reply.elements;
  if (reply.vertices) out["vertices"] = *reply.vertices;
  if (reply.edges) {
    json edges = json::array();
    for (const auto& [from, to] : *reply.edges) edges.push_back({from, to});
    out["edges"] = std::move(edges);
  }
  if (reply.bias) out["bias"] = *reply.bias == crdt::LwwBias::kAddWins ? "add_wins" : "remove_wins";
  return out;
}

}  // namespace geodatastore::reply
