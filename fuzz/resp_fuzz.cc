// The RESP parser (src/server/resp.h) on a client's bytes, read as the server reads them: the
// whole input at once, and again as it would arrive in two reads (split where the first
// byte says), the unparsed rest of the first read kept for the second. Both must parse the
// same commands when both succeed, and never claim more bytes than they were given.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "server/resp.h"

#include "fuzz_check.h"

using namespace geodatastore;
using server::resp::Command;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const size_t split = data[0] % size;
  const std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  server::resp::ParserLimits limits;
  limits.max_bulk_bytes = 1 << 16;

  std::vector<Command> whole;
  StatusOr<size_t> used = server::resp::Parse(input, &whole, limits);
  if (used.ok()) FUZZ_CHECK(*used <= input.size());

  std::vector<Command> streamed;
  std::string buffer;
  bool ok = true;
  for (std::string_view read : {input.substr(0, split), input.substr(split)}) {
    buffer.append(read);
    StatusOr<size_t> n = server::resp::Parse(buffer, &streamed, limits);
    if (!n.ok()) {
      ok = false;
      break;
    }
    FUZZ_CHECK(*n <= buffer.size());
    buffer.erase(0, *n);
  }
  if (used.ok() && ok) {
    FUZZ_CHECK(streamed == whole);
    FUZZ_CHECK(buffer == input.substr(*used));
  }
  return 0;
}
