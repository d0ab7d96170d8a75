// replication::CheckClock: when a node fences itself for its clock (docs/durability.md).
#include "replication/clock_fence.h"

#include <gtest/gtest.h>

namespace geodatastore::replication {
namespace {

std::vector<PeerView> Peers(std::vector<std::optional<int64_t>> offsets) {
  std::vector<PeerView> out;
  for (size_t i = 0; i < offsets.size(); ++i) {
    PeerView v;
    v.id = "p" + std::to_string(i);
    v.clock_offset_ms = offsets[i];
    out.push_back(v);
  }
  return out;
}

TEST(ClockFence, ANodeFarFromMostOfItsPeersFencesItself) {
  // Every peer 120 s behind this node: this node is 120 s ahead.
  const ClockCheck ahead = CheckClock(Peers({-120'000, -120'010, -119'990, -120'000}), 500);
  EXPECT_TRUE(ahead.measured);
  EXPECT_EQ(ahead.offset_ms, 120'000);
  EXPECT_NE(ahead.fence, "");
  // One far peer of four: that peer is the one that is wrong.
  const ClockCheck fine = CheckClock(Peers({120'000, 5, -3, 0}), 500);
  EXPECT_TRUE(fine.measured);
  EXPECT_EQ(fine.fence, "");
  // Within 80% of the maximum offset (400 ms of 500) is fine; beyond it is not.
  EXPECT_EQ(CheckClock(Peers({-399, -399, -399}), 500).fence, "");
  EXPECT_NE(CheckClock(Peers({-401, -401, -401}), 500).fence, "");
}

TEST(ClockFence, UndecidedUntilMoreThanHalfOfTheLinkedPeersAgree) {
  EXPECT_FALSE(CheckClock(Peers({std::nullopt, std::nullopt}), 500).measured);
  // One far of two linked, the other unknown: keep the current state.
  EXPECT_FALSE(CheckClock(Peers({-120'000, std::nullopt}), 500).measured);
  EXPECT_FALSE(CheckClock(Peers({-120'000, 0}), 500).measured);
  EXPECT_TRUE(CheckClock(Peers({0, 1, std::nullopt}), 500).measured);
  // Peers reached through a gateway are not measured and not counted.
  std::vector<PeerView> peers = Peers({-120'000, std::nullopt});
  peers[1].via = "p0";
  EXPECT_NE(CheckClock(peers, 500).fence, "");
}

}  // namespace
}  // namespace geodatastore::replication
