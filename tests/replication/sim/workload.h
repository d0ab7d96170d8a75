// The simulated clients and what they were told. Clients write counters and OR-Sets,
// create counters and sets with explicit types on random nodes (concurrently across
// partitions, so type conflicts happen), and session clients read their own writes on
// other nodes with their session tokens. Every acknowledged op is recorded; the checkers
// below compare the converged replicas with that record.
//
// Thread safety: single-threaded (a test fixture).
#pragma once

#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "replication/sim/harness.h"

namespace geodatastore::sim {

// One acknowledged OR-Set op, with what its node had seen when it ran (Engine::Knowledge:
// anti-entropy sessions give it more than its applied vector says).
struct SetOp {
  int id;
  std::string set;
  std::string element;
  bool add;
  crdt::ReplicaId origin;
  uint64_t seq;
  crdt::VersionVector observed;  // the node's knowledge just before the op
};

// A client with a session: it writes a counter only it increments and OR-Set elements only
// it adds (never removed), keeps the join of the session tokens its writes returned, and
// reads on any node that has applied that token (where a server would serve it).
struct SessionClient {
  crdt::VersionVector token;
  std::map<std::string, int64_t> counted;                 // counter -> its increments
  std::vector<std::pair<std::string, std::string>> adds;  // (set, element)
  int writes = 0;
};

class Workload : public SimHarness {
 protected:
  static constexpr int kCounters = 3;
  static constexpr int kSets = 2;
  static constexpr int kTyped = 2;  // typed counters tc<i> and typed sets ts<i>
  static constexpr int kClients = 4;

  // One random op on n: untyped counters and OR-Sets, typed creates and ops, or a session
  // client's write.
  void ClientOp(SimNode& n);
  void CounterOp(SimNode& n, const std::string& name, bool increment, uint64_t amount);
  // Returns whether it was acknowledged.
  bool OrSetOp(SimNode& n, const std::string& set, const std::string& element, bool add);
  void TypedOp(SimNode& n);
  void SessionWrite(SimNode& n);
  // A random session client reads on a random node that has applied its token: the read
  // must show every write the client was acknowledged.
  void SessionRead();

  // Records an acknowledged op's (replica, seq): no node may issue one twice.
  void Acknowledge(const SimNode& n, const engine::ObjectView& view, const std::string& what);

  // Counters (untyped and typed): every one is the sum of its acknowledged increments minus
  // decrements (a G-Counter embeds in a PN-Counter, so a type conflict loses nothing).
  void CheckCounters();
  // Typed sets: every acknowledged add of an element never removed is in the set, or in a
  // state a type conflict kept under lost/ on some replica.
  void CheckTypedSets();
  // OR-Sets against the add-wins model: exact, or at_least (the elements it keeps must be
  // there; others may be too, e.g. through anti-entropy the op's vector did not show).
  void CheckOrSets(bool exact);
  std::map<std::string, std::set<std::string>> ExpectedSets() const;
  std::string History(const std::string& set) const;

  std::map<std::string, int64_t> expected_counters_;
  std::vector<SetOp> set_ops_;
  std::map<std::string, std::set<std::string>> typed_adds_, typed_removes_;
  std::vector<SessionClient> clients_ = std::vector<SessionClient>(kClients);
  std::map<std::pair<crdt::ReplicaId, uint64_t>, std::string> issued_;  // -> the op
  uint64_t session_reads_ = 0;
  uint64_t typed_creates_ = 0;
};

// The elements of a set's state (G-Set, 2P-Set, OR-Set, LWW-element-set).
std::vector<std::string> Elements(const crdt::AnyCrdt& state);
// A counter's value, G- or PN-; nullopt for another type.
std::optional<int64_t> CounterOf(const crdt::AnyCrdt& state);

}  // namespace geodatastore::sim
