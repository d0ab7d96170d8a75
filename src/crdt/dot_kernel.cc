#include "crdt/dot_kernel.h"

#include <algorithm>
#include <set>

namespace geodatastore::crdt {

namespace {

// The dots of one key after a join: those both sides hold, plus those one side holds
// that the other side has not seen (had it seen them and not kept them, it removed them).
DotList MergeDots(const DotList& a, const CausalContext& a_ctx, const DotList& b,
                  const CausalContext& b_ctx) {
  DotList out;
  out.reserve(std::max(a.size(), b.size()));
  auto ai = a.begin();
  auto bi = b.begin();
  while (ai != a.end() || bi != b.end()) {
    if (bi == b.end() || (ai != a.end() && *ai < *bi)) {
      if (!b_ctx.Contains(*ai)) out.push_back(*ai);
      ++ai;
    } else if (ai == a.end() || *bi < *ai) {
      if (!a_ctx.Contains(*bi)) out.push_back(*bi);
      ++bi;
    } else {
      out.push_back(*ai);
      ++ai;
      ++bi;
    }
  }
  return out;
}

DotList Unseen(const DotList& dots, const CausalContext& ctx) {
  DotList out;
  for (const Dot& d : dots) {
    if (!ctx.Contains(d)) out.push_back(d);
  }
  return out;
}

}  // namespace

DotKernel::DotKernel(const DotKernel& other) : context_(other.context_), entries_(other.entries_) {}

DotKernel& DotKernel::operator=(const DotKernel& other) {
  if (this != &other) {
    context_ = other.context_;
    entries_ = other.entries_;
    index_.clear();
    index_valid_ = false;
  }
  return *this;
}

DotKernel DotKernel::AddDelta(ReplicaId replica, std::string_view key) const {
  const std::string one(key);
  return AddAllDelta(replica, {&one, 1});
}

DotKernel DotKernel::AddAllDelta(ReplicaId replica, std::span<const std::string> keys) const {
  DotKernel delta;
  Dot dot = context_.Next(replica);
  for (const std::string& key : keys) {
    if (!delta.entries_.try_emplace(key, DotList{dot}).second) continue;  // named before
    if (auto ours = entries_.find(key); ours != entries_.end()) {
      for (const Dot& d : ours->second) delta.context_.Add(d);
    }
    delta.context_.Add(dot);
    ++dot.counter;
  }
  return delta;
}

DotKernel DotKernel::ReplaceAllDelta(ReplicaId replica, std::string_view key) const {
  DotKernel delta;
  for (const auto& [k, dots] : entries_) {
    for (const Dot& d : dots) delta.context_.Add(d);
  }
  const Dot dot = context_.Next(replica);
  delta.context_.Add(dot);
  delta.entries_.emplace(std::string(key), DotList{dot});
  return delta;
}

DotKernel DotKernel::RemoveDelta(std::string_view key) const {
  DotKernel delta;
  auto it = entries_.find(key);
  if (it != entries_.end()) {
    for (const Dot& d : it->second) delta.context_.Add(d);
  }
  return delta;
}

void DotKernel::Join(const DotKernel& other, JoinStrategy strategy) {
  // Looking up each of other's dots beats a scan only when other is much smaller.
  if (strategy == JoinStrategy::kAuto) {
    strategy = other.context_.DotCount() * 8 < entries_.size() ? JoinStrategy::kIndex
                                                               : JoinStrategy::kScan;
  }
  if (strategy == JoinStrategy::kIndex) {
    JoinByIndex(other);
  } else {
    JoinByScan(other);
  }
  context_.Join(other.context_);
}

void DotKernel::JoinByScan(const DotKernel& other) {
  index_.clear();
  index_valid_ = false;
  auto a = entries_.begin();
  auto b = other.entries_.begin();
  while (a != entries_.end() || b != other.entries_.end()) {
    // One three-way comparison per step: key comparisons dominate this loop.
    const int order = a == entries_.end()         ? 1
                      : b == other.entries_.end() ? -1
                                                  : a->first.compare(b->first);
    if (order < 0) {
      // Only here: other removed the dots it has seen.
      a->second.RemoveIf([&](const Dot& d) { return other.context_.Contains(d); });
      a = a->second.empty() ? entries_.erase(a) : std::next(a);
    } else if (order > 0) {
      DotList kept = Unseen(b->second, context_);
      // Inserting may move entries; continue from the one after the new key.
      if (!kept.empty()) a = std::next(entries_.emplace_hint(a, b->first, std::move(kept)));
      ++b;
    } else {
      if (a->second != b->second) {  // equal lists, the common case, merge to themselves
        a->second = MergeDots(a->second, context_, b->second, other.context_);
      }
      a = a->second.empty() ? entries_.erase(a) : std::next(a);
      ++b;
    }
  }
}

void DotKernel::JoinByIndex(const DotKernel& other) {
  if (!index_valid_) BuildIndex();
  // Dots of ours that other has seen but no longer holds were removed there.
  other.context_.ForEachDot([&](const Dot& d) {
    auto hit = index_.find(d);
    if (hit == index_.end()) return;
    auto theirs = other.entries_.find(hit->second);
    if (theirs != other.entries_.end() && theirs->second.Contains(d)) return;
    auto ours = entries_.find(hit->second);
    index_.erase(hit);
    ours->second.Remove(d);
    if (ours->second.empty()) entries_.erase(ours);
  });
  for (const auto& [key, their_dots] : other.entries_) {
    auto ours = entries_.find(key);
    if (ours == entries_.end()) {
      DotList kept = Unseen(their_dots, context_);
      if (kept.empty()) continue;
      Reindex(key, {}, kept);
      entries_.emplace(key, std::move(kept));
    } else {
      DotList merged = MergeDots(ours->second, context_, their_dots, other.context_);
      Reindex(key, ours->second, merged);
      if (merged.empty()) {
        entries_.erase(ours);
      } else {
        ours->second = std::move(merged);
      }
    }
  }
}

void DotKernel::BuildIndex() {
  index_.clear();
  index_.reserve(entries_.size());
  for (const auto& [key, dots] : entries_) {
    for (const Dot& d : dots) index_.emplace(d, key);
  }
  index_valid_ = true;
}

void DotKernel::Reindex(const std::string& key, const DotList& before, const DotList& after) {
  for (const Dot& d : before) {
    if (!after.Contains(d)) index_.erase(d);
  }
  for (const Dot& d : after) index_.emplace(d, key);
}

bool DotKernel::FromParts(CausalContext context, Entries entries, DotKernel* out) {
  std::set<Dot> seen;
  for (const auto& [key, dots] : entries) {
    if (dots.empty() || !std::is_sorted(dots.begin(), dots.end()) ||
        std::adjacent_find(dots.begin(), dots.end()) != dots.end()) {
      return false;
    }
    for (const Dot& d : dots) {
      if (d.counter == 0 || !context.Contains(d) || !seen.insert(d).second) return false;
    }
  }
  DotKernel k;
  k.context_ = std::move(context);
  k.entries_ = std::move(entries);
  *out = std::move(k);
  return true;
}

Status ValidateKernel(const DotKernel& kernel, std::string_view what, const StateLimits& limits) {
  GDS_RETURN_IF_ERROR(CheckContext(kernel.context()));
  for (const auto& [key, dots] : kernel.entries())
    GDS_RETURN_IF_ERROR(CheckElement(key, what, limits));
  return Status::Ok();
}

}  // namespace geodatastore::crdt
