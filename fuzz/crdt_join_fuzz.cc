// Joins of states from outside the process: two or three CrdtValues (fuzz/frames.h) that
// decode and validate as a node checks a remote state. Replicas converge only if their joins
// are commutative, associative and idempotent on every state a node accepts, not just on the
// states its own ops make (those the property suite covers, tests/crdt/crdt_laws_test.cc).
#include <string_view>
#include <vector>

#include "crdt/any_crdt.h"
#include "frames.h"
#include "fuzz_node.h"

using namespace geodatastore;

namespace {

crdt::AnyCrdt Join(crdt::AnyCrdt a, const crdt::AnyCrdt& b) {
  FUZZ_CHECK(crdt::JoinAny(a, b).ok());
  return a;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::vector<std::string> frames =
      fuzz::SplitFrames(std::string_view(reinterpret_cast<const char*>(data), size));
  std::vector<crdt::AnyCrdt> values;
  for (const std::string& frame : frames) {
    if (values.size() == 3) break;
    StatusOr<crdt::AnyCrdt> v = crdt::DecodeAny(frame);
    if (!v.ok() || !crdt::ValidateAny(*v, {}).ok()) return 0;
    if (!values.empty() && crdt::TypeOf(*v) != crdt::TypeOf(values[0])) {
      crdt::AnyCrdt into = values[0];
      FUZZ_CHECK(!crdt::JoinAny(into, *v).ok());
      FUZZ_CHECK(into == values[0]);
      return 0;
    }
    values.push_back(std::move(v).value());
  }
  if (values.size() < 2) return 0;
  const crdt::AnyCrdt& a = values[0];
  const crdt::AnyCrdt& b = values[1];
  const crdt::AnyCrdt ab = Join(a, b);
  FUZZ_CHECK(ab == Join(b, a));
  FUZZ_CHECK(crdt::EncodeAny(ab) == crdt::EncodeAny(Join(b, a)));
  FUZZ_CHECK(Join(ab, a) == ab);
  FUZZ_CHECK(Join(ab, b) == ab);
  // What a node stores is the join's encoding: it must decode to the join.
  StatusOr<crdt::AnyCrdt> stored = crdt::DecodeAny(crdt::EncodeAny(ab));
  FUZZ_CHECK(stored.ok() && *stored == ab);
  if (values.size() == 3) {
    const crdt::AnyCrdt& c = values[2];
    FUZZ_CHECK(Join(ab, c) == Join(a, Join(b, c)));
  }
  return 0;
}
