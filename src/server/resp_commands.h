// The commands the RESP front end serves, each named once with what it does: the role a
// command needs (resp_auth.cc), how it is run (resp_handler.cc: the batched writes are
// parsed by their kind) and COMMAND COUNT all follow from this one table.
//
// Thread safety: constant data.
#pragma once

#include <cstddef>
#include <string_view>

#include "security/auth.h"

namespace geodatastore::server::resp {

enum class CommandKind {
  kConnection,     // AUTH, HELLO, QUIT: served before a connection authenticated
  kRead,           // reads data or the server's state
  kCounterWrite,   // INCR, INCRBY, DECR, DECRBY: a pn_counter, batched
  kRegisterWrite,  // SET: an lww_register, batched
  kSetWrite,       // SADD, SREM: a set, batched
  kDelete,         // DEL: a write run on its own
};

struct CommandInfo {
  std::string_view name;  // upper case
  CommandKind kind;
};

// The command called name (upper case), or nullptr for one RESP does not serve.
const CommandInfo* FindCommand(std::string_view name);
// How many commands there are.
size_t CommandCount();
// The role a command needs: write for the writes, read for the rest (an unknown command,
// nullptr, too: it is refused later as unknown).
security::Action ActionOf(const CommandInfo* command);

}  // namespace geodatastore::server::resp
