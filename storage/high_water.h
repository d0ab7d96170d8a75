// The node's high-water marks, kept outside RocksDB in <data_dir>/HIGH_WATER: what a restart
// must never go below, even when RocksDB's recovery lost the tail of its write-ahead log (a
// corrupt record, a torn write, the page cache lost with the power).
//
//   committed_seq   own writes committed in the epoch, at least (raised periodically: a
//                   restart that finds its delta log below it went backwards, and takes a
//                   new replica epoch so that no (replica, seq) or dot is issued twice)
//   applied_total   the sum over origins of what this node applied of their writes, at least
//                   (raised periodically: a restart that finds less lost peers' batches it
//                   had acknowledged, which they will not resend to the same replica)
//   hlc_ceiling_ms  no HLC stamp was issued beyond this physical time (raised before the
//                   clock passes it: a restart's clock starts above it, so stamps never go
//                   backwards, whatever the wall clock says after the restart)
//
// The file is one line, "v2 <epoch> <committed_seq> <hlc_ceiling_ms> <applied_total> <xxh64
// hex>" (v1 lacks applied_total), written whole to HIGH_WATER.tmp, fsynced and renamed over
// the old one.
//
// Thread safety: HighWaterFile is not synchronized; its owner serializes calls.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "common/status.h"

namespace rocksdb {
class Env;
}

namespace geodatastore::storage {

struct HighWater {
  uint64_t epoch = 0;
  uint64_t committed_seq = 0;
  uint64_t hlc_ceiling_ms = 0;
  uint64_t applied_total = 0;
  bool operator==(const HighWater&) const = default;
};

class HighWaterFile {
 public:
  // env: RocksDB's Env of the store (tests: an in-memory one); nullptr: the default.
  HighWaterFile(rocksdb::Env* env, std::string dir);

  // nullopt when there is no file (a new directory, or one from before this file existed);
  // kCorruption when it is unreadable.
  StatusOr<std::optional<HighWater>> Load() const;
  Status Save(const HighWater& marks);

 private:
  rocksdb::Env* const env_;
  const std::string dir_;
};

}  // namespace geodatastore::storage
