#include "crdt/causal_context.h"

#include <algorithm>

namespace geodatastore::crdt {

namespace {
bool ReplicaLess(const VersionVector::Entry& e, ReplicaId r) { return e.first < r; }
}  // namespace

uint64_t VersionVector::Get(ReplicaId replica) const {
  auto it = std::lower_bound(entries_.begin(), entries_.end(), replica, ReplicaLess);
  return (it != entries_.end() && it->first == replica) ? it->second : 0;
}

void VersionVector::Raise(ReplicaId replica, uint64_t counter) {
  if (counter == 0) return;
  auto it = std::lower_bound(entries_.begin(), entries_.end(), replica, ReplicaLess);
  if (it != entries_.end() && it->first == replica) {
    it->second = std::max(it->second, counter);
  } else {
    entries_.insert(it, {replica, counter});
  }
}

void VersionVector::Join(const VersionVector& other) {
  std::vector<Entry> merged;
  merged.reserve(entries_.size() + other.entries_.size());
  auto a = entries_.begin();
  auto b = other.entries_.begin();
  while (a != entries_.end() || b != other.entries_.end()) {
    if (b == other.entries_.end() || (a != entries_.end() && a->first < b->first)) {
      merged.push_back(*a++);
    } else if (a == entries_.end() || b->first < a->first) {
      merged.push_back(*b++);
    } else {
      merged.push_back({a->first, std::max(a->second, b->second)});
      ++a;
      ++b;
    }
  }
  entries_ = std::move(merged);
}

bool VersionVector::LessOrEqual(const VersionVector& other) const {
  for (const auto& [replica, counter] : entries_) {
    if (counter > other.Get(replica)) return false;
  }
  return true;
}

uint64_t VersionVector::DotCount() const {
  uint64_t n = 0;
  for (const auto& e : entries_) n += e.second;
  return n;
}

bool CausalContext::Contains(const Dot& dot) const {
  return compact_.Covers(dot) || cloud_.count(dot) > 0;
}

Dot CausalContext::Next(ReplicaId replica) const {
  uint64_t last = compact_.Get(replica);
  auto it = cloud_.upper_bound(Dot{replica, UINT64_MAX});
  if (it != cloud_.begin() && std::prev(it)->replica == replica) {
    last = std::max(last, std::prev(it)->counter);
  }
  return {replica, last + 1};
}

void CausalContext::Add(const Dot& dot) {
  if (compact_.Covers(dot)) return;
  cloud_.insert(dot);
  Compact();
}

void CausalContext::Join(const CausalContext& other) {
  compact_.Join(other.compact_);
  cloud_.insert(other.cloud_.begin(), other.cloud_.end());
  Compact();
}

void CausalContext::Compact() {
  // Only the first cloud dots of each replica can be folded or dropped: the cloud is sorted,
  // so after the first dot that is neither, the search skips to the next replica. A delta
  // of many adds keeps its fresh dots in the cloud, and Join calls this once per add: it
  // must not cost the whole cloud each time.
  for (auto it = cloud_.begin(); it != cloud_.end();) {
    const ReplicaId replica = it->replica;
    uint64_t known = compact_.Get(replica);
    while (it != cloud_.end() && it->replica == replica && it->counter <= known + 1) {
      known = std::max(known, it->counter);
      it = cloud_.erase(it);
    }
    compact_.Raise(replica, known);
    if (it != cloud_.end() && it->replica == replica) {
      it = cloud_.upper_bound(Dot{replica, UINT64_MAX});
    }
  }
}

bool CausalContext::FromParts(VersionVector compact, std::set<Dot> cloud, CausalContext* out) {
  CausalContext ctx;
  ctx.compact_ = std::move(compact);
  ctx.cloud_ = std::move(cloud);
  const size_t before = ctx.cloud_.size();
  const VersionVector compact_before = ctx.compact_;
  ctx.Compact();
  if (ctx.cloud_.size() != before || !(ctx.compact_ == compact_before)) return false;
  *out = std::move(ctx);
  return true;
}

}  // namespace geodatastore::crdt
