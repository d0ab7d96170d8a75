// Merkle digests of stored objects, for anti-entropy (antientropy/).
//
// Every object of a column family (CRDT type) falls in one of kBuckets buckets by a hash of
// its key. Its digest is XXH3-128 over its key and canonical state bytes; a bucket's leaf is
// the XOR of the digests of its objects, so a write updates it in O(1) (XOR out the old
// digest, XOR in the new). Inner nodes, kFanout children each, are the XOR of their
// children, so a root differs between two replicas exactly when some object differs
// (up to 2^-128 chances of a cancellation). The store keeps a per-bucket index of key
// digests in RocksDB (written in the same batch as the state) and the whole tree of each
// type in memory (its leaves summed from the index at open).
#pragma once

#include <array>
#include <cstdint>
#include <string_view>
#include <vector>

namespace geodatastore::storage {

inline constexpr int kBucketBits = 16;
inline constexpr uint32_t kBuckets = 1u << kBucketBits;
inline constexpr int kFanoutBits = 4;
inline constexpr uint32_t kFanout = 1u << kFanoutBits;
inline constexpr int kLeafLevel = kBucketBits / kFanoutBits;  // root is level 0

struct Digest {
  uint64_t lo = 0;
  uint64_t hi = 0;

  Digest& operator^=(const Digest& o) {
    lo ^= o.lo;
    hi ^= o.hi;
    return *this;
  }
  friend Digest operator^(Digest a, const Digest& b) { return a ^= b; }
  bool operator==(const Digest&) const = default;
  bool zero() const { return lo == 0 && hi == 0; }
  // 16 bytes, little-endian lo then hi.
  std::array<char, 16> Bytes() const;
  static Digest FromBytes(std::string_view bytes);  // missing bytes read as zero
};

// The digest of an object: its encoded key and canonical state bytes.
Digest ObjectDigest(std::string_view encoded_key, std::string_view state);
uint32_t BucketOf(std::string_view encoded_key);

// One type's tree: leaves (level kLeafLevel, kBuckets of them) up to the root (level 0).
// Not synchronized.
class MerkleTree {
 public:
  MerkleTree();
  // XORs d into a leaf and its ancestors.
  void Toggle(uint32_t bucket, const Digest& d);
  // REQUIRES: level <= kLeafLevel, index < kFanout^level.
  const Digest& Node(int level, uint32_t index) const { return levels_[level][index]; }
  static uint32_t Width(int level) { return 1u << (kFanoutBits * level); }

 private:
  std::array<std::vector<Digest>, kLeafLevel + 1> levels_;
};

}  // namespace geodatastore::storage
