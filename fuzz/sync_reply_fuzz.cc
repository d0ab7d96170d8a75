// Anti-entropy replies (SyncReply) as node "b" reads them while it runs a session with a
// peer: each frame of the input (fuzz/frames.h) is the peer's reply to the session's next
// request, until the session ends. Pulled states are joined into the node.
//
// Byte-level, as replication_fuzz.cc: each reply's checksum is set before the session reads
// it, unless it is 1 (then the session must end and change nothing). A refused pull must
// leave the node as it was (fuzz_node.h).
#include "antientropy/message_checksum.h"
#include "frames.h"
#include "fuzz_node.h"

using namespace geodatastore;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::vector<std::string> frames =
      fuzz::SplitFrames(std::string_view(reinterpret_cast<const char*>(data), size));
  std::vector<v1::SyncReply> replies;
  for (const std::string& frame : frames) {
    if (!replies.emplace_back().ParseFromString(frame)) return 0;
  }

  fuzz::FuzzNode& node = fuzz::PristineNode();
  antientropy::Session session(&node.sync_host(), "b", fuzz::SessionOptionsForFuzz());
  for (v1::SyncReply& reply : replies) {
    std::optional<v1::SyncRequest> request = session.Next();
    if (!request) break;
    FUZZ_CHECK(antientropy::Intact(*request));
    const bool corrupt = reply.checksum() == 1;
    if (!corrupt) antientropy::Seal(&reply);
    const fuzz::Contents before = node.Snapshot();
    session.OnReply(reply);
    if (corrupt) {
      FUZZ_CHECK(session.done() && !session.status().ok());
      FUZZ_CHECK(node.Snapshot() == before);
    }
    if (session.done()) break;
  }
  return 0;
}
