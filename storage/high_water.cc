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
  return "v2 " + std::to_string(m.epoch) + " " + std::to_string(m.committed_seq) + " " +
         std::to_string(m.hlc_ceiling_ms) + " " + std::to_string(m.applied_total);
}

std::string BodyV1(const HighWater& m) {
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
  std::string body;
  if (text.starts_with("v2 ") &&
      std::sscanf(text.c_str(), "%2s %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %16s", version,
                  &m.epoch, &m.committed_seq, &m.hlc_ceiling_ms, &m.applied_total, sum) == 6) {
    body = Body(m);
  } else if (text.starts_with("v1 ") &&
             std::sscanf(text.c_str(), "%2s %" SCNu64 " %" SCNu64 " %" SCNu64 " %16s", version,
                         &m.epoch, &m.committed_seq, &m.hlc_ceiling_ms, sum) == 5) {
    body = BodyV1(m);
  } else {
    return Corruption(path + " is not a high-water file");
  }
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
