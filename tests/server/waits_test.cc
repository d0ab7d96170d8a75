// Waits: parked requests are handed on when their condition holds, at their deadline, or
// when the waits stop; past the capacity they are refused. Nothing here sleeps: tests wait
// on the hand-offs themselves (futures), with deadlines.
#include "server/waits.h"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <memory>
#include <thread>
#include <vector>

namespace geodatastore::server {
namespace {

using namespace std::chrono_literals;

// A parked request's outcome, as a future.
struct Outcome {
  std::shared_ptr<std::promise<bool>> promise = std::make_shared<std::promise<bool>>();
  std::future<bool> future = promise->get_future();
  Waits::Then then() {
    return [p = promise](bool ready) { p->set_value(ready); };
  }
};

TEST(WaitsTest, AConditionThatHoldsAlreadyIsAnsweredOnTheCallersThread) {
  Waits waits(4);
  std::thread::id ran_on;
  ASSERT_TRUE(waits.Park([] { return true; }, Waits::Clock::now() + 10s, [&](bool ready) {
                     EXPECT_TRUE(ready);
                     ran_on = std::this_thread::get_id();
                   }).ok());
  EXPECT_EQ(ran_on, std::this_thread::get_id());
  EXPECT_EQ(waits.parked(), 0u);
}

TEST(WaitsTest, AParkedRequestGoesOnWhenItsConditionHoldsOnAnotherThread) {
  Waits waits(4);
  std::atomic<bool> flag{false};
  Outcome outcome;
  std::promise<std::thread::id> where;
  ASSERT_TRUE(waits.Park([&] { return flag.load(); }, Waits::Clock::now() + 60s,
                         [&, p = outcome.promise](bool ready) {
                           where.set_value(std::this_thread::get_id());
                           p->set_value(ready);
                         })
                  .ok());
  EXPECT_EQ(waits.parked(), 1u);
  EXPECT_EQ(outcome.future.wait_for(20ms), std::future_status::timeout);  // still waiting
  flag = true;
  ASSERT_EQ(outcome.future.wait_for(10s), std::future_status::ready);
  EXPECT_TRUE(outcome.future.get());
  EXPECT_NE(where.get_future().get(), std::this_thread::get_id());
  // The count drops when the polling round that handed it on ends.
  const auto deadline = Waits::Clock::now() + 10s;
  while (waits.parked() != 0 && Waits::Clock::now() < deadline) std::this_thread::yield();
  EXPECT_EQ(waits.parked(), 0u);
}

TEST(WaitsTest, AParkedRequestGoesOnAtItsDeadlineIfTheConditionNeverHolds) {
  Waits waits(4);
  Outcome outcome;
  const auto start = Waits::Clock::now();
  ASSERT_TRUE(waits.Park([] { return false; }, start + 50ms, outcome.then()).ok());
  ASSERT_EQ(outcome.future.wait_for(10s), std::future_status::ready);
  EXPECT_FALSE(outcome.future.get());
  EXPECT_GE(Waits::Clock::now() - start, 50ms);
}

TEST(WaitsTest, PastItsCapacityParkRefusesWithoutCallingThen) {
  Waits waits(3);
  std::vector<Outcome> parked(3);
  for (Outcome& o : parked)
    ASSERT_TRUE(waits.Park([] { return false; }, Waits::Clock::now() + 60s, o.then()).ok());
  bool called = false;
  const Status refused =
      waits.Park([] { return false; }, Waits::Clock::now() + 60s, [&](bool) { called = true; });
  EXPECT_EQ(refused.code(), StatusCode::kUnavailable);
  EXPECT_NE(refused.message().find("too many requests are waiting"), std::string::npos);
  EXPECT_FALSE(called);
  EXPECT_EQ(waits.parked(), 3u);
  // A condition that holds already needs no room.
  EXPECT_TRUE(waits.Park([] { return true; }, Waits::Clock::now() + 60s, [](bool) {}).ok());
}

TEST(WaitsTest, StopHandsOnEveryParkedRequestAndRefusesLaterOnes) {
  Waits waits(100);
  std::vector<Outcome> parked(50);
  for (Outcome& o : parked)
    ASSERT_TRUE(waits.Park([] { return false; }, Waits::Clock::now() + 600s, o.then()).ok());
  waits.Stop();
  for (Outcome& o : parked) {
    ASSERT_EQ(o.future.wait_for(10s), std::future_status::ready);
    EXPECT_FALSE(o.future.get());
  }
  EXPECT_EQ(waits.Park([] { return false; }, Waits::Clock::now() + 1s, [](bool) {}).code(),
            StatusCode::kUnavailable);
}

TEST(WaitsTest, AThousandParkedRequestsAllGoOnWhenTheirConditionHolds) {
  Waits waits(2000);
  std::atomic<int> released{0};
  std::atomic<bool> flag{false};
  std::vector<Outcome> parked(1000);
  for (Outcome& o : parked)
    ASSERT_TRUE(waits.Park([&] { return flag.load(); }, Waits::Clock::now() + 60s, o.then()).ok());
  EXPECT_EQ(waits.parked(), 1000u);
  flag = true;
  for (Outcome& o : parked) {
    ASSERT_EQ(o.future.wait_for(10s), std::future_status::ready);
    released += o.future.get();
  }
  EXPECT_EQ(released.load(), 1000);
}

}  // namespace
}  // namespace geodatastore::server
