// Anti-entropy requests (SyncRequest: nodes, keys, pull, push) as node "b" answers them:
// antientropy::Respond with the engine behind it. A push joins states into the node.
//
// Byte-level, as replication_fuzz.cc: the checksum is set before the request is answered,
// unless the input's is 1 (then it must be refused and change nothing). A refused push must
// leave the node as it was (fuzz_node.h); every answer must carry a valid checksum.
#include "antientropy/message_checksum.h"
#include "fuzz_node.h"

using namespace geodatastore;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  v1::SyncRequest request;
  if (!request.ParseFromArray(data, static_cast<int>(size))) return 0;
  const bool corrupt = request.checksum() == 1;
  if (!corrupt) antientropy::Seal(&request);

  fuzz::FuzzNode& node = fuzz::PristineNode();
  const fuzz::Contents before = node.Snapshot();
  v1::SyncReply reply;
  const Status s = antientropy::Respond(&node.sync_host(), request, &reply, 64 << 10);
  if (s.ok()) FUZZ_CHECK(antientropy::Intact(reply));
  if (corrupt) {
    FUZZ_CHECK(!s.ok());
    FUZZ_CHECK(node.Snapshot() == before);
  }
  return 0;
}
