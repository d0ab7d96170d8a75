#include "replication/sim/wal_damage.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <memory>
#include <vector>

namespace geodatastore::sim {

std::string WalDamage::ToString() const {
  if (file.empty()) return "no write-ahead log to damage";
  return file + " (" + std::to_string(size) + " bytes): " +
         (flip ? "flipped byte " + std::to_string(offset)
               : "cut to " + std::to_string(offset) + " bytes" +
                     (at_boundary ? " (at a record's end)" : ""));
}

// The offsets where a whole logical record of a RocksDB log ends (log_format.h: 32 KiB
// blocks of physical records, header := crc: fixed32, length: fixed16, type: uint8; a block
// tail shorter than a header is padding; type 1 full, 2 first, 3 middle, 4 last), before the
// file's end.
std::vector<uint64_t> RecordEnds(const std::string& log) {
  constexpr size_t kBlock = 32768, kHeader = 7;
  std::vector<uint64_t> out;
  size_t at = 0;
  while (at + kHeader <= log.size()) {
    const size_t left = kBlock - at % kBlock;
    if (left < kHeader) {
      at += left;
      continue;
    }
    const size_t length = static_cast<uint8_t>(log[at + 4]) |
                          static_cast<size_t>(static_cast<uint8_t>(log[at + 5])) << 8;
    const int type = static_cast<uint8_t>(log[at + 6]);
    if (type == 0 || at + kHeader + length > log.size()) break;
    at += kHeader + length;
    if ((type == 1 || type == 4) && at < log.size()) out.push_back(at);
  }
  return out;
}

DiskImage ReadDisk(rocksdb::Env* env, const std::string& dir) {
  DiskImage out;
  std::vector<std::string> children;
  if (!env->GetChildren(dir, &children).ok()) return out;
  for (const std::string& c : children) {
    if (c == "." || c == "..") continue;
    uint64_t size = 0;
    std::unique_ptr<rocksdb::SequentialFile> in;
    if (!env->GetFileSize(dir + "/" + c, &size).ok() ||
        !env->NewSequentialFile(dir + "/" + c, &in, rocksdb::EnvOptions()).ok()) {
      continue;
    }
    std::string bytes(size, '\0');
    rocksdb::Slice read;
    EXPECT_TRUE(in->Read(size, &read, bytes.data()).ok());
    out[c].assign(read.data(), read.size());
  }
  return out;
}

void WriteDisk(rocksdb::Env* env, const std::string& dir, const DiskImage& image) {
  std::vector<std::string> children;
  if (env->GetChildren(dir, &children).ok()) {
    for (const std::string& c : children) {
      if (c == "." || c == "..") continue;
      EXPECT_TRUE(env->DeleteFile(dir + "/" + c).ok()) << c;
    }
  }
  for (const auto& [name, bytes] : image) {
    std::unique_ptr<rocksdb::WritableFile> file;
    EXPECT_TRUE(env->NewWritableFile(dir + "/" + name, &file, rocksdb::EnvOptions()).ok());
    EXPECT_TRUE(file->Append(bytes).ok());
    EXPECT_TRUE(file->Close().ok());
  }
}

WalDamage DamageNewestWal(rocksdb::Env* env, const std::string& dir, bool flip,
                          std::mt19937& rng) {
  WalDamage out;
  out.flip = flip;
  std::vector<std::string> children;
  if (!env->GetChildren(dir, &children).ok()) return out;
  uint64_t newest = 0;
  std::string name;
  for (const std::string& c : children) {
    if (c.size() <= 4 || c.compare(c.size() - 4, 4, ".log") != 0) continue;
    const uint64_t number = std::strtoull(c.c_str(), nullptr, 10);
    if (name.empty() || number > newest) {
      newest = number;
      name = c;
    }
  }
  if (name.empty()) return out;
  const std::string path = dir + "/" + name;
  std::unique_ptr<rocksdb::SequentialFile> in;
  uint64_t size = 0;
  if (!env->GetFileSize(path, &size).ok() || size == 0 ||
      !env->NewSequentialFile(path, &in, rocksdb::EnvOptions()).ok()) {
    return out;
  }
  std::string bytes(size, '\0');
  rocksdb::Slice read;
  EXPECT_TRUE(in->Read(size, &read, bytes.data()).ok());
  bytes.assign(read.data(), read.size());
  in.reset();
  out.file = path;
  out.size = bytes.size();
  out.offset = std::uniform_int_distribution<uint64_t>(0, bytes.size() - 1)(rng);
  if (!flip && rng() % 2 == 0) {
    const std::vector<uint64_t> ends = RecordEnds(bytes);
    if (!ends.empty()) {
      out.offset = ends[rng() % ends.size()];
      out.at_boundary = true;
    }
  }
  if (flip) {
    bytes[out.offset] = static_cast<char>(bytes[out.offset] ^ (1 << (rng() % 8)));
  } else {
    bytes.resize(out.offset);
  }
  std::unique_ptr<rocksdb::WritableFile> file;
  EXPECT_TRUE(env->NewWritableFile(path, &file, rocksdb::EnvOptions()).ok());
  EXPECT_TRUE(file->Append(bytes).ok());
  EXPECT_TRUE(file->Close().ok());
  return out;
}

}  // namespace geodatastore::sim
