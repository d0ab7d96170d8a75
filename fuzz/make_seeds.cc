// Writes the seed corpus of every fuzz target (fuzz/corpus/<target>/) from the real
// encoders: node "a" (fuzz_node.h, populated as the seeds expect) replicates to and runs
// anti-entropy with node "b", the node the targets fuzz, and every message, state and delta
// they exchange is a seed. The text targets get hand-written requests and the example
// configs. Deterministic: the same build writes the same files.
//
// Usage: gds_fuzz_seeds <source dir> <corpus dir>
#include <xxhash.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "antientropy/message_checksum.h"
#include "crdt/any_crdt.h"
#include "engine/session.h"
#include "frames.h"
#include "fuzz_node.h"

using namespace geodatastore;
namespace fs = std::filesystem;

namespace {

fs::path corpus_dir;

// Writes bytes as corpus/<target>/<name>-<hash>: a seed's name says where it came from.
void Seed(const std::string& target, const std::string& name, const std::string& bytes) {
  const fs::path dir = corpus_dir / target;
  fs::create_directories(dir);
  char hash[17];
  std::snprintf(hash, sizeof hash, "%016llx",
                static_cast<unsigned long long>(XXH3_64bits(bytes.data(), bytes.size())));
  std::ofstream(dir / (name + "-" + std::string(hash, 8)), std::ios::binary) << bytes;
}

// Every object's state of node and every delta of its own log.
void CrdtSeeds(fuzz::FuzzNode& a, fuzz::FuzzNode& b) {
  const fuzz::Contents sa = a.Snapshot(), sb = b.Snapshot();
  for (const auto& [key, typed] : sa.objects) {
    const std::string type(crdt::TypeName(typed.first));
    Seed("crdt_value", "state-" + type, typed.second);
    auto other = sb.objects.find(key);
    if (other != sb.objects.end() && other->second.first == typed.first)
      Seed("crdt_join", "states-" + type, fuzz::JoinFrames({typed.second, other->second.second}));
  }
  auto log = a.store().ReadLog(a.engine().identity().replica, 1, 1000, 1 << 20);
  FUZZ_CHECK(log.ok());
  for (const v1::DeltaRecord& r : *log) {
    const std::string type(crdt::TypeName(r.type()));
    Seed("crdt_value", "delta-" + type, r.delta());
    for (const auto& [key, typed] : sa.objects) {
      if (typed.first == r.type())
        Seed("crdt_join", "state-delta-" + type,
             fuzz::JoinFrames({typed.second, r.delta(),
                               sb.objects.count(key) ? sb.objects.at(key).second : typed.second}));
    }
  }
}

// What a's replicator sends b while both run (b's answers delivered to a).
void ReplicationSeeds(fuzz::FuzzNode& a, fuzz::FuzzNode& b) {
  replication::Replicator ra({"a", "us"}, {{"b", "eu"}, {"c", "ap"}}, &a.replication_host(), {});
  replication::Replicator rb(fuzz::kSelf, fuzz::kPeers, &b.replication_host(), {});
  FUZZ_CHECK(ra.Start(fuzz::kNowMs).ok() && rb.Start(fuzz::kNowMs).ok());
  uint64_t now = fuzz::kNowMs;
  for (int round = 0; round < 8; ++round, now += 700) {
    if (round == 3) fuzz::Populate(a.engine(), 2);  // more writes: a second batch
    for (const replication::Outgoing& o : ra.Tick(now)) {
      if (o.to != "b") continue;
      const v1::ReplicationMessage& m = o.message;
      const std::string kind = m.has_deltas()      ? "deltas"
                               : m.has_ack()       ? "ack"
                               : m.has_heartbeat() ? "heartbeat"
                                                   : "progress";
      Seed("replication", kind, m.SerializeAsString());
      for (const replication::Outgoing& back : rb.Receive(m, "a", now)) {
        if (back.to == "a") (void)ra.Receive(back.message, "b", now);
      }
    }
    for (const replication::Outgoing& o : rb.Tick(now)) {
      if (o.to != "a") continue;
      for (const replication::Outgoing& back : ra.Receive(o.message, "b", now)) {
        if (back.to == "b") Seed("replication", "answer", back.message.SerializeAsString());
      }
    }
  }
}

// Runs a session of initiator with responder, calling on_request and on_reply for each.
template <typename OnRequest, typename OnReply>
void RunSession(fuzz::FuzzNode& initiator, const std::string& id, fuzz::FuzzNode& responder,
                const antientropy::SessionOptions& options, OnRequest on_request,
                OnReply on_reply) {
  antientropy::Session session(&initiator.sync_host(), id, options);
  while (std::optional<v1::SyncRequest> request = session.Next()) {
    on_request(*request);
    v1::SyncReply reply;
    FUZZ_CHECK(antientropy::Respond(&responder.sync_host(), *request, &reply).ok());
    on_reply(reply);
    session.OnReply(reply);
  }
  FUZZ_CHECK(session.status().ok());
}

void SyncSeeds(fuzz::FuzzNode& a, fuzz::FuzzNode& b) {
  // Requests a sends b (b answers them in sync_request_fuzz).
  {
    fuzz::FuzzNode b2("b");  // a's session repairs both sides: run it on copies
    fuzz::FuzzNode a2("a");
    RunSession(
        a2, "a", b2, {},
        [](const v1::SyncRequest& r) {
          Seed("sync_request", "body" + std::to_string(r.body_case()), r.SerializeAsString());
        },
        [](const v1::SyncReply&) {});
  }
  // The replies b's own session reads from a, as one input, and each prefix of them.
  std::vector<std::string> replies;
  RunSession(
      b, "b", a, fuzz::SessionOptionsForFuzz(), [](const v1::SyncRequest&) {},
      [&](const v1::SyncReply& r) {
        replies.push_back(r.SerializeAsString());
        Seed("sync_reply", "replies" + std::to_string(replies.size()), fuzz::JoinFrames(replies));
      });
}

void TextSeeds(const fs::path& source, fuzz::FuzzNode& a) {
  for (const char* command :
       {"*1\r\n$4\r\nPING\r\n", "PING\r\n", "INCRBY hits 5\r\nGET hits\r\n",
        "*3\r\n$4\r\nSADD\r\n$1\r\ns\r\n$1\r\na\r\n*2\r\n$8\r\nSMEMBERS\r\n$1\r\ns\r\n",
        "*4\r\n$3\r\nSET\r\n$1\r\nr\r\n$0\r\n\r\n$2\r\nPX\r\n", "*2\r\n$3\r\nGET\r\n$1\r\nr"}) {
    for (char split : {'\x00', '\x07'}) Seed("resp", "command", split + std::string(command));
  }
  const std::vector<std::pair<std::string, std::string>> requests = {
      {"/crdt/counters/gc", R"({"type":"g_counter","initial_value":3})"},
      {"/crdt/counters/pn/increment?consistency=quorum", R"({"value":5})"},
      {"/crdt/counters/pn/decrement", R"({"value":9223372036854775807})"},
      {"/crdt/sets/lww", R"({"type":"lww_set","bias":"add_wins"})"},
      {"/crdt/sets/or/add", R"({"elements":["a","b\u00e9"]})"},
      {"/crdt/sets/2p/remove", R"({"element":"a"})"},
      {"/crdt/registers/r", R"({"value":"v","timestamp":1700000000000,"type":"lww_register"})"},
      {"/crdt/graphs/g/edges", R"({"from":"p","to":"q"})"},
      {"/crdt/graphs/g/vertices/p%2Fq", ""},
      {"/crdt/keys?type=or_set&prefix=a+b%20&limit=10", ""},
  };
  for (const auto& [target, body] : requests)
    Seed("rest", "request", fuzz::JoinFrames({target, body}));
  Seed("session_token", "token", engine::FormatSessionToken(a.engine().Knowledge()));
  Seed("session_token", "token", "00000000000000ff:18446744073709551615");
  for (const char* example : {"full.yaml", "single-node.yaml"}) {
    std::ifstream in(source / "config" / "examples" / example, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    Seed("config", "example", text.str());
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: gds_fuzz_seeds <source dir> <corpus dir>\n";
    return 2;
  }
  corpus_dir = argv[2];
  fuzz::FuzzNode a("a"), b("b");
  CrdtSeeds(a, b);
  SyncSeeds(a, b);
  ReplicationSeeds(a, b);
  TextSeeds(argv[1], a);
  return 0;
}
