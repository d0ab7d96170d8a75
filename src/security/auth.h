// Authentication and authorization of clients, written once for every front end (REST,
// gRPC, RESP): users with roles from a users file, passwords and API tokens stored as
// argon2id hashes (libsodium), and the one table of which role may do what.
//
// Users file (YAML):
//   users:
//     - name: admin
//       password_hash: "$argon2id$v=19$m=65536,t=2,p=1$..."   # geods hash-password
//       token_hash: "$argon2id$..."                          # optional: Bearer admin.<secret>
//       roles: [admin]                                       # read | write | admin
//
// A front end turns what the request carries into Credentials and calls Authenticate, then
// Authorize with the action the request needs. Both count refusals through the failure
// hook as auth_failures_total{frontend, reason}.
//
// Verifying an argon2id hash is deliberately slow (tens of ms, 64 MiB); credentials that
// verified once are remembered (keyed by a keyed BLAKE2b hash of user and secret, never the
// secret) for kCacheSeconds, and at most kMaxConcurrentVerifies run at once so that a flood
// of wrong passwords costs bounded memory.
//
// Thread safety: every method may be called from any thread.
#pragma once

#include <array>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"

namespace geodatastore::security {

enum class Action { kRead, kWrite, kAdmin };
std::string_view ActionName(Action action);

// Role bits: read < write < admin (each allows what the one before does).
enum Role : uint8_t { kRoleRead = 1, kRoleWrite = 2, kRoleAdmin = 4 };

struct Principal {
  std::string user;
  uint8_t roles = 0;
  bool Allows(Action action) const;
};

struct Credentials {
  enum class Kind { kNone, kPassword, kToken } kind = Kind::kNone;
  std::string user;    // for tokens: the part before the first '.'
  std::string secret;  // password, or the token's secret
};

// Parses "Basic base64(user:password)" and "Bearer user.secret"; kNone for an empty header,
// InvalidArgument for anything else.
StatusOr<Credentials> ParseAuthorizationHeader(std::string_view header);

// "Basic base64(user:password)", for clients.
std::string BasicAuthorization(std::string_view user, std::string_view password);

// An argon2id hash (libsodium's crypto_pwhash_str, interactive limits) of password.
StatusOr<std::string> HashPassword(std::string_view password);

class Authenticator {
 public:
  using FailureHook = std::function<void(std::string_view frontend, std::string_view reason)>;
  static constexpr int kCacheSeconds = 300;
  static constexpr int kMaxConcurrentVerifies = 2;

  // users_file "" means no users: authentication is off and every request is allowed.
  static StatusOr<std::unique_ptr<Authenticator>> Load(const std::string& users_file);
  // Re-reads the users file (SIGHUP); on error keeps the users it had.
  Status Reload();

  bool enabled() const { return !users_file_.empty(); }
  // Who a request without credentials is: an admin while authentication is off (every
  // request is allowed), nobody otherwise.
  std::optional<Principal> Anonymous() const;
  void set_failure_hook(FailureHook hook) { on_failure_ = std::move(hook); }

  // kUnauthenticated (counted, reason missing_credentials | unknown_user | bad_password)
  // unless the credentials are valid. With authentication off: an admin principal.
  StatusOr<Principal> Authenticate(const Credentials& credentials, std::string_view frontend);
  // kPermissionDenied (counted, reason forbidden) unless principal may do action.
  Status Authorize(const Principal& principal, Action action, std::string_view frontend) const;
  // Both steps for a request that carries an Authorization header (REST; gRPC's
  // `authorization` metadata): kUnauthenticated or kPermissionDenied, counted.
  Status Check(std::string_view authorization, Action action, std::string_view frontend);
  // Counts a refusal the front end decided itself (e.g. a malformed header).
  void CountFailure(std::string_view frontend, std::string_view reason) const;

 private:
  struct User {
    std::string password_hash;
    std::string token_hash;
    uint8_t roles = 0;
  };
  using Key = std::array<uint8_t, 32>;

  explicit Authenticator(std::string users_file);
  Key CacheKey(const Credentials& credentials) const;
  bool Verify(const std::string& hash, const std::string& secret);

  const std::string users_file_;
  std::array<uint8_t, 32> cache_secret_{};
  mutable std::mutex mu_;
  std::map<std::string, User> users_;  // guarded by mu_
  // Verified credentials -> (roles, when verified); guarded by mu_.
  std::map<Key, std::pair<uint8_t, std::chrono::steady_clock::time_point>> cache_;
  std::condition_variable verify_cv_;
  int verifying_ = 0;  // guarded by mu_
  FailureHook on_failure_;
};

}  // namespace geodatastore::security
