// RESP2, the Redis serialization protocol, as a sans-IO parser of client commands and the
// encoders of replies (https://redis.io/docs/reference/protocol-spec/).
//
// A client sends each command as an array of bulk strings (`*2\r\n$3\r\nGET\r\n$1\r\nk\r\n`),
// or inline, as words on one line (`PING\r\n`, what telnet and `redis-cli` at times send).
//
// Thread safety: plain functions and values.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace geodatastore::server::resp {

using Command = std::vector<std::string>;  // the command name, then its arguments

struct ParserLimits {
  size_t max_bulk_bytes = 64 << 20;    // one argument
  size_t max_arguments = 1 << 20;      // in one command
  size_t max_inline_bytes = 64 << 10;  // one inline command line
};

// Parses the complete commands at the front of data into out and returns how many bytes they
// took; an incomplete command at the end is left for the next call (with more data). A frame
// that is not RESP is kInvalidArgument ("Protocol error: ..."): the connection must close.
StatusOr<size_t> Parse(std::string_view data, std::vector<Command>* out,
                       const ParserLimits& limits = {});

// Reply encoders: they append to out.
void AppendSimple(std::string* out, std::string_view s);  // +OK
void AppendError(std::string* out, std::string_view s);   // -ERR ... (s holds the prefix)
void AppendInteger(std::string* out, int64_t n);          // :1
void AppendBulk(std::string* out, std::string_view s);    // $1\r\nx
void AppendNull(std::string* out);                        // $-1
void AppendArray(std::string* out, size_t n);             // *n, then n replies
// -ERR wrong number of arguments for '<command>' command
void WrongArity(const Command& cmd, std::string* out);

std::string Upper(std::string_view s);
std::string Lower(std::string_view s);

}  // namespace geodatastore::server::resp
