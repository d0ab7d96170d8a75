#include "crdt/g_counter.h"

#include <limits>

#include "crdt/validate.h"

namespace geodatastore::crdt {

StatusOr<GCounter> GCounter::Increment(ReplicaId replica, uint64_t amount) const {
  const uint64_t total = Value();
  if (amount > std::numeric_limits<uint64_t>::max() - total) {
    return OutOfRange("increment by " + std::to_string(amount) +
                      " would overflow the counter total " + std::to_string(total));
  }
  const uint64_t own = counts_.Get(replica);
  if (amount > kMaxCount - own) {
    return OutOfRange("increment by " + std::to_string(amount) + " would take the count " +
                      std::to_string(own) + " of one replica past 2^63");
  }
  GCounter delta;
  delta.counts_.Raise(replica, own + amount);
  return delta;
}

uint64_t GCounter::Value() const {
  uint64_t sum = 0;
  for (const auto& [replica, count] : counts_.entries()) {
    if (count > std::numeric_limits<uint64_t>::max() - sum) {
      return std::numeric_limits<uint64_t>::max();
    }
    sum += count;
  }
  return sum;
}

void GCounter::EncodeTo(v1::GCounterState* out) const {
  for (const auto& [replica, count] : counts_.entries())
    EncodeDot({replica, count}, out->add_entries());
}

StatusOr<GCounter> GCounter::DecodeFrom(const v1::GCounterState& in) {
  v1::VersionVector vv;
  *vv.mutable_entries() = in.entries();
  GDS_ASSIGN_OR_RETURN(VersionVector counts, DecodeVersionVector(vv));
  GCounter out;
  out.counts_ = std::move(counts);
  return out;
}

}  // namespace geodatastore::crdt
