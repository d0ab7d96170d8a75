// RespHandler: the Redis commands geodatastore speaks, mapped onto its CRDTs
// (../shared/API.md, "Redis protocol"):
//   INCR, INCRBY, DECR, DECRBY      pn_counter (created if absent)
//   SET, GET, MGET                  lww_register (GET of a counter gives its value)
//   SADD, SREM, SMEMBERS, SISMEMBER, SCARD   or_set (created if absent; any set type works)
//   DEL, EXISTS, TYPE, PING, ECHO, INFO, SELECT 0, QUIT, and enough of COMMAND, CONFIG GET
//   and CLIENT for redis-cli and redis-benchmark.
//   AUTH [user] password, HELLO [2 [AUTH user password] [SETNAME name]] as Redis 6 ACL users:
//   with users configured a connection must authenticate first (-NOAUTH), and a command its
//   user's role does not allow answers -NOPERM (resp_auth.cc).
// The commands, and the role each needs, are listed once in resp_commands.h; values are
// told from their reply::ObjectReply, as the other front ends do.
// Redis has one keyspace; geodatastore has one per family (counters, registers, sets). A
// command on a name that exists in another family answers -WRONGTYPE. DEL empties an
// object the CRDT way (a set loses the elements seen here, a counter gets the opposite
// increment, a register is cleared); EXISTS counts the objects that are not empty.
//
// A pipeline's consecutive writes are applied as one storage batch (Engine::ApplyBatch);
// every other command first lets the writes before it land, so replies keep their order and
// a read sees the writes sent before it.
//
// Thread safety: Execute may be called from any thread.
#pragma once

#include <string>
#include <vector>

#include "config/config.h"
#include "engine/engine.h"
#include "security/auth.h"
#include "server/resp.h"

namespace geodatastore::server {

class RespHandler {
 public:
  // REQUIRES: engine and auth outlive the handler.
  RespHandler(engine::Engine* engine, const config::Config& config, security::Authenticator* auth);

  // One connection's state: who it authenticated as (nothing yet: only AUTH, HELLO and QUIT
  // are served while users are configured).
  struct Client {
    std::optional<security::Principal> principal;
  };
  // A client of a node without users: allowed everything.
  Client NewClient() const;

  // Runs commands in order and appends one reply for each to out. False once a command
  // asked to close the connection (QUIT): the replies so far are still to be sent.
  bool Execute(const std::vector<resp::Command>& commands, Client* client, std::string* out);

  struct PendingWrite {
    size_t reply;  // index into the pipeline's replies
    std::string name;
    v1::Family family;
    engine::Op op;
    enum class Answer { kCounter, kOk, kMembers } answer;
  };
  // A connection's commands, run up to their trailing writes, which wait in pending so that
  // the writes of several connections can be applied as one storage batch (group commit).
  struct Pipeline {
    std::vector<std::string> replies;
    std::vector<PendingWrite> pending;
    size_t executed = 0;  // commands run (a QUIT stops the rest)
    bool keep_open = true;
  };
  // Execute in three steps: Begin runs the commands but the trailing writes; Apply applies
  // the pending writes of any number of pipelines in one batch (in order); Finish appends
  // the replies. Execute is Begin, Apply of its pipeline alone, Finish.
  Pipeline Begin(const std::vector<resp::Command>& commands, Client* client);
  void Apply(const std::vector<Pipeline*>& pipelines);
  static bool Finish(const Pipeline& pipeline, std::string* out);

 private:
  // Serves AUTH and HELLO, and refuses what client may not run; true when it answered
  // (resp_auth.cc).
  bool Gate(const resp::Command& cmd, Client* client, std::string* reply);
  void Auth(const resp::Command& cmd, Client* client, std::string* reply);
  void Hello(const resp::Command& cmd, Client* client, std::string* reply);
  // Applies the pending writes as one batch and fills their replies.
  void Flush(std::vector<PendingWrite>* pending, std::vector<std::string>* replies);
  // A write command, parsed; nullopt for other commands, or with an error in reply.
  std::optional<PendingWrite> ParseWrite(const resp::Command& cmd, size_t index,
                                         std::string* reply);
  // Every other command.
  bool RunCommand(const resp::Command& cmd, std::string* reply);

  // The family (other than family) in which name exists, if any.
  std::optional<v1::Family> ElsewhereThan(v1::Family family, const std::string& name) const;
  void Get(const std::string& name, std::string* reply, bool nil_on_wrong_type);
  void Del(const resp::Command& cmd, std::string* reply);
  // SMEMBERS, SCARD and SISMEMBER (name); EXISTS and TYPE.
  void SetRead(const resp::Command& cmd, const std::string& name, std::string* reply);
  void ExistsOrType(const resp::Command& cmd, const std::string& name, std::string* reply);
  void Info(std::string* reply);

  engine::Engine* const engine_;
  const config::Config config_;
  security::Authenticator* const auth_;
};

}  // namespace geodatastore::server
