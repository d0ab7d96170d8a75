#include "server/consistency.h"

#include <map>
#include <optional>

#include "crdt/codec.h"

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

namespace {

// done(Ok) once ready() holds, done(late) at the timeout, done(refusal) if waits is full.
void WaitFor(Waits* waits, Waits::Ready ready, std::chrono::milliseconds timeout, Status late,
             std::function<void(Status)> done) {
  const Status parked = waits->Park(std::move(ready), Waits::Clock::now() + timeout,
                                    [done, late](bool held) { done(held ? Status::Ok() : late); });
  if (!parked.ok()) done(parked);
}

}  // namespace

void AwaitConsistency(Waits* waits, replication::GrpcReplication* replication,
                      engine::Consistency level, uint64_t seq, const std::string& self_region,
                      std::chrono::milliseconds timeout, std::function<void(Status)> done) {
  if (replication == nullptr || level == engine::Consistency::kEventual || seq == 0)
    return done(Status::Ok());
  WaitFor(
      waits, [=] { return Satisfied(level, seq, self_region, replication->Peers()); }, timeout,
      Status(StatusCode::kDeadlineExceeded,
             "not enough replicas acknowledged the write in time; it stays applied on this node"),
      std::move(done));
}

void AwaitSessionToken(Waits* waits, const engine::Engine* engine, std::string_view token,
                       std::chrono::milliseconds timeout, std::function<void(Status)> done) {
  if (token.empty()) return done(Status::Ok());
  StatusOr<crdt::VersionVector> wanted = engine::ParseSessionToken(token);
  if (!wanted.ok()) return done(wanted.status());
  WaitFor(
      waits, [engine, wanted = *std::move(wanted)] { return engine->HasApplied(wanted); },
      timeout,
      Status(StatusCode::kUnavailable,
             "this node has not yet applied everything the session token covers"),
      std::move(done));
}

namespace {

using Fetched = replication::GrpcReplication::Fetched;

// Joins this node's state with the intact answers that have the key, and repairs every
// replica (this one included) that answered with less than the join.
StatusOr<engine::ObjectView> JoinAnswers(const LevelRead& how, v1::Family family,
                                         const std::string& name,
                                         const StatusOr<engine::ObjectView>& local,
                                         const std::vector<Fetched>& answers) {
  engine::Engine* engine = how.engine;
  std::optional<engine::ObjectView> joined;
  if (local.ok()) joined = *local;
  crdt::VersionVector knowledge;  // what the answers may hold (tombstone collection)
  for (const Fetched& a : answers) {
    if (!a.intact) {
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
  if (how.anti_entropy != nullptr) {
    for (const Fetched& a : answers) {
      if (a.reply.found() && a.reply.type() == joined->type && a.reply.state() == state.state())
        continue;
      if (how.anti_entropy->PushAsync(a.peer, {state}, knowledge)) ++repaired;
    }
  }
  if (how.metrics != nullptr && repaired > 0) how.metrics->OnReadRepair(repaired);
  return *joined;
}

}  // namespace

void ReadAtLevel(const LevelRead& how, engine::Consistency level, v1::Family family,
                 const std::string& name,
                 std::function<void(StatusOr<engine::ObjectView>)> done) {
  StatusOr<engine::ObjectView> local = how.engine->Read(family, name);
  if (how.replication == nullptr || level == engine::Consistency::kEventual)
    return done(std::move(local));
  if (!local.ok() && local.status().code() != StatusCode::kNotFound) return done(std::move(local));

  // Whether the answers so far (plus this node) satisfy the level: the same counting as
  // for writes, with "acknowledged" meaning "answered intact".
  auto enough = [peers = how.replication->Peers(), level,
                 region = how.self_region](const std::vector<Fetched>& answers) {
    std::vector<replication::PeerView> views = peers;
    for (replication::PeerView& v : views) {
      v.acked = 0;
      for (const Fetched& a : answers) {
        if (a.peer == v.id && a.intact) v.acked = 1;
      }
    }
    return Satisfied(level, 1, region, views);
  };
  v1::FetchStateRequest request;
  request.set_family(family);
  request.set_name(name);
  auto fetch = how.replication->StartFetch(request, how.timeout);
  const Status parked = how.waits->Park(
      [fetch, enough] { return fetch->Done(enough); }, Waits::Clock::now() + how.timeout,
      [how, family, name, local = std::move(local), fetch, enough, done](bool) {
        const std::vector<Fetched> answers = fetch->answers();
        if (!enough(answers)) {
          return done(Status(StatusCode::kDeadlineExceeded,
                             "not enough replicas answered the read in time"));
        }
        done(JoinAnswers(how, family, name, local, answers));
      });
  if (!parked.ok()) done(parked);
}

}  // namespace geodatastore::server
