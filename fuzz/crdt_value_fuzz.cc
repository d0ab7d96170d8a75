// CrdtValue and every type's state and delta (a delta is a state of its type): the bytes a
// node reads from its disk, a peer's delta batch or an anti-entropy state. Whatever decodes
// and validates must round-trip canonically and behave as a lattice element: a join with
// itself changes nothing, tombstones collected from it come off, and the decoder of every
// other type tag refuses it.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "crdt/any_crdt.h"

#include "fuzz_check.h"

using namespace geodatastore;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  StatusOr<crdt::AnyCrdt> decoded = crdt::DecodeAny(bytes);
  if (!decoded.ok()) return 0;
  const crdt::AnyCrdt& value = *decoded;
  const v1::CrdtType type = crdt::TypeOf(value);
  for (v1::CrdtType other : crdt::kAllTypes)
    FUZZ_CHECK(crdt::DecodeAnyAs(other, bytes).ok() == (other == type));

  // Canonical: the encoding of what decoded decodes to the same value and re-encodes to itself.
  const std::string encoded = crdt::EncodeAny(value);
  StatusOr<crdt::AnyCrdt> again = crdt::DecodeAny(encoded);
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(*again == value);
  FUZZ_CHECK(crdt::EncodeAny(*again) == encoded);

  // What a node checks before it joins a remote state (no stamp limit: any clock).
  if (!crdt::ValidateAny(value, {}).ok()) return 0;
  (void)crdt::ValidateDeltaOf(value, 1);
  (void)crdt::CounterValue(value);
  (void)crdt::SetMembers(value);

  crdt::AnyCrdt joined = value;
  FUZZ_CHECK(crdt::JoinAny(joined, value).ok());
  FUZZ_CHECK(joined == value);
  FUZZ_CHECK(crdt::ValidateJoined(joined).ok() == crdt::ValidateJoined(value).ok());
  crdt::AnyCrdt empty = crdt::NewCrdt(type);
  FUZZ_CHECK(crdt::JoinAny(empty, value).ok());
  FUZZ_CHECK(empty == value);

  if (std::optional<crdt::Tombstones> t = crdt::TombstonesOf(value)) {
    crdt::AnyCrdt collected = value;
    StatusOr<bool> changed = crdt::CollectAny(collected, t->state);
    FUZZ_CHECK(changed.ok() && *changed);
    FUZZ_CHECK(!crdt::TombstonesOf(collected).has_value());
  }
  return 0;
}
