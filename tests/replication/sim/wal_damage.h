// A crash's disk, and damage to a stopped store's write-ahead log, as a disk or a power loss does it: the
// newest *.log file of the directory in env loses its tail (cut anywhere, or half the time
// where a record ends: RocksDB then sees a clean end, and only the HIGH_WATER mark shows
// what is missing), or one of its bytes flips (a checksum RocksDB verifies).
//
// Thread safety: the store must be closed.
#pragma once

#include <rocksdb/env.h>

#include <map>
#include <random>
#include <string>
#include <vector>

namespace geodatastore::sim {

struct WalDamage {
  std::string file;     // empty: there was no log with anything in it
  uint64_t size = 0;    // before
  uint64_t offset = 0;  // where it was cut, or the byte flipped
  bool flip = false;
  bool at_boundary = false;  // cut where a record ends: only HIGH_WATER can tell
  std::string ToString() const;
};

// The files of a directory: name -> contents.
using DiskImage = std::map<std::string, std::string>;
// What dir holds now; with the store open, what a kill -9 would leave (an in-memory Env
// holds every append at once, as the page cache does).
DiskImage ReadDisk(rocksdb::Env* env, const std::string& dir);
// Makes dir hold image and nothing else.
void WriteDisk(rocksdb::Env* env, const std::string& dir, const DiskImage& image);

WalDamage DamageNewestWal(rocksdb::Env* env, const std::string& dir, bool flip,
                          std::mt19937& rng);

}  // namespace geodatastore::sim
