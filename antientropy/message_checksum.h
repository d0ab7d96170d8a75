// The checksums of anti-entropy requests and replies (proto/geodatastore/v1/antientropy.proto;
// common/checksum.h).
//
// Thread safety: free functions on values.
#pragma once

#include <cstdint>

#include "geodatastore/v1/antientropy.pb.h"

namespace geodatastore::antientropy {

// Over everything but the checksum field.
uint64_t ChecksumOf(const v1::SyncRequest& request);
uint64_t ChecksumOf(const v1::SyncReply& reply);
// Sets the checksum: the sender's last step.
template <typename Msg>
void Seal(Msg* message) {
  message->set_checksum(ChecksumOf(*message));
}
template <typename Msg>
bool Intact(const Msg& message) {
  return message.checksum() == ChecksumOf(message);
}

}  // namespace geodatastore::antientropy
