// Where an admin may ask a node to write a checkpoint: only below the configured backup
// directory (security.backup_dir), so that an admin request cannot write a copy of the
// database anywhere the process may write.
#pragma once

#include <filesystem>
#include <string>

#include "common/status.h"

namespace geodatastore::security {

// requested is relative to backup_dir, or absolute and inside it. Returns the absolute path,
// or InvalidArgument (empty, outside backup_dir, or through a symbolic link out of it).
inline StatusOr<std::string> BackupPath(const std::string& backup_dir,
                                        const std::string& requested) {
  namespace fs = std::filesystem;
  if (requested.empty()) return InvalidArgument("dir is required");
  std::error_code ec;
  const fs::path root = fs::weakly_canonical(fs::absolute(backup_dir, ec), ec);
  if (ec) return InvalidArgument("backup_dir " + backup_dir + ": " + ec.message());
  const fs::path wanted =
      fs::path(requested).is_absolute() ? fs::path(requested) : root / requested;
  const fs::path resolved = fs::weakly_canonical(wanted, ec);
  if (ec) return InvalidArgument("dir " + requested + ": " + ec.message());
  const auto [end, _] = std::mismatch(root.begin(), root.end(), resolved.begin(), resolved.end());
  if (end != root.end() || resolved == root) {
    return InvalidArgument("dir must be a new directory below the backup directory " +
                           root.string() + " (security.backup_dir)");
  }
  fs::create_directories(resolved.parent_path(), ec);
  if (ec) return InvalidArgument("cannot create " + resolved.parent_path().string());
  return resolved.string();
}

}  // namespace geodatastore::security
