#include "antientropy/message_checksum.h"

#include "common/checksum.h"
#include "crdt/codec.h"

namespace geodatastore::antientropy {

namespace {

// Which body a request or reply carries, and its deterministic bytes.
void AddBody(FrameChecksum& sum, const google::protobuf::Message& message) {
  const google::protobuf::Reflection* reflection = message.GetReflection();
  const google::protobuf::FieldDescriptor* field = reflection->GetOneofFieldDescriptor(
      message, message.GetDescriptor()->FindOneofByName("body"));
  sum.AddInt(field == nullptr ? 0 : static_cast<uint64_t>(field->number()));
  if (field != nullptr) sum.Add(crdt::SerializeCanonical(reflection->GetMessage(message, field)));
}

}  // namespace

uint64_t ChecksumOf(const v1::SyncRequest& request) {
  FrameChecksum sum;
  sum.Add(request.from());
  AddBody(sum, request);
  return sum.Digest();
}

uint64_t ChecksumOf(const v1::SyncReply& reply) {
  FrameChecksum sum;
  AddBody(sum, reply);
  return sum.Digest();
}

}  // namespace geodatastore::antientropy
