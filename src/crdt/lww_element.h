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

// Erases from into the entries of tombstones that into still holds unchanged; true if any.
template <typename Map>
bool CollectEntries(Map& into, const Map& tombstones) {
  bool changed = false;
  for (const auto& [key, entry] : tombstones) {
    auto it = into.find(key);
    if (it != into.end() && it->second == entry) {
      into.erase(it);
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
