#include "crdt/lww_element.h"

namespace geodatastore::crdt {

bool LwwEntry::Present(LwwBias bias) const {
  if (!added) return false;
  if (!removed) return true;
  if (added->ts != removed->ts) return added->ts > removed->ts;
  return bias == LwwBias::kAddWins;
}

void LwwEntry::Join(const LwwEntry& other) {
  if (other.added && (!added || *added < *other.added)) added = other.added;
  if (other.removed && (!removed || *removed < *other.removed)) removed = other.removed;
}

}  // namespace geodatastore::crdt
