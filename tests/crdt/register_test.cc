#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <array>

#include "crdt/lww_register.h"
#include "crdt/mv_register.h"
#include "test_stamps.h"

namespace geodatastore::crdt {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

TEST(LWWRegister, WritesAt1000_2000_1500ConvergeToTheValueAt2000InEveryMergeOrder) {
  const std::array<LWWRegister, 3> writes = {LWWRegister().Set(At(1000, 1), "v1000"),
                                             LWWRegister().Set(At(2000, 2), "v2000"),
                                             LWWRegister().Set(At(1500, 3), "v1500")};
  std::array<int, 3> order = {0, 1, 2};
  do {
    LWWRegister r;
    for (int i : order) r.Join(writes[i]);
    EXPECT_THAT(r.Value(), ElementsAre("v2000"));
  } while (std::next_permutation(order.begin(), order.end()));
}

TEST(LWWRegister, EqualTimestampsAreDecidedByReplicaId) {
  LWWRegister a, b;
  a.Join(a.Set(At(7, 1), "from-1"));
  b.Join(b.Set(At(7, 2), "from-2"));
  a.Join(b);
  b.Join(LWWRegister().Set(At(7, 1), "from-1"));
  EXPECT_THAT(a.Value(), ElementsAre("from-2"));
  EXPECT_EQ(a, b);
}

TEST(LWWRegister, AnEarlierWriteArrivingLateLoses) {
  LWWRegister r;
  r.Join(r.Set(At(50, 1), "new"));
  r.Join(LWWRegister().Set(At(40, 2), "old"));
  EXPECT_THAT(r.Value(), ElementsAre("new"));
}

TEST(LWWRegister, NeverWrittenIsEmpty) { EXPECT_THAT(LWWRegister().Value(), IsEmpty()); }

TEST(MVRegister, ConcurrentAliceAndBobAreBothKept) {
  MVRegister a, b;
  a.Join(a.Write(1, "alice"));
  b.Join(b.Write(2, "bob"));
  a.Join(b);
  b.Join(a);
  EXPECT_THAT(a.Value(), ElementsAre("alice", "bob"));
  EXPECT_EQ(a, b);
}

TEST(MVRegister, AWriteReplacesEveryValueItsReplicaHadSeen) {
  MVRegister a, b;
  a.Join(a.Write(1, "alice"));
  b.Join(b.Write(2, "bob"));
  a.Join(b);
  a.Join(a.Write(1, "carol"));
  EXPECT_THAT(a.Value(), ElementsAre("carol"));
  b.Join(a);
  EXPECT_THAT(b.Value(), ElementsAre("carol"));
}

TEST(MVRegister, AWriteConcurrentWithAResolutionSurvivesIt) {
  MVRegister a, b;
  a.Join(a.Write(1, "alice"));
  b.Join(a);
  a.Join(a.Write(1, "x"));
  b.Join(b.Write(2, "y"));
  a.Join(b);
  EXPECT_THAT(a.Value(), ElementsAre("x", "y"));
}

}  // namespace
}  // namespace geodatastore::crdt
