#include "antientropy/scheduler.h"

#include <algorithm>

namespace geodatastore::antientropy {

Scheduler::Scheduler(std::string self_region, uint64_t interval_ms, uint32_t seed)
    : self_region_(std::move(self_region)), interval_ms_(interval_ms), rng_(seed) {}

std::vector<std::string> Scheduler::Due(uint64_t now_ms, const std::vector<PeerStatus>& peers) {
  std::vector<std::string> due;
  for (const PeerStatus& p : peers) {
    bool& was_down = was_down_[p.id];
    bool& seen_up = seen_up_[p.id];
    if (p.down) {
      was_down = seen_up;  // not merely not heard from yet since we started
    } else if (p.up && !seen_up) {
      seen_up = true;
    } else if (p.up && was_down) {
      was_down = false;
      due.push_back(p.id);  // back from a partition or a crash: repair what it missed
    }
  }
  if (next_ms_ == 0) next_ms_ = now_ms + interval_ms_;
  if (now_ms >= next_ms_) {
    // The next round in interval +- 10%, so that nodes do not fall into step.
    next_ms_ = now_ms + interval_ms_ * 9 / 10 +
               std::uniform_int_distribution<uint64_t>(0, interval_ms_ / 5)(rng_);
    std::vector<const PeerStatus*> remote, local;
    for (const PeerStatus& p : peers) {
      if (p.up) (p.region == self_region_ ? local : remote).push_back(&p);
    }
    std::vector<const PeerStatus*>* pool = &remote;
    if (remote.empty() || (!local.empty() && std::uniform_int_distribution<int>(0, 3)(rng_) == 0))
      pool = &local;
    if (!pool->empty()) {
      const PeerStatus* pick =
          (*pool)[std::uniform_int_distribution<size_t>(0, pool->size() - 1)(rng_)];
      if (std::find(due.begin(), due.end(), pick->id) == due.end()) due.push_back(pick->id);
    }
  }
  return due;
}

}  // namespace geodatastore::antientropy
