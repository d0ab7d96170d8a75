// Scheduler: when to run anti-entropy with whom, as a sans-IO decision fed the time and the
// peers' states. Every interval a random reachable peer, another region's with
// probability 3/4 when there is one; and at once any peer that came back from down (after
// having been up: not every peer as it is first heard from at start).
//
// Thread safety: not synchronized.
#pragma once

#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <vector>

namespace geodatastore::antientropy {

struct PeerStatus {
  std::string id;
  std::string region;
  bool up = false;
  bool down = false;  // declared down (not merely suspect)
};

class Scheduler {
 public:
  Scheduler(std::string self_region, uint64_t interval_ms, uint32_t seed);
  // The peers a session is due with now (each at most once).
  std::vector<std::string> Due(uint64_t now_ms, const std::vector<PeerStatus>& peers);

 private:
  const std::string self_region_;
  const uint64_t interval_ms_;
  uint64_t next_ms_ = 0;
  std::map<std::string, bool> was_down_;
  std::map<std::string, bool> seen_up_;
  std::mt19937 rng_;
};

}  // namespace geodatastore::antientropy
