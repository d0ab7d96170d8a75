// FrameChecksum: the checksum every replication and anti-entropy message carries (DESIGN.md,
// principle 6). The sender computes it over the message's payload before the transport
// compresses it; the receiver recomputes it before it decodes anything and drops a message
// that differs (gzip's CRC covers only compressed streams, and a bit flipped in memory or by
// a proxy would otherwise be merged as a wrong key or value).
//
//   checksum := XXH3-64( part* ),  part := length: fixed64 LE, then the bytes
//
// Thread safety: a plain value.
#pragma once

#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>

#include <cstdint>
#include <string_view>

namespace geodatastore {

class FrameChecksum {
 public:
  FrameChecksum() { XXH3_64bits_reset(&state_); }
  FrameChecksum(const FrameChecksum&) = delete;
  FrameChecksum& operator=(const FrameChecksum&) = delete;

  void Add(std::string_view bytes) {
    AddInt(bytes.size());
    XXH3_64bits_update(&state_, bytes.data(), bytes.size());
  }
  void AddInt(uint64_t value) {
    unsigned char le[8];
    for (int i = 0; i < 8; ++i) le[i] = static_cast<unsigned char>(value >> (8 * i));
    XXH3_64bits_update(&state_, le, sizeof le);
  }
  uint64_t Digest() const { return XXH3_64bits_digest(&state_); }

 private:
  XXH3_state_t state_;
};

}  // namespace geodatastore
