#include "crdt/any_crdt.h"

#include <algorithm>
#include <limits>

namespace geodatastore::crdt {

namespace {

template <size_t I = 0>
AnyCrdt NewByIndex(v1::CrdtType type) {
  if constexpr (I < std::variant_size_v<AnyCrdt>) {
    using T = std::variant_alternative_t<I, AnyCrdt>;
    if (T::kType == type) return T();
    return NewByIndex<I + 1>(type);
  } else {
    return GCounter();  // unreachable for a valid type
  }
}

template <size_t I = 0>
StatusOr<AnyCrdt> DecodeByIndex(const v1::CrdtValue& value) {
  if constexpr (I < std::variant_size_v<AnyCrdt>) {
    using T = std::variant_alternative_t<I, AnyCrdt>;
    if (T::kType != value.type()) return DecodeByIndex<I + 1>(value);
    StatusOr<T> decoded = Decode<T>(value);
    if (!decoded.ok()) return decoded.status();
    return AnyCrdt(std::move(decoded).value());
  } else {
    return Corruption("unknown CRDT type tag " + std::to_string(value.type()));
  }
}

}  // namespace

AnyCrdt NewCrdt(v1::CrdtType type) { return NewByIndex(type); }

v1::CrdtType TypeOf(const AnyCrdt& value) {
  return std::visit([](const auto& v) { return std::decay_t<decltype(v)>::kType; }, value);
}

std::optional<v1::CrdtType> ParseTypeName(std::string_view name) {
  for (v1::CrdtType t : kAllTypes) {
    if (TypeName(t) == name) return t;
  }
  return std::nullopt;
}

std::string EncodeAny(const AnyCrdt& value) {
  return std::visit([](const auto& v) { return EncodeToBytes(v); }, value);
}

StatusOr<AnyCrdt> DecodeAny(std::string_view bytes) {
  v1::CrdtValue value;
  if (!value.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return Corruption("undecodable CRDT bytes");
  }
  return DecodeByIndex(value);
}

StatusOr<AnyCrdt> DecodeAnyAs(v1::CrdtType type, std::string_view bytes) {
  StatusOr<AnyCrdt> value = DecodeAny(bytes);
  if (value.ok() && TypeOf(*value) != type) {
    return Corruption("stored " + std::string(TypeName(TypeOf(*value))) + " where " +
                      std::string(TypeName(type)) + " was expected");
  }
  return value;
}

Status JoinAny(AnyCrdt& into, const AnyCrdt& other) {
  if (into.index() != other.index()) {
    return WrongType("cannot join " + std::string(TypeName(TypeOf(other))) + " into " +
                     std::string(TypeName(TypeOf(into))));
  }
  std::visit([&](auto& state) { state.Join(std::get<std::decay_t<decltype(state)>>(other)); },
             into);
  return Status::Ok();
}

std::optional<v1::CrdtType> EmbeddingType(v1::CrdtType a, v1::CrdtType b) {
  const v1::CrdtType low = std::min(a, b), high = std::max(a, b);
  if (low == v1::G_COUNTER && high == v1::PN_COUNTER) return v1::PN_COUNTER;
  if (low == v1::G_SET && high == v1::TWO_P_SET) return v1::TWO_P_SET;
  return std::nullopt;
}

StatusOr<AnyCrdt> Embed(const AnyCrdt& value, v1::CrdtType type) {
  const v1::CrdtType from = TypeOf(value);
  if (from == type) return value;
  if (const auto* g = std::get_if<GCounter>(&value); g && type == v1::PN_COUNTER)
    return AnyCrdt(PNCounter::FromGCounter(*g));
  if (const auto* s = std::get_if<GSet>(&value); s && type == v1::TWO_P_SET)
    return AnyCrdt(TwoPSet::FromGSet(*s));
  return WrongType("a " + std::string(TypeName(from)) + " does not embed in a " +
                   std::string(TypeName(type)));
}

Status ValidateAny(const AnyCrdt& value, const StateLimits& limits) {
  return std::visit([&](const auto& v) { return v.Validate(limits); }, value);
}

Status ValidateJoined(const AnyCrdt& joined) {
  if (const auto* pn = std::get_if<PNCounter>(&joined)) return pn->ValidateJoined();
  if (const auto* g = std::get_if<GCounter>(&joined)) return g->Validate({});
  return Status::Ok();
}

Status ValidateDeltaOf(const AnyCrdt& delta, ReplicaId origin) {
  auto only_origin = [&](const GCounter& g) {
    for (const auto& [replica, count] : g.counts().entries()) {
      if (replica != origin) {
        return Rejected(kReplicaId, "a counter delta of replica " + ReplicaIdHex(origin) +
                                        " holds a count of replica " + ReplicaIdHex(replica));
      }
    }
    return Status::Ok();
  };
  if (const auto* g = std::get_if<GCounter>(&delta)) return only_origin(*g);
  if (const auto* pn = std::get_if<PNCounter>(&delta)) {
    GDS_RETURN_IF_ERROR(only_origin(pn->increments()));
    return only_origin(pn->decrements());
  }
  return Status::Ok();
}

std::optional<int64_t> CounterValue(const AnyCrdt& value) {
  if (const auto* pn = std::get_if<PNCounter>(&value)) return pn->Value();
  if (const auto* g = std::get_if<GCounter>(&value)) {
    return static_cast<int64_t>(
        std::min<uint64_t>(g->Value(), std::numeric_limits<int64_t>::max()));
  }
  return std::nullopt;
}

std::vector<std::string> SetMembers(const AnyCrdt& value) {
  return std::visit(
      [](const auto& state) -> std::vector<std::string> {
        if constexpr (requires { state.Contains(std::string_view()); }) {
          return state.Value();
        } else {
          return {};
        }
      },
      value);
}

std::optional<Tombstones> TombstonesOf(const AnyCrdt& value) {
  return std::visit(
      [](const auto& state) -> std::optional<Tombstones> {
        using T = std::decay_t<decltype(state)>;
        if constexpr (requires(T & t) { t.Collect(t.Tombstones()); }) {
          if (state.tombstones() == 0) return std::nullopt;
          Tombstones out;
          const auto t = state.Tombstones();
          out.count = state.tombstones();
          if constexpr (requires { t.LatestStamp(); }) out.latest = t.LatestStamp();
          out.state = t;
          return out;
        } else {
          return std::nullopt;
        }
      },
      value);
}

StatusOr<bool> CollectAny(AnyCrdt& into, const AnyCrdt& tombstones) {
  if (into.index() != tombstones.index()) return WrongType("tombstones of another type");
  return std::visit(
      [&](auto& state) -> bool {
        if constexpr (requires { state.Collect(state); }) {
          return state.Collect(std::get<std::decay_t<decltype(state)>>(tombstones));
        } else {
          return false;
        }
      },
      into);
}

}  // namespace geodatastore::crdt
