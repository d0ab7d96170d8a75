#include "server/resp_commands.h"

#include <array>

namespace geodatastore::server::resp {

namespace {

using K = CommandKind;

constexpr std::array<CommandInfo, 25> kCommands = {{
    {"AUTH", K::kConnection},     {"HELLO", K::kConnection},  {"QUIT", K::kConnection},
    {"PING", K::kRead},           {"ECHO", K::kRead},         {"GET", K::kRead},
    {"MGET", K::kRead},           {"SMEMBERS", K::kRead},     {"SCARD", K::kRead},
    {"SISMEMBER", K::kRead},      {"EXISTS", K::kRead},       {"TYPE", K::kRead},
    {"INFO", K::kRead},           {"SELECT", K::kRead},       {"COMMAND", K::kRead},
    {"CONFIG", K::kRead},         {"CLIENT", K::kRead},       {"INCR", K::kCounterWrite},
    {"INCRBY", K::kCounterWrite}, {"DECR", K::kCounterWrite}, {"DECRBY", K::kCounterWrite},
    {"SET", K::kRegisterWrite},   {"SADD", K::kSetWrite},     {"SREM", K::kSetWrite},
    {"DEL", K::kDelete},
}};

}  // namespace

const CommandInfo* FindCommand(std::string_view name) {
  for (const CommandInfo& c : kCommands) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

size_t CommandCount() { return kCommands.size(); }

security::Action ActionOf(const CommandInfo* command) {
  if (command == nullptr) return security::Action::kRead;
  switch (command->kind) {
    case K::kCounterWrite:
    case K::kRegisterWrite:
    case K::kSetWrite:
    case K::kDelete:
      return security::Action::kWrite;
    case K::kConnection:
    case K::kRead:
      break;
  }
  return security::Action::kRead;
}

}  // namespace geodatastore::server::resp
