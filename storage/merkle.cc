#include "storage/merkle.h"

#include <xxhash.h>

namespace geodatastore::storage {

std::array<char, 16> Digest::Bytes() const {
  std::array<char, 16> out{};
  for (int i = 0; i < 8; ++i) {
    out[i] = static_cast<char>(lo >> (8 * i));
    out[8 + i] = static_cast<char>(hi >> (8 * i));
  }
  return out;
}

Digest Digest::FromBytes(std::string_view bytes) {
  Digest d;
  for (size_t i = 0; i < 8 && i < bytes.size(); ++i)
    d.lo |= static_cast<uint64_t>(static_cast<uint8_t>(bytes[i])) << (8 * i);
  for (size_t i = 8; i < 16 && i < bytes.size(); ++i)
    d.hi |= static_cast<uint64_t>(static_cast<uint8_t>(bytes[i])) << (8 * (i - 8));
  return d;
}

Digest ObjectDigest(std::string_view encoded_key, std::string_view state) {
  // The state hashed with a seed that is a hash of the key (and its length): no allocation,
  // and (key, state) pairs do not collide by shifting the boundary between them.
  const uint64_t seed =
      XXH3_64bits_withSeed(encoded_key.data(), encoded_key.size(), encoded_key.size());
  const XXH128_hash_t h = XXH3_128bits_withSeed(state.data(), state.size(), seed);
  return {h.low64, h.high64};
}

uint32_t BucketOf(std::string_view encoded_key) {
  return static_cast<uint32_t>(XXH3_64bits(encoded_key.data(), encoded_key.size()) >>
                               (64 - kBucketBits));
}

MerkleTree::MerkleTree() {
  for (int level = 0; level <= kLeafLevel; ++level) levels_[level].resize(Width(level));
}

void MerkleTree::Toggle(uint32_t bucket, const Digest& d) {
  uint32_t index = bucket;
  for (int level = kLeafLevel; level >= 0; --level) {
    levels_[level][index] ^= d;
    index >>= kFanoutBits;
  }
}

}  // namespace geodatastore::storage
