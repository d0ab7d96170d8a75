// Anti-entropy trusts nothing it receives (antientropy/message_checksum.cc, the engine's
// validation): a request or reply with a flipped bit fails its checksum and is never
// joined; an intact one whose states carry far-future stamps is rejected whole.
#include "antientropy/message_checksum.h"

#include <gtest/gtest.h>

#include <random>

#include "antientropy/session.h"
#include "antientropy/test_node.h"
#include "crdt/codec.h"

namespace geodatastore::antientropy {
namespace {

using testing::Contents;
using testing::Node;
using Kind = engine::Op::Kind;

struct Rejections : engine::OpObserver {
  void OnApplied(v1::CrdtType, const engine::Op&, double) override {}
  void OnRejected(std::string_view reason) override { ++counts[std::string(reason)]; }
  std::map<std::string, uint64_t> counts;
};

// A responder that answers from host but hands out extra states of its own making.
class ForgingHost final : public SyncHost {
 public:
  ForgingHost(SyncHost* host, std::vector<v1::ObjectState> extra)
      : host_(host), extra_(std::move(extra)) {}
  bool Ready() const override { return host_->Ready(); }
  std::vector<storage::Digest> TreeNodes(v1::CrdtType type, int level,
                                         const std::vector<uint32_t>& indices) const override {
    return host_->TreeNodes(type, level, indices);
  }
  StatusOr<std::vector<storage::BucketEntry>> BucketEntries(
      v1::CrdtType type, const std::vector<uint32_t>& buckets) const override {
    return host_->BucketEntries(type, buckets);
  }
  StatusOr<std::vector<v1::ObjectState>> ReadStates(
      const std::vector<v1::ObjectRef>& objects) const override {
    GDS_ASSIGN_OR_RETURN(auto out, host_->ReadStates(objects));
    out.insert(out.end(), extra_.begin(), extra_.end());
    return out;
  }
  StatusOr<uint64_t> JoinStates(const std::vector<v1::ObjectState>& states,
                                const v1::VersionVector& knowledge) override {
    return host_->JoinStates(states, knowledge);
  }
  v1::VersionVector Knowledge() const override { return host_->Knowledge(); }

 private:
  SyncHost* const host_;
  const std::vector<v1::ObjectState> extra_;
};

v1::ObjectState RegisterState(const std::string& name, crdt::Stamp stamp) {
  v1::ObjectState s;
  s.set_type(v1::LWW_REGISTER);
  s.set_key(storage::ObjectKey{v1::REGISTERS, name}.Encode());
  s.set_state(crdt::EncodeAny(crdt::LWWRegister().Set(stamp, "forever")));
  return s;
}

uint64_t NowMs() { return crdt::SystemClock().NowMillis(); }

// Copies of message with 1 to 3 bits flipped that still parse and differ from it.
template <typename Msg>
std::vector<Msg> Flipped(const Msg& message, int count, uint32_t seed) {
  const std::string bytes = message.SerializeAsString();
  const std::string canonical = crdt::SerializeCanonical(message);
  std::mt19937 rng(seed);
  std::vector<Msg> out;
  for (int i = 0; static_cast<int>(out.size()) < count && i < 100 * count; ++i) {
    std::string flipped = bytes;
    for (int f = 0; f <= i % 3; ++f)
      flipped[rng() % flipped.size()] ^= static_cast<char>(1 << (rng() % 8));
    Msg m;
    if (m.ParseFromString(flipped) && crdt::SerializeCanonical(m) != canonical)
      out.push_back(std::move(m));
  }
  EXPECT_EQ(static_cast<int>(out.size()), count);
  return out;
}

class SyncTrust : public ::testing::Test {
 protected:
  SyncTrust() : a_("a"), b_("b") {
    a_.engine->set_observer(&a_rejections_);
    b_.engine->set_observer(&b_rejections_);
    for (int i = 0; i < 20; ++i) {
      EXPECT_TRUE(
          a_.engine->Apply("c" + std::to_string(i), {.kind = Kind::kIncrement, .amount = 2}).ok());
      EXPECT_TRUE(
          a_.engine->Apply("s", {.kind = Kind::kAdd, .elements = {std::to_string(i)}}).ok());
    }
    EXPECT_TRUE(a_.WaitReady() && b_.WaitReady());
  }

  // a's push of every object it holds to b, sealed.
  v1::SyncRequest Push(std::vector<v1::ObjectState> extra = {}) {
    std::vector<v1::ObjectRef> refs;
    for (const auto& [key, typed] : Contents(a_)) {
      v1::ObjectRef& r = refs.emplace_back();
      r.set_type(typed.first);
      r.set_key(key);
    }
    auto states = a_.host->ReadStates(refs);
    EXPECT_TRUE(states.ok());
    v1::SyncRequest push;
    push.set_from("a");
    for (v1::ObjectState& s : *states) *push.mutable_push()->add_states() = std::move(s);
    for (v1::ObjectState& s : extra) *push.mutable_push()->add_states() = std::move(s);
    *push.mutable_push()->mutable_knowledge() = a_.host->Knowledge();
    Seal(&push);
    return push;
  }

  Node a_, b_;
  Rejections a_rejections_, b_rejections_;
};

TEST_F(SyncTrust, NoPushWithFlippedBitsIsJoined) {
  const v1::SyncRequest push = Push();
  for (const v1::SyncRequest& bad : Flipped(push, 300, 7)) {
    v1::SyncReply reply;
    EXPECT_FALSE(Respond(b_.host.get(), bad, &reply).ok());
    ASSERT_TRUE(Contents(b_).empty());
  }
  EXPECT_EQ(b_rejections_.counts["checksum"], 300u);
  v1::SyncReply reply;
  ASSERT_TRUE(Respond(b_.host.get(), push, &reply).ok());
  EXPECT_TRUE(Intact(reply));
  EXPECT_EQ(Contents(b_), Contents(a_));
}

TEST_F(SyncTrust, NoPullReplyWithFlippedBitsIsJoined) {
  // b pulls everything from a, in sessions whose pull replies arrive with flipped bits.
  int sessions = 0;
  for (uint32_t seed = 0; sessions < 100; ++seed) {
    Session session(b_.host.get(), "b");
    while (auto request = session.Next()) {
      v1::SyncReply reply;
      ASSERT_TRUE(Respond(a_.host.get(), *request, &reply).ok());
      if (request->has_pull()) reply = Flipped(reply, 1, seed)[0];
      session.OnReply(reply);
    }
    EXPECT_FALSE(session.status().ok());
    ASSERT_TRUE(Contents(b_).empty());
    ++sessions;
  }
  EXPECT_EQ(b_rejections_.counts["checksum"], 100u);
}

TEST_F(SyncTrust, APushedStateWithAFarFutureStampIsRejectedWhole) {
  const v1::SyncRequest push = Push({RegisterState("r", {{NowMs() + 3'600'000, 0}, 7})});
  v1::SyncReply reply;
  const Status s = Respond(b_.host.get(), push, &reply);
  EXPECT_EQ(crdt::RejectionReason(s), crdt::kClockOffset) << s.ToString();
  EXPECT_TRUE(Contents(b_).empty());
  EXPECT_EQ(b_rejections_.counts["clock_offset"], 1u);
}

TEST_F(SyncTrust, APulledStateWithAFarFutureStampIsRejectedWhole) {
  // a's answers carry a register stamped an hour ahead: b joins none of them.
  ForgingHost forging(a_.host.get(), {RegisterState("r", {{NowMs() + 3'600'000, 0}, 7})});
  Session session(b_.host.get(), "b");
  while (auto request = session.Next()) {
    v1::SyncReply reply;
    ASSERT_TRUE(Respond(&forging, *request, &reply).ok());
    session.OnReply(reply);
  }
  EXPECT_EQ(crdt::RejectionReason(session.status()), crdt::kClockOffset)
      << session.status().ToString();
  EXPECT_TRUE(Contents(b_).empty());
  EXPECT_EQ(b_rejections_.counts["clock_offset"], 1u);
}

}  // namespace
}  // namespace geodatastore::antientropy
