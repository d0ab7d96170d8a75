#include "storage/high_water.h"

#include <rocksdb/env.h>
#include <xxhash.h>

#include <cinttypes>
#include <cstdio>
#include <memory>

namespace geodatastore::storage {
namespace {

constexpr char kName[] = "/HIGH_WATER";
constexpr char kTemp[] = "/HIGH_WATER.tmp";

std::string Body(const HighWater& m) {
  return "v1 " + std::to_string(m.epoch) + " " + std::to_string(m.committed_seq) + " " +
         std::to_string(m.hlc_ceiling_ms);
}

std::string Hex(uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016" PRIx64, v);
  return buf;
}

Status FromRocks(const rocksdb::Status& s, const std::string& what) {
  if (s.ok()) return Status::Ok();
  return Internal(what + ": " + s.ToString());
}

}  // namespace

HighWaterFile::HighWaterFile(rocksdb::Env* env, std::string dir)
    : env_(env != nullptr ? env : rocksdb::Env::Default()), dir_(std::move(dir)) {}

StatusOr<std::optional<HighWater>> HighWaterFile::Load() const {
  const std::string path = dir_ + kName;
  if (env_->FileExists(path).IsNotFound()) return std::optional<HighWater>();
  std::string text;
  GDS_RETURN_IF_ERROR(FromRocks(rocksdb::ReadFileToString(env_, path, &text), "reading " + path));
  HighWater m;
  char version[3] = {};
  char sum[17] = {};
  if (std::sscanf(text.c_str(), "%2s %" SCNu64 " %" SCNu64 " %" SCNu64 " %16s", version, &m.epoch,
                  &m.committed_seq, &m.hlc_ceiling_ms, sum) != 5 ||
      std::string(version) != "v1") {
    return Corruption(path + " is not a high-water file");
  }
  const std::string body = Body(m);
  if (Hex(XXH3_64bits(body.data(), body.size())) != sum || text != body + " " + sum + "\n") {
    return Corruption(path + " fails its checksum");
  }
  return std::optional<HighWater>(m);
}

Status HighWaterFile::Save(const HighWater& marks) {
  const std::string body = Body(marks);
  const std::string text = body + " " + Hex(XXH3_64bits(body.data(), body.size())) + "\n";
  const std::string temp = dir_ + kTemp;
  std::unique_ptr<rocksdb::WritableFile> file;
  const rocksdb::EnvOptions options;
  GDS_RETURN_IF_ERROR(FromRocks(env_->NewWritableFile(temp, &file, options), "creating " + temp));
  GDS_RETURN_IF_ERROR(FromRocks(file->Append(text), "writing " + temp));
  GDS_RETURN_IF_ERROR(FromRocks(file->Sync(), "syncing " + temp));
  GDS_RETURN_IF_ERROR(FromRocks(file->Close(), "closing " + temp));
  GDS_RETURN_IF_ERROR(FromRocks(env_->RenameFile(temp, dir_ + kName), "renaming " + temp));
  std::unique_ptr<rocksdb::Directory> dir;
  if (env_->NewDirectory(dir_, &dir).ok() && dir) {
    GDS_RETURN_IF_ERROR(FromRocks(dir->Fsync(), "syncing " + dir_));
  }
  return Status::Ok();
}

}  // namespace geodatastore::storage
