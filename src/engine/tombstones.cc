#include "engine/tombstones.h"

#include <algorithm>

namespace geodatastore::engine {

namespace {

std::pair<uint64_t, uint32_t> ClockOf(const v1::Progress& p) {
  return {p.hlc_physical(), p.hlc_logical()};
}

uint64_t AppliedOf(const v1::Progress& p, uint64_t origin) {
  for (const v1::Dot& e : p.applied().entries()) {
    if (e.replica() == origin) return e.counter();
  }
  return 0;
}

constexpr v1::CrdtType kTombstoneTypes[] = {v1::TWO_P_SET, v1::LWW_SET, v1::LWW_GRAPH};

}  // namespace

void TombstoneCollector::Reset(uint64_t now_ms) {
  phase_ = Phase::kIdle;
  round_end_ms_ = now_ms;
  snapshot_.clear();
  replicas_.clear();
  k1_.clear();
  made_after_ms_ = 0;
  h1_.clear();
  w2_.clear();
  w2_taken_ = false;
}

bool TombstoneCollector::AllApplied(const std::map<std::string, v1::Progress>& progress,
                                    const std::map<uint64_t, uint64_t>& wanted) const {
  for (const auto& [node, replica] : replicas_) {
    auto it = progress.find(node);
    if (it == progress.end() || it->second.replica() != replica) return false;
    for (const auto& [origin, seq] : wanted) {
      if (AppliedOf(it->second, origin) < seq) return false;
    }
  }
  return true;
}

void TombstoneCollector::BoundKnowledge(const std::map<std::string, v1::Progress>& progress) {
  for (const auto& [node, replica] : replicas_) {
    auto wanted = k1_.find(replica);
    auto report = progress.find(node);
    if (wanted == k1_.end() || report == progress.end() || report->second.replica() != replica ||
        report->second.hlc_physical() <= made_after_ms_ ||
        report->second.assigned_seq() >= wanted->second) {
      continue;
    }
    engine_->NoteRejected(crdt::kKnowledge);
    wanted->second = report->second.assigned_seq();
  }
}

StatusOr<uint64_t> TombstoneCollector::Step(const std::map<std::string, v1::Progress>& progress,
                                            size_t cluster_size, uint64_t now_ms) {
  switch (phase_) {
    case Phase::kIdle: {
      if (now_ms - std::min(now_ms, round_end_ms_) < options_.interval_ms && rounds_ > 0) {
        return uint64_t{0};
      }
      if (progress.size() < cluster_size) return uint64_t{0};  // not every node heard of yet
      ++rounds_;
      round_end_ms_ = now_ms;
      for (v1::CrdtType type : kTombstoneTypes) {
        GDS_ASSIGN_OR_RETURN(auto found, engine_->ScanTombstones(type, options_.max_objects));
        for (auto& snap : found) snapshot_.push_back(std::move(snap));
      }
      if (snapshot_.empty()) return uint64_t{0};
      // Read after the snapshot: it covers the states the snapshot saw. Writes of a replica
      // no node has any more (a wiped node's old one) are left out: nobody can apply more.
      const crdt::VersionVector knowledge = engine_->Knowledge();
      made_after_ms_ = engine_->HlcNow().physical + engine_->max_clock_offset_ms();
      for (const auto& [node, report] : progress) replicas_[node] = report.replica();
      for (const auto& [origin, seq] : knowledge.entries()) {
        for (const auto& [node, replica] : replicas_) {
          if (replica == origin) k1_[origin] = seq;
        }
      }
      phase_ = Phase::kSeen;
      [[fallthrough]];
    }
    case Phase::kSeen: {
      BoundKnowledge(progress);
      if (!AllApplied(progress, k1_)) return uint64_t{0};
      for (const auto& [node, replica] : replicas_) h1_[node] = ClockOf(progress.at(node));
      phase_ = Phase::kDelivered;
      return uint64_t{0};
    }
    case Phase::kDelivered: {
      if (!w2_taken_) {
        for (const auto& [node, clock] : h1_) {
          auto it = progress.find(node);
          if (it == progress.end() || ClockOf(it->second) <= clock) return uint64_t{0};
        }
        for (const auto& [node, replica] : replicas_) {
          w2_[replica] = progress.at(node).assigned_seq();
        }
        w2_taken_ = true;
      }
      if (!AllApplied(progress, w2_)) {
        // A node with a new replica (wiped) since the round began: start over.
        for (const auto& [node, replica] : replicas_) {
          auto it = progress.find(node);
          if (it != progress.end() && it->second.replica() != replica) Reset(now_ms);
        }
        return uint64_t{0};
      }
      // LWW entries: only those stamped before every node's clock at its first report.
      crdt::Timestamp floor{UINT64_MAX, UINT32_MAX};
      for (const auto& [node, clock] : h1_) floor = std::min(floor, {clock.first, clock.second});
      std::vector<Engine::TombstoneSnapshot> due;
      for (auto& snap : snapshot_) {
        if (snap.tombstones.latest && !(snap.tombstones.latest->ts < floor)) continue;
        due.push_back(std::move(snap));
      }
      Reset(now_ms);
      GDS_ASSIGN_OR_RETURN(uint64_t n, engine_->CollectTombstones(due));
      collected_ += n;
      return n;
    }
  }
  return uint64_t{0};
}

}  // namespace geodatastore::engine
