#include "storage/store.h"

#include <gtest/gtest.h>

#include "crdt/any_crdt.h"
#include "storage/node_identity.h"
#include "support/temp_dir.h"

namespace geodatastore::storage {
namespace {

using geodatastore::testing::TempDir;

std::unique_ptr<Store> OpenAt(const std::string& path) {
  auto store = Store::Open({path, false});
  EXPECT_TRUE(store.ok()) << store.status().ToString();
  return std::move(store).value();
}

ObjectWrite CounterWrite(const std::string& name, uint64_t amount, uint64_t seq, bool created) {
  const crdt::GCounter delta = *crdt::GCounter().Increment(1, amount);
  return {v1::G_COUNTER,
          {v1::COUNTERS, name},
          crdt::EncodeToBytes(delta),
          crdt::EncodeToBytes(delta),
          created,
          seq};
}

TEST(Store, CommittedStatesCatalogAndCountsSurviveReopening) {
  TempDir dir;
  {
    auto store = OpenAt(dir.path());
    ASSERT_TRUE(
        store->Commit(7, 1000, {CounterWrite("a", 5, 1, true), CounterWrite("b", 2, 2, true)})
            .ok());
    EXPECT_EQ(store->KeyCount(v1::G_COUNTER), 2u);
  }
  auto store = OpenAt(dir.path());
  EXPECT_EQ(store->KeyCount(v1::G_COUNTER), 2u);
  auto type = store->LookupType({v1::COUNTERS, "a"});
  ASSERT_TRUE(type.ok());
  EXPECT_EQ(**type, v1::G_COUNTER);
  auto bytes = store->ReadState(v1::G_COUNTER, {v1::COUNTERS, "a"});
  ASSERT_TRUE(bytes.ok() && bytes->has_value());
  EXPECT_EQ(crdt::DecodeFromBytes<crdt::GCounter>(**bytes)->Value(), 5u);
  EXPECT_EQ(*store->LastSeq(7), 2u);
  EXPECT_EQ(*store->LastSeq(8), 0u);
}

TEST(Store, NamesAreNamespacedByFamily) {
  TempDir dir;
  auto store = OpenAt(dir.path());
  ASSERT_TRUE(store->Commit(7, 0, {CounterWrite("x", 1, 1, true)}).ok());
  EXPECT_FALSE(store->LookupType({v1::SETS, "x"})->has_value());
  EXPECT_TRUE(store->LookupType({v1::COUNTERS, "x"})->has_value());
}

TEST(Store, ListKeysFiltersByTypeAndPrefixUpToTheLimit) {
  TempDir dir;
  auto store = OpenAt(dir.path());
  ASSERT_TRUE(store
                  ->Commit(7, 0,
                           {CounterWrite("user:1", 1, 1, true), CounterWrite("user:2", 1, 2, true),
                            CounterWrite("other", 1, 3, true)})
                  .ok());
  auto keys = store->ListKeys(v1::G_COUNTER, "user:", 10);
  ASSERT_TRUE(keys.ok());
  ASSERT_EQ(keys->size(), 2u);
  EXPECT_EQ((*keys)[0].first.name, "user:1");
  EXPECT_EQ(store->ListKeys(std::nullopt, "", 2)->size(), 2u);
  EXPECT_TRUE(store->ListKeys(v1::OR_SET, "", 10)->empty());
}

TEST(NodeIdentity, RestoredCheckpointTakesANewEpochAndReplicaId) {
  TempDir dir;
  NodeIdentity first;
  {
    auto store = OpenAt(dir.Sub("db"));
    first = *LoadIdentity(*store, "us-east-1");
    EXPECT_EQ(LoadIdentity(*store, "us-east-1")->replica, first.replica);  // restart: same
    ASSERT_TRUE(store->Checkpoint(dir.Sub("snap")).ok());
  }
  auto restored = OpenAt(dir.Sub("snap"));
  const NodeIdentity after = *LoadIdentity(*restored, "us-east-1");
  EXPECT_GT(after.epoch, first.epoch);
  EXPECT_NE(after.replica, first.replica);
  EXPECT_EQ(LoadIdentity(*restored, "us-east-1")->epoch, after.epoch);  // only once
}

TEST(NodeIdentity, ADataDirectoryOfAnotherNodeIsRefused) {
  TempDir dir;
  auto store = OpenAt(dir.path());
  ASSERT_TRUE(LoadIdentity(*store, "us-east-1").ok());
  EXPECT_EQ(LoadIdentity(*store, "eu-west-1").status().code(), StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace geodatastore::storage

namespace geodatastore::storage {
namespace {

TEST(Store, ConflictLogKeepsTheMostRecentNewestFirst) {
  geodatastore::testing::TempDir dir;
  auto store = std::move(Store::Open({dir.path(), false})).value();
  std::vector<v1::ConflictRecord> records;
  for (uint64_t i = 0; i < Store::kMaxConflicts + 5; ++i) {
    v1::ConflictRecord r;
    r.set_name("k" + std::to_string(i));
    r.set_kind("type");
    records.push_back(r);
  }
  ASSERT_TRUE(store->AppendConflicts(records).ok());
  auto recent = store->RecentConflicts(3);
  ASSERT_TRUE(recent.ok());
  ASSERT_EQ(recent->size(), 3u);
  EXPECT_EQ((*recent)[0].name(), "k1004");
  EXPECT_EQ(store->RecentConflicts(5000)->size(), Store::kMaxConflicts);
}

}  // namespace
}  // namespace geodatastore::storage
