#include "server/consistency.h"

#include <map>
#include <thread>

#include "crdt/codec.h"
#include "replication/message_checksum.h"

namespace geodatastore::server {

bool Satisfied(engine::Consistency level, uint64_t seq, const std::string& self_region,
               const std::vector<replication::PeerView>& peers) {
  if (level == engine::Consistency::kEventual || seq == 0) return true;
  if (level == engine::Consistency::kLocalQuorum) {
    size_t nodes = 1, holding = 1;
    for (const replication::PeerView& p : peers) {
      if (p.region != self_region) continue;
      ++nodes;
      if (p.acked >= seq) ++holding;
    }
    return holding >= nodes / 2 + 1;
  }
  std::map<std::string, bool> regions{{self_region, true}};
  for (const replication::PeerView& p : peers)
    regions[p.region] = regions[p.region] || p.acked >= seq;
  size_t holding = 0;
  for (const auto& [region, holds] : regions) holding += holds;
  return level == engine::Consistency::kAll ? holding == regions.size()
                                            : holding >= regions.size() / 2 + 1;
}

Status AwaitConsistency(replication::GrpcReplication* replication, engine::Consistency level,
                        uint64_t seq, const std::string& self_region,
                        std::chrono::milliseconds timeout) {
  if (replication == nullptr || level == engine::Consistency::kEventual || seq == 0)
    return Status::Ok();
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!Satisfied(level, seq, self_region, replication->Peers())) {
    if (std::chrono::steady_clock::now() >= deadline) {
      return Status(
          StatusCode::kDeadlineExceeded,
          "not enough replicas acknowledged the write in time; it stays applied on this node");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return Status::Ok();
}

StatusOr<engine::ObjectView> ReadAtLevel(engine::Engine* engine,
                                         replication::GrpcReplication* replication,
                                         engine::Consistency level, v1::Family family,
                                         const std::string& name, const std::string& self_region,
                                         std::chrono::milliseconds timeout,
                                         antientropy::GrpcAntiEntropy* anti_entropy,
                                         Metrics* metrics) {
  StatusOr<engine::ObjectView> local = engine->Read(family, name);
  if (replication == nullptr || level == engine::Consistency::kEventual) return local;
  if (!local.ok() && local.status().code() != StatusCode::kNotFound) return local;

  // Whether the answers so far (plus this node) satisfy the level: the same counting as
  // for writes, with "acknowledged" meaning "answered".
  const std::vector<replication::PeerView> peers = replication->Peers();
  auto enough = [&](const std::vector<replication::GrpcReplication::Fetched>& answers) {
    std::vector<replication::PeerView> views = peers;
    for (replication::PeerView& v : views) {
      v.acked = 0;
      for (const auto& a : answers) {
        if (a.peer == v.id && replication::Intact(a.reply)) v.acked = 1;
      }
    }
    return Satisfied(level, 1, self_region, views);
  };
  v1::FetchStateRequest request;
  request.set_family(family);
  request.set_name(name);
  const auto answers = replication->FetchFromPeers(request, timeout, enough);
  if (!enough(answers)) {
    return Status(StatusCode::kDeadlineExceeded, "not enough replicas answered the read in time");
  }
  std::optional<engine::ObjectView> joined;
  if (local.ok()) joined = *local;
  crdt::VersionVector knowledge;  // what the answers may hold (tombstone collection)
  for (const auto& a : answers) {
    if (!replication::Intact(a.reply)) {
      engine->NoteRejected("checksum");
      continue;
    }
    if (!a.reply.found()) continue;
    // Decoded and validated (stamps, sizes, counters, knowledge); a bad answer is counted and
    // ignored, never joined.
    auto state = engine->DecodeRemote(a.reply.type(), a.reply.state());
    auto known = crdt::DecodeVersionVector(a.reply.knowledge());
    if (!state.ok() || !known.ok() || !engine->CheckKnowledge(*known).ok()) continue;
    knowledge.Join(*known);
    if (!joined) {
      joined =
          engine::ObjectView{{family, name}, a.reply.type(), std::move(state).value(), false, 0};
    } else if (joined->type == a.reply.type()) {
      (void)crdt::JoinAny(joined->state, *state);
    } else if (a.reply.type() < joined->type) {
      joined->type = a.reply.type();
      joined->state = std::move(state).value();
    }
  }
  if (!joined) return local.status();

  // Read repair: whoever answered with less than the join gets it.
  v1::ObjectState state;
  state.set_type(joined->type);
  state.set_key(storage::ObjectKey{family, name}.Encode());
  state.set_state(crdt::EncodeAny(joined->state));
  uint64_t repaired = 0;
  if (!local.ok() || local->type != joined->type ||
      crdt::EncodeAny(local->state) != state.state()) {
    if (engine->JoinStates({state}, nullptr, knowledge).ok()) ++repaired;
  }
  knowledge.Join(engine->Knowledge());
  if (anti_entropy != nullptr) {
    for (const auto& a : answers) {
      if (a.reply.found() && a.reply.type() == joined->type && a.reply.state() == state.state())
        continue;
      if (anti_entropy->PushAsync(a.peer, {state}, knowledge)) ++repaired;
    }
  }
  if (metrics != nullptr && repaired > 0) metrics->OnReadRepair(repaired);
  return *joined;
}

}  // namespace geodatastore::server
