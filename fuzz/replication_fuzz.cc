// Replication messages (ReplicationMessage: delta batches, acknowledgements, heartbeats,
// progress reports) as node "b" receives them from its peers: Replicator::Receive with the
// engine behind it, then a tick that sends what the message made due.
//
// Byte-level: the input is one serialized message (no structure-aware mutator is packaged
// for Debian 12). Its checksum is set before it is received, so that mutations reach the
// decoders behind the checksum check, unless the input's checksum is 1: then the message
// must be dropped without changing anything. Every refused batch must leave the node as it
// was (fuzz_node.h).
#include "fuzz_node.h"
#include "replication/message_checksum.h"

using namespace geodatastore;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  v1::ReplicationMessage message;
  if (!message.ParseFromArray(data, static_cast<int>(size))) return 0;
  const bool corrupt = message.checksum() == 1;
  if (!corrupt) replication::Seal(&message);

  fuzz::FuzzNode& node = fuzz::PristineNode();
  replication::Replicator replicator(fuzz::kSelf, fuzz::kPeers, &node.replication_host(), {});
  FUZZ_CHECK(replicator.Start(fuzz::kNowMs).ok());
  const fuzz::Contents before = node.Snapshot();
  const std::string authenticated = message.from() == "c" ? "c" : "a";
  auto out = replicator.Receive(message, authenticated, fuzz::kNowMs);
  for (const replication::Outgoing& o : out) FUZZ_CHECK(replication::Intact(o.message));
  if (corrupt) {
    FUZZ_CHECK(out.empty());
    FUZZ_CHECK(node.Snapshot() == before);
  }
  for (const replication::Outgoing& o : replicator.Tick(fuzz::kNowMs + 10'000))
    FUZZ_CHECK(replication::Intact(o.message));
  (void)replicator.Peers(fuzz::kNowMs + 10'000);
  return 0;
}
