// EngineFixture: an engine on a fresh store in a temporary directory, on a manual clock set
// to kNow, with every rejected payload's reason recorded (OpObserver::OnRejected).
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "support/temp_dir.h"

namespace geodatastore::engine {

struct Rejections : OpObserver {
  void OnApplied(v1::CrdtType, const Op&, double) override {}
  void OnRejected(std::string_view reason) override { reasons.emplace_back(reason); }
  std::vector<std::string> reasons;
};

class EngineFixture : public ::testing::Test {
 protected:
  static constexpr uint64_t kNow = 1'700'000'000'000;

  explicit EngineFixture(const std::string& node, EngineOptions options = {}) {
    store_ = std::move(storage::Store::Open({dir_.path(), false})).value();
    auto id = storage::LoadIdentity(*store_, node);
    EXPECT_TRUE(id.ok());
    engine_ = std::make_unique<Engine>(store_.get(), *id, &clock_, options);
    EXPECT_TRUE(engine_->Start().ok());
    engine_->set_observer(&rejections_);
  }

  geodatastore::testing::TempDir dir_;
  crdt::ManualClock clock_{kNow};
  std::unique_ptr<storage::Store> store_;
  std::unique_ptr<Engine> engine_;
  Rejections rejections_;
};

}  // namespace geodatastore::engine
