// The per-element state shared by the LWW-element-set and the LWW graph: the latest add
// and the latest remove stamp seen. Present when the add is later than the remove; equal
// timestamps are decided by the bias.
//
// Thread safety: plain values.
#pragma once

#include <map>
#include <optional>

#include "crdt/clock.h"
#include "crdt/codec.h"
#include "crdt/containers.h"
#include "crdt/validate.h"

namespace geodatastore::crdt {

enum class LwwBias { kRemoveWins = 0, kAddWins = 1 };

struct LwwEntry {
  std::optional<Stamp> added;
  std::optional<Stamp> removed;

  bool Present(LwwBias bias) const;
  void Join(const LwwEntry& other);
  bool operator==(const LwwEntry&) const = default;

  static LwwEntry Add(Stamp s) { return {s, std::nullopt}; }
  static LwwEntry Remove(Stamp s) { return {std::nullopt, s}; }
};

// Joins other's entries into into, key by key.
template <typename Map>
void JoinEntries(Map& into, const Map& other) {
  MergeInto(into, other, [](auto& mine, const auto& theirs) { mine.second.Join(theirs.second); });
}

// What tombstone collection takes of an entry: the whole entry if its remove wins (the
// element is gone); only its remove stamp if the element is present anyway (a remove older
// than the add: no later add or remove can need it again, and a replica that got the add
// after collecting the remove holds the entry without it); nothing without a remove stamp.
inline std::optional<LwwEntry> TombstonePart(const LwwEntry& entry, LwwBias bias) {
  if (!entry.removed) return std::nullopt;
  if (!entry.Present(bias)) return entry;
  return LwwEntry::Remove(*entry.removed);
}

// The tombstone parts of entries, and how many there are.
template <typename Map>
Map TombstoneEntries(const Map& entries, LwwBias bias) {
  Map out;
  for (const auto& [key, entry] : entries) {
    if (auto part = TombstonePart(entry, bias)) out.emplace_hint(out.end(), key, *part);
  }
  return out;
}
template <typename Map>
size_t CountTombstones(const Map& entries, LwwBias bias) {
  size_t n = 0;
  for (const auto& [key, entry] : entries) n += TombstonePart(entry, bias).has_value();
  return n;
}

// Drops from into the tombstone parts (TombstoneEntries, earlier) it still holds: an entry
// still exactly as it was goes; a remove stamp unchanged on an element now present goes
// from its entry (so replicas that collected before and after a later add agree). True if
// anything changed.
template <typename Map>
bool CollectEntries(Map& into, const Map& tombstones, LwwBias bias) {
  bool changed = false;
  for (const auto& [key, part] : tombstones) {
    auto it = into.find(key);
    if (it == into.end()) continue;
    if (it->second == part) {
      into.erase(it);
      changed = true;
    } else if (part.removed && it->second.removed == part.removed && it->second.Present(bias)) {
      it->second.removed.reset();
      changed = true;
    }
  }
  return changed;
}

// The latest add or remove stamp of the entries; nullopt if there are none.
template <typename Map>
std::optional<Stamp> LatestStampOf(const Map& entries) {
  std::optional<Stamp> out;
  for (const auto& [key, entry] : entries) {
    for (const std::optional<Stamp>& s : {entry.added, entry.removed}) {
      if (s && (!out || *s > *out)) out = s;
    }
  }
  return out;
}

// Validation (crdt/validate.h) of an entry's stamps.
inline Status ValidateLwwEntry(const LwwEntry& entry, const StateLimits& limits) {
  if (entry.added) GDS_RETURN_IF_ERROR(CheckStamp(*entry.added, limits));
  if (entry.removed) GDS_RETURN_IF_ERROR(CheckStamp(*entry.removed, limits));
  return Status::Ok();
}

// Msg is a message with optional `added` and `removed` LwwStamp fields (LwwElement, LwwEdge).
template <typename Msg>
void EncodeLwwEntry(const LwwEntry& entry, Msg* out) {
  if (entry.added) EncodeStamp(*entry.added, out->mutable_added());
  if (entry.removed) EncodeStamp(*entry.removed, out->mutable_removed());
}

// The entry of an element or edge message; false if it has neither stamp.
template <typename Msg>
bool DecodeLwwEntry(const Msg& in, LwwEntry* out) {
  if (!in.has_added() && !in.has_removed()) return false;
  out->added = in.has_added() ? std::optional<Stamp>(DecodeStamp(in.added())) : std::nullopt;
  out->removed = in.has_removed() ? std::optional<Stamp>(DecodeStamp(in.removed())) : std::nullopt;
  return true;
}

}  // namespace geodatastore::crdt
