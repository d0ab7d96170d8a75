// RespHandler's access control: AUTH and HELLO as Redis 6 ACL users, -NOAUTH before a
// connection authenticated, -NOPERM for a command its user's role does not allow. The users
// and the role table are security::Authenticator's, shared with REST and gRPC.
#include "server/resp_commands.h"
#include "server/resp_handler.h"

namespace geodatastore::server {

namespace {

constexpr char kNoAuth[] = "NOAUTH Authentication required.";
constexpr char kWrongPass[] = "WRONGPASS invalid username-password pair or user is disabled.";

}  // namespace

RespHandler::Client RespHandler::NewClient() const { return Client{auth_->Anonymous()}; }

bool RespHandler::Gate(const resp::Command& cmd, Client* client, std::string* reply) {
  const std::string name = resp::Upper(cmd[0]);
  if (name == "AUTH") {
    Auth(cmd, client, reply);
    return true;
  }
  if (name == "HELLO") {
    Hello(cmd, client, reply);
    return true;
  }
  if (name == "QUIT") return false;
  if (!client->principal) {
    auth_->CountFailure("resp", "missing_credentials");
    resp::AppendError(reply, kNoAuth);
    return true;
  }
  if (!auth_->Authorize(*client->principal, resp::ActionOf(resp::FindCommand(name)), "resp").ok()) {
    resp::AppendError(reply, "NOPERM this user has no permissions to run the '" +
                                 resp::Lower(cmd[0]) + "' command");
    return true;
  }
  return false;
}

void RespHandler::Auth(const resp::Command& cmd, Client* client, std::string* reply) {
  if (cmd.size() != 2 && cmd.size() != 3) return resp::WrongArity(cmd, reply);
  if (!auth_->enabled()) {
    return resp::AppendError(reply,
                             "ERR AUTH <password> called without any password configured for "
                             "the default user. Are you sure your configuration is correct?");
  }
  security::Credentials c{security::Credentials::Kind::kPassword,
                          cmd.size() == 3 ? cmd[1] : "default", cmd.back()};
  auto principal = auth_->Authenticate(c, "resp");
  if (!principal.ok()) return resp::AppendError(reply, kWrongPass);
  client->principal = *principal;
  resp::AppendSimple(reply, "OK");
}

// HELLO [protover [AUTH username password] [SETNAME clientname]]: RESP2 only.
void RespHandler::Hello(const resp::Command& cmd, Client* client, std::string* reply) {
  if (cmd.size() >= 2 && cmd[1] != "2") {
    return resp::AppendError(reply, "NOPROTO sorry, this protocol version is not supported.");
  }
  for (size_t i = 2; i < cmd.size(); ++i) {
    const std::string option = resp::Upper(cmd[i]);
    if (option == "AUTH" && i + 2 < cmd.size()) {
      if (!auth_->enabled()) {
        return resp::AppendError(reply, kWrongPass);  // as Redis: no such user
      }
      security::Credentials c{security::Credentials::Kind::kPassword, cmd[i + 1], cmd[i + 2]};
      auto principal = auth_->Authenticate(c, "resp");
      if (!principal.ok()) return resp::AppendError(reply, kWrongPass);
      client->principal = *principal;
      i += 2;
    } else if (option == "SETNAME" && i + 1 < cmd.size()) {
      ++i;
    } else {
      return resp::AppendError(reply, "ERR Syntax error in HELLO option '" + cmd[i] + "'");
    }
  }
  if (!client->principal) {
    auth_->CountFailure("resp", "missing_credentials");
    return resp::AppendError(reply,
                             "NOAUTH HELLO must be called with the client already authenticated, "
                             "otherwise the HELLO AUTH <user> <pass> option can be used to "
                             "authenticate the client and select the RESP protocol version at the "
                             "same time");
  }
  resp::AppendArray(reply, 14);
  for (const char* s : {"server", "redis", "version", "7.0.0", "proto"}) resp::AppendBulk(reply, s);
  resp::AppendInteger(reply, 2);
  resp::AppendBulk(reply, "id");
  resp::AppendInteger(reply, 1);
  for (const char* s : {"mode", "standalone", "role", "master", "modules"})
    resp::AppendBulk(reply, s);
  resp::AppendArray(reply, 0);
}

}  // namespace geodatastore::server
