#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <set>

#include "crdt/g_set.h"
#include "crdt/lww_element_set.h"
#include "crdt/or_set.h"
#include "crdt/two_p_set.h"
#include "test_stamps.h"

namespace geodatastore::crdt {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

TEST(GSet, AddsUnionAcrossReplicas) {
  GSet a, b;
  a.Join(a.Add("x"));
  b.Join(b.Add("y"));
  b.Join(b.Add("x"));
  a.Join(b);
  EXPECT_THAT(a.Value(), ElementsAre("x", "y"));
  EXPECT_TRUE(a.Contains("y"));
}

TEST(TwoPSet, RemovalIsPermanentAndReAddingIsAnError) {
  TwoPSet s;
  s.Join(*s.Add("x"));
  s.Join(s.Remove("x"));
  EXPECT_FALSE(s.Contains("x"));
  auto again = s.Add("x");
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(s.tombstones(), 1u);
}

TEST(TwoPSet, AConcurrentAddElsewhereDoesNotResurrect) {
  TwoPSet a, b;
  a.Join(*a.Add("x"));
  b.Join(a);
  a.Join(a.Remove("x"));
  b.Join(*b.Add("x"));  // b has not seen the removal yet
  b.Join(a);
  a.Join(b);
  EXPECT_THAT(a.Value(), IsEmpty());
  EXPECT_EQ(a, b);
}

TEST(TwoPSet, RemovingAnAbsentElementChangesNothing) {
  TwoPSet s;
  EXPECT_EQ(s.Remove("ghost"), TwoPSet());
}

TEST(ORSet, ConcurrentReAddAgainstRemoveLeavesTheElementPresent) {
  ORSet a, b;
  a.Join(a.Add(1, "x"));
  b.Join(a);
  // a removes x while b, concurrently, adds x again.
  a.Join(a.Remove("x"));
  b.Join(b.Add(2, "x"));
  EXPECT_FALSE(a.Contains("x"));
  a.Join(b);
  b.Join(a);
  EXPECT_TRUE(a.Contains("x"));
  EXPECT_EQ(a, b);
}

TEST(ORSet, RemovedElementLeavesNothingButItsDotsInTheContext) {
  ORSet s;
  for (const char* e : {"x", "y", "z"}) s.Join(s.Add(1, e));
  s.Join(s.Remove("y"));
  EXPECT_THAT(s.Value(), ElementsAre("x", "z"));
  EXPECT_EQ(s.kernel().entries().count("y"), 0u);
  // The context is one compact entry, whatever was removed: no per-element tombstone.
  EXPECT_THAT(s.kernel().context().compact().entries(),
              ElementsAre(std::pair<ReplicaId, uint64_t>(1, 3)));
  EXPECT_THAT(s.kernel().context().cloud(), IsEmpty());
}

TEST(ORSet, RemoveWinsOnlyOverTheAddsItObserved) {
  ORSet a, b;
  a.Join(a.Add(1, "x"));
  b.Join(b.Add(2, "x"));
  const ORSet removal = a.Remove("x");  // a saw only its own add
  b.Join(removal);
  EXPECT_TRUE(b.Contains("x"));
  a.Join(removal);
  a.Join(b);
  EXPECT_TRUE(a.Contains("x"));
}

TEST(ORSet, RemoveArrivingBeforeItsAddStillRemoves) {
  ORSet origin;
  const ORSet add = origin.Add(1, "x");
  origin.Join(add);
  const ORSet remove = origin.Remove("x");
  ORSet replica;
  replica.Join(remove);
  replica.Join(add);
  EXPECT_FALSE(replica.Contains("x"));
}

TEST(ORSet, AddAllIsAddOneAfterTheOther) {
  ORSet base;
  base.Join(base.Add(1, "b"));
  ORSet one_by_one = base;
  for (const char* e : {"c", "a", "b"}) one_by_one.Join(one_by_one.Add(1, e));
  ORSet all = base;
  all.Join(base.AddAll(1, std::vector<std::string>{"c", "a", "b"}));
  EXPECT_EQ(all, one_by_one);
  // An element named twice gets one dot.
  ORSet twice = base;
  twice.Join(base.AddAll(1, std::vector<std::string>{"x", "x"}));
  EXPECT_THAT(twice.Value(), ElementsAre("b", "x"));
  EXPECT_EQ(twice.kernel().context().Next(1).counter, 3u);
}

// From a state that holds adds and removes of its own and some of replica 2's adds (so its
// context has a dot cloud), AddAll by either replica of elements from a small alphabet (named
// twice, held, removed): equals adding each distinct one after the other, tags each with one
// fresh dot of its own (superseding what it had), and leaves the other elements as they were.
RC_GTEST_PROP(ORSet, AddAllIsAddOneAfterTheOtherOnAnyState, ()) {
  const auto element = rc::gen::elementOf(std::vector<std::string>{"a", "b", "c", "d", "e"});
  ORSet base, theirs;
  for (const auto& [add, e] : *rc::gen::container<std::vector<std::pair<bool, std::string>>>(
           rc::gen::pair(rc::gen::arbitrary<bool>(), element))) {
    base.Join(add ? base.Add(1, e) : base.Remove(e));
    const ORSet delta = theirs.Add(2, e);
    theirs.Join(delta);
    if (*rc::gen::arbitrary<bool>()) base.Join(delta);
  }
  const auto elements = *rc::gen::container<std::vector<std::string>>(element);
  const ReplicaId replica = *rc::gen::inRange<ReplicaId>(1, 3);
  ORSet one_by_one = base;
  std::set<std::string> named;
  for (const std::string& e : elements) {
    if (named.insert(e).second) one_by_one.Join(one_by_one.Add(replica, e));
  }
  ORSet all = base;
  all.Join(base.AddAll(replica, elements));
  RC_ASSERT(all == one_by_one);

  const uint64_t first = base.kernel().context().Next(replica).counter;
  std::set<uint64_t> fresh;
  for (const auto& [e, dots] : all.kernel().entries()) {
    if (!named.count(e)) {
      RC_ASSERT(dots == base.kernel().entries().at(e));
      continue;
    }
    RC_ASSERT(dots.size() == 1u);
    RC_ASSERT(dots.begin()->replica == replica);
    RC_ASSERT(dots.begin()->counter >= first);
    fresh.insert(dots.begin()->counter);
  }
  RC_ASSERT(fresh.size() == named.size());
  RC_ASSERT(all.kernel().context().Next(replica).counter == first + named.size());
}

TEST(LWWElementSet, LaterTimestampWinsWhateverTheOrder) {
  LWWElementSet a, b;
  a.Join(a.Add(At(10, 1), "x"));
  b.Join(b.Remove(At(20, 2), "x"));
  b.Join(b.Add(At(5, 2), "y"));
  a.Join(b);
  EXPECT_THAT(a.Value(), ElementsAre("y"));
  a.Join(a.Add(At(30, 1), "x"));
  EXPECT_THAT(a.Value(), ElementsAre("x", "y"));
}

TEST(LWWElementSet, EqualTimestampsRemoveWinsByDefault) {
  LWWElementSet s;
  s.Join(s.Add(At(10, 1), "x"));
  s.Join(s.Remove(At(10, 2), "x"));
  EXPECT_FALSE(s.Contains("x"));
  EXPECT_EQ(s.tombstones(), 1u);
}

TEST(LWWElementSet, EqualTimestampsAddWinsWhenTheSetSaysSo) {
  LWWElementSet s(LwwBias::kAddWins);
  s.Join(s.Add(At(10, 1), "x"));
  s.Join(s.Remove(At(10, 2), "x"));
  EXPECT_TRUE(s.Contains("x"));
  // The bias travels with the state: a replica that only receives the set agrees.
  LWWElementSet other;
  other.Join(s);
  EXPECT_TRUE(other.Contains("x"));
}

}  // namespace
}  // namespace geodatastore::crdt
