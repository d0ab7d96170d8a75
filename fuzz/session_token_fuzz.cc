// Session tokens (src/engine/session.h) as a client sends them (X-Session-Token, the gRPC
// and RESP equivalents): a token that parses must format back to a token that parses to the
// same vector; and consistency levels.
#include <string_view>

#include "engine/session.h"
#include "fuzz_node.h"

using namespace geodatastore;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view token(reinterpret_cast<const char*>(data), size);
  (void)engine::ParseConsistency(token);
  StatusOr<crdt::VersionVector> vv = engine::ParseSessionToken(token);
  if (!vv.ok()) return 0;
  const std::string formatted = engine::FormatSessionToken(*vv);
  StatusOr<crdt::VersionVector> again = engine::ParseSessionToken(formatted);
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(*again == *vv);
  FUZZ_CHECK(engine::FormatSessionToken(*again) == formatted);
  return 0;
}
