#include "replication/sim/wal_damage.h"

#include <gtest/gtest.h>

#include <memory>
#include <vector>

namespace geodatastore::sim {

std::string WalDamage::ToString() const {
  if (file.empty()) return "no write-ahead log to damage";
  return file + " (" + std::to_string(size) + " bytes): " +
         (flip ? "flipped byte " + std::to_string(offset)
               : "cut to " + std::to_string(offset) + " bytes");
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
