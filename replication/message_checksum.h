// The checksum of a replication message (proto/geodatastore/v1/replication.proto,
// ReplicationMessage.checksum; common/checksum.h).
//
// Thread safety: free functions on values.
#pragma once

#include <cstdint>

#include "geodatastore/v1/replication.pb.h"

namespace geodatastore::replication {

// Over from, replica, the body and the progress reports: everything but the checksum.
uint64_t ChecksumOf(const v1::ReplicationMessage& message);
// Sets message's checksum. The sender's last step: nothing may change the message after.
void Seal(v1::ReplicationMessage* message);
// Whether message's checksum matches its contents.
bool Intact(const v1::ReplicationMessage& message);

// The same for a read's answer (FetchState): over found, type, state and knowledge.
uint64_t ChecksumOf(const v1::FetchStateReply& reply);
void Seal(v1::FetchStateReply* reply);
bool Intact(const v1::FetchStateReply& reply);

}  // namespace geodatastore::replication
