// Embeddings between types (crdt::Embed): a type conflict between a G-Counter and a
// PN-Counter, or a G-Set and a 2P-Set, keeps both sides' writes in the richer type. Replicas
// embed at different moments, so the embedding must keep joins and values.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include "crdt/any_crdt.h"

namespace geodatastore::crdt {
namespace {

GCounter CounterOf(const std::vector<std::pair<uint8_t, uint16_t>>& increments) {
  GCounter c;
  for (const auto& [replica, amount] : increments) c.Join(*c.Increment(replica % 4 + 1, amount));
  return c;
}

GSet SetOf(const std::vector<uint8_t>& elements) {
  GSet s;
  for (uint8_t e : elements) s.Join(s.Add(std::to_string(e % 16)));
  return s;
}

RC_GTEST_PROP(Embed, AGCounterInAPNCounterKeepsJoinsAndTheValue,
              (std::vector<std::pair<uint8_t, uint16_t>> a,
               std::vector<std::pair<uint8_t, uint16_t>> b)) {
  GCounter joined = CounterOf(a);
  joined.Join(CounterOf(b));
  AnyCrdt left = *Embed(CounterOf(a), v1::PN_COUNTER);
  RC_ASSERT(JoinAny(left, *Embed(CounterOf(b), v1::PN_COUNTER)).ok());
  RC_ASSERT(left == *Embed(joined, v1::PN_COUNTER));
  RC_ASSERT(static_cast<uint64_t>(*CounterValue(left)) == joined.Value());
}

RC_GTEST_PROP(Embed, AGSetInA2PSetKeepsJoinsAndTheMembers,
              (std::vector<uint8_t> a, std::vector<uint8_t> b)) {
  GSet joined = SetOf(a);
  joined.Join(SetOf(b));
  AnyCrdt left = *Embed(SetOf(a), v1::TWO_P_SET);
  RC_ASSERT(JoinAny(left, *Embed(SetOf(b), v1::TWO_P_SET)).ok());
  RC_ASSERT(left == *Embed(joined, v1::TWO_P_SET));
  RC_ASSERT(SetMembers(left) == joined.Value());
}

TEST(Embed, OnlyLosslessPairsEmbed) {
  EXPECT_EQ(EmbeddingType(v1::PN_COUNTER, v1::G_COUNTER), v1::PN_COUNTER);
  EXPECT_EQ(EmbeddingType(v1::G_SET, v1::TWO_P_SET), v1::TWO_P_SET);
  EXPECT_EQ(EmbeddingType(v1::G_SET, v1::OR_SET), std::nullopt);
  EXPECT_EQ(EmbeddingType(v1::LWW_REGISTER, v1::MV_REGISTER), std::nullopt);
  EXPECT_EQ(Embed(NewCrdt(v1::PN_COUNTER), v1::G_COUNTER).status().code(),
            StatusCode::kWrongType);
  EXPECT_EQ(Embed(NewCrdt(v1::OR_SET), v1::TWO_P_SET).status().code(), StatusCode::kWrongType);
}

}  // namespace
}  // namespace geodatastore::crdt
