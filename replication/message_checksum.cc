#include "replication/message_checksum.h"

#include "common/checksum.h"
#include "crdt/codec.h"

namespace geodatastore::replication {

uint64_t ChecksumOf(const v1::ReplicationMessage& message) {
  FrameChecksum sum;
  sum.Add(message.from());
  sum.AddInt(message.replica());
  sum.AddInt(static_cast<uint64_t>(message.body_case()));
  switch (message.body_case()) {
    case v1::ReplicationMessage::kDeltas:
      sum.Add(crdt::SerializeCanonical(message.deltas()));
      break;
    case v1::ReplicationMessage::kAck:
      sum.Add(crdt::SerializeCanonical(message.ack()));
      break;
    case v1::ReplicationMessage::kHeartbeat:
      sum.Add(crdt::SerializeCanonical(message.heartbeat()));
      break;
    case v1::ReplicationMessage::BODY_NOT_SET:
      break;
  }
  sum.AddInt(static_cast<uint64_t>(message.progress_size()));
  for (const v1::Progress& p : message.progress()) sum.Add(crdt::SerializeCanonical(p));
  return sum.Digest();
}

void Seal(v1::ReplicationMessage* message) { message->set_checksum(ChecksumOf(*message)); }

bool Intact(const v1::ReplicationMessage& message) {
  return message.checksum() == ChecksumOf(message);
}

uint64_t ChecksumOf(const v1::FetchStateReply& reply) {
  FrameChecksum sum;
  sum.AddInt(reply.found());
  sum.AddInt(static_cast<uint64_t>(reply.type()));
  sum.Add(reply.state());
  sum.Add(crdt::SerializeCanonical(reply.knowledge()));
  return sum.Digest();
}

void Seal(v1::FetchStateReply* reply) { reply->set_checksum(ChecksumOf(*reply)); }

bool Intact(const v1::FetchStateReply& reply) { return reply.checksum() == ChecksumOf(reply); }

}  // namespace geodatastore::replication
