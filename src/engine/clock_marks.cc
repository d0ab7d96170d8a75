// Engine: its clock — stamps issued above a persisted ceiling (storage/high_water.h), stamps
// merged from elsewhere followed, the committed seq persisted, and the clock fence
// (docs/durability.md).
#include <algorithm>

#include "engine/engine.h"

namespace geodatastore::engine {

crdt::Timestamp Engine::HlcNow() {
  std::lock_guard<std::mutex> lock(clock_mu_);
  return IssueLocked();
}

crdt::Timestamp Engine::ReplicationStamp() {
  const crdt::Timestamp now = HlcNow();
  const uint64_t cap = physical_->NowMillis() + options_.max_clock_offset_ms / 2;
  return now.physical > cap ? crdt::Timestamp{cap, 0} : now;
}

crdt::Timestamp Engine::IssueLocked() {
  const crdt::Timestamp ts = hlc_.Now();
  if (ts.physical >= hlc_ceiling_ms_) {
    std::lock_guard<std::mutex> lock(marks_mu_);
    storage::HighWater raised = marks_;
    raised.hlc_ceiling_ms = ts.physical + hlc_ceiling_step_ms();
    // A failed write leaves the old ceiling: the next stamp tries again (and a restart
    // after this one may issue stamps below this one — the disk is failing anyway).
    if (Status s = marks_file_.Save(raised); s.ok()) {
      marks_ = raised;
      hlc_ceiling_ms_ = raised.hlc_ceiling_ms;
    }
  }
  return ts;
}

void Engine::FollowStamp(uint64_t physical_ms) const {
  if (physical_ms == 0) return;
  std::lock_guard<std::mutex> lock(clock_mu_);
  (void)hlc_.Update({physical_ms, 0});  // beyond the maximum offset: refused, clock unchanged
}

void Engine::SetClockFence(std::string reason) {
  std::lock_guard<std::mutex> lock(fence_mu_);
  fenced_.store(!reason.empty());
  fence_ = std::move(reason);
}

std::string Engine::clock_fence() const {
  std::lock_guard<std::mutex> lock(fence_mu_);
  return fence_;
}

Status Engine::CheckFence() const {
  // After a restart the clock resumes above the stamps issued before (HighWater): while that
  // is ahead of physical time by most of the maximum offset, peers would refuse the stamps.
  const uint64_t now = physical_->NowMillis();
  const uint64_t floor = identity_.hlc_floor_ms - std::min(identity_.hlc_floor_ms, hlc_ceiling_step_ms());
  if (floor > now + options_.max_clock_offset_ms * 8 / 10) {
    return Status(StatusCode::kUnavailable,
                  std::string(kClockFenced) + ": stamps issued before the restart reach " +
                      std::to_string(floor - now) + " ms beyond this node's clock");
  }
  if (fenced_.load(std::memory_order_relaxed)) {
    return Status(StatusCode::kUnavailable, std::string(kClockFenced) + ": " + clock_fence());
  }
  return Status::Ok();
}

Status Engine::SaveHighWater() {
  const uint64_t committed = CommittedSeq();
  uint64_t applied_total;
  {
    std::lock_guard<std::mutex> lock(seq_mu_);
    applied_total = storage::SumOfApplied(applied_);
  }
  std::lock_guard<std::mutex> lock(marks_mu_);
  if (committed <= marks_.committed_seq && applied_total <= marks_.applied_total) {
    return Status::Ok();
  }
  storage::HighWater raised = marks_;
  raised.committed_seq = std::max(committed, marks_.committed_seq);
  raised.applied_total = std::max(applied_total, marks_.applied_total);
  GDS_RETURN_IF_ERROR(marks_file_.Save(raised));
  marks_ = raised;
  return Status::Ok();
}

}  // namespace geodatastore::engine
