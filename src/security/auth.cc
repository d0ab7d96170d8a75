#include "security/auth.h"

#include <sodium.h>
#include <yaml-cpp/yaml.h>

#include <boost/beast/core/detail/base64.hpp>

namespace geodatastore::security {

namespace {

StatusOr<uint8_t> ParseRoles(const YAML::Node& list, const std::string& where) {
  if (!list || !list.IsSequence() || list.size() == 0)
    return InvalidArgument(where + ".roles: expected a non-empty list of read, write, admin");
  uint8_t roles = 0;
  for (const YAML::Node& r : list) {
    const std::string role = r.as<std::string>();
    if (role == "read") {
      roles |= kRoleRead;
    } else if (role == "write") {
      roles |= kRoleWrite;
    } else if (role == "admin") {
      roles |= kRoleAdmin;
    } else {
      return InvalidArgument(where + ".roles: '" + role + "' is not one of read, write, admin");
    }
  }
  return roles;
}

bool IsArgon2id(const std::string& hash) { return hash.rfind("$argon2id$", 0) == 0; }

}  // namespace

std::string_view ActionName(Action action) {
  switch (action) {
    case Action::kRead:
      return "read";
    case Action::kWrite:
      return "write";
    case Action::kAdmin:
      return "admin";
  }
  return "?";
}

bool Principal::Allows(Action action) const {
  switch (action) {
    case Action::kRead:
      return roles & (kRoleRead | kRoleWrite | kRoleAdmin);
    case Action::kWrite:
      return roles & (kRoleWrite | kRoleAdmin);
    case Action::kAdmin:
      return roles & kRoleAdmin;
  }
  return false;
}

StatusOr<Credentials> ParseAuthorizationHeader(std::string_view header) {
  Credentials c;
  if (header.empty()) return c;
  auto scheme_is = [&](std::string_view scheme) {
    if (header.size() <= scheme.size() || header[scheme.size()] != ' ') return false;
    for (size_t i = 0; i < scheme.size(); ++i) {
      if (std::tolower(static_cast<unsigned char>(header[i])) != scheme[i]) return false;
    }
    return true;
  };
  if (scheme_is("basic")) {
    std::string_view encoded = header.substr(6);
    std::string decoded(boost::beast::detail::base64::decoded_size(encoded.size()), '\0');
    auto [written, read] =
        boost::beast::detail::base64::decode(decoded.data(), encoded.data(), encoded.size());
    size_t significant = encoded.size();
    while (significant > 0 && encoded[significant - 1] == '=') --significant;
    if (read < significant) return InvalidArgument("malformed Basic credentials");
    decoded.resize(written);
    const size_t colon = decoded.find(':');
    if (colon == std::string::npos) return InvalidArgument("malformed Basic credentials");
    c.kind = Credentials::Kind::kPassword;
    c.user = decoded.substr(0, colon);
    c.secret = decoded.substr(colon + 1);
    return c;
  }
  if (scheme_is("bearer")) {
    std::string_view token = header.substr(7);
    const size_t dot = token.find('.');
    if (dot == std::string_view::npos || dot == 0)
      return InvalidArgument("malformed Bearer token (expected <user>.<secret>)");
    c.kind = Credentials::Kind::kToken;
    c.user = std::string(token.substr(0, dot));
    c.secret = std::string(token.substr(dot + 1));
    return c;
  }
  return InvalidArgument("unsupported authorization scheme (Basic or Bearer)");
}

std::string BasicAuthorization(std::string_view user, std::string_view password) {
  const std::string plain = std::string(user) + ":" + std::string(password);
  std::string out(boost::beast::detail::base64::encoded_size(plain.size()), '\0');
  out.resize(boost::beast::detail::base64::encode(out.data(), plain.data(), plain.size()));
  return "Basic " + out;
}

StatusOr<std::string> HashPassword(std::string_view password) {
  if (sodium_init() < 0) return Internal("libsodium failed to initialize");
  char out[crypto_pwhash_STRBYTES];
  if (crypto_pwhash_str_alg(out, password.data(), password.size(),
                            crypto_pwhash_OPSLIMIT_INTERACTIVE, crypto_pwhash_MEMLIMIT_INTERACTIVE,
                            crypto_pwhash_ALG_ARGON2ID13) != 0) {
    return Internal("argon2id hashing failed (out of memory?)");
  }
  return std::string(out);
}

Authenticator::Authenticator(std::string users_file) : users_file_(std::move(users_file)) {
  randombytes_buf(cache_secret_.data(), cache_secret_.size());
}

StatusOr<std::unique_ptr<Authenticator>> Authenticator::Load(const std::string& users_file) {
  if (sodium_init() < 0) return Internal("libsodium failed to initialize");
  std::unique_ptr<Authenticator> auth(new Authenticator(users_file));
  if (!users_file.empty()) GDS_RETURN_IF_ERROR(auth->Reload());
  return auth;
}

Status Authenticator::Reload() {
  if (users_file_.empty()) return Status::Ok();
  std::map<std::string, User> users;
  try {
    const YAML::Node doc = YAML::LoadFile(users_file_);
    const YAML::Node list = doc["users"];
    if (!list || !list.IsSequence())
      return InvalidArgument(users_file_ + ": users: expected a list");
    for (size_t i = 0; i < list.size(); ++i) {
      const std::string where = users_file_ + ": users[" + std::to_string(i) + "]";
      const YAML::Node u = list[i];
      if (!u.IsMap()) return InvalidArgument(where + ": expected a mapping");
      for (const auto& kv : u) {
        const std::string key = kv.first.as<std::string>();
        if (key != "name" && key != "password_hash" && key != "token_hash" && key != "roles")
          return InvalidArgument(where + "." + key + ": unknown key");
      }
      if (!u["name"] || u["name"].as<std::string>().empty())
        return InvalidArgument(where + ".name: is required");
      User user;
      const std::string name = u["name"].as<std::string>();
      if (name.find('.') != std::string::npos)
        return InvalidArgument(where + ".name: may not contain '.'");
      if (u["password_hash"]) user.password_hash = u["password_hash"].as<std::string>();
      if (u["token_hash"]) user.token_hash = u["token_hash"].as<std::string>();
      for (const std::string* h : {&user.password_hash, &user.token_hash}) {
        if (!h->empty() && !IsArgon2id(*h))
          return InvalidArgument(where + ": hashes must be argon2id (geods hash-password)");
      }
      if (user.password_hash.empty() && user.token_hash.empty())
        return InvalidArgument(where + ": needs password_hash or token_hash");
      GDS_ASSIGN_OR_RETURN(user.roles, ParseRoles(u["roles"], where));
      if (!users.emplace(name, std::move(user)).second)
        return InvalidArgument(where + ".name: '" + name + "' appears twice");
    }
  } catch (const YAML::Exception& e) {
    return InvalidArgument(users_file_ + ": " + e.what());
  }
  std::lock_guard<std::mutex> lock(mu_);
  users_ = std::move(users);
  cache_.clear();
  return Status::Ok();
}

Authenticator::Key Authenticator::CacheKey(const Credentials& c) const {
  Key key;
  crypto_generichash_state state;
  crypto_generichash_init(&state, cache_secret_.data(), cache_secret_.size(), key.size());
  const uint8_t kind = static_cast<uint8_t>(c.kind);
  crypto_generichash_update(&state, &kind, 1);
  const uint64_t user_size = c.user.size();
  crypto_generichash_update(&state, reinterpret_cast<const uint8_t*>(&user_size),
                            sizeof(user_size));
  crypto_generichash_update(&state, reinterpret_cast<const uint8_t*>(c.user.data()), c.user.size());
  crypto_generichash_update(&state, reinterpret_cast<const uint8_t*>(c.secret.data()),
                            c.secret.size());
  crypto_generichash_final(&state, key.data(), key.size());
  return key;
}

bool Authenticator::Verify(const std::string& hash, const std::string& secret) {
  {
    std::unique_lock<std::mutex> lock(mu_);
    verify_cv_.wait(lock, [&] { return verifying_ < kMaxConcurrentVerifies; });
    ++verifying_;
  }
  const bool ok = crypto_pwhash_str_verify(hash.c_str(), secret.data(), secret.size()) == 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    --verifying_;
  }
  verify_cv_.notify_one();
  return ok;
}

std::optional<Principal> Authenticator::Anonymous() const {
  if (enabled()) return std::nullopt;
  return Principal{"default", kRoleAdmin};
}

StatusOr<Principal> Authenticator::Authenticate(const Credentials& c, std::string_view frontend) {
  if (auto anonymous = Anonymous()) return *anonymous;
  if (c.kind == Credentials::Kind::kNone) {
    CountFailure(frontend, "missing_credentials");
    return Unauthenticated("authentication required");
  }
  const Key key = CacheKey(c);
  std::string hash;
  uint8_t roles = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto cached = cache_.find(key);
    if (cached != cache_.end() && std::chrono::steady_clock::now() - cached->second.second <
                                      std::chrono::seconds(kCacheSeconds)) {
      return Principal{c.user, cached->second.first};
    }
    auto user = users_.find(c.user);
    if (user != users_.end()) {
      hash = c.kind == Credentials::Kind::kToken ? user->second.token_hash
                                                 : user->second.password_hash;
      roles = user->second.roles;
    }
  }
  if (hash.empty()) {
    CountFailure(frontend, "unknown_user");
    return Unauthenticated("invalid username-password pair or user is disabled");
  }
  if (!Verify(hash, c.secret)) {
    CountFailure(frontend, "bad_password");
    return Unauthenticated("invalid username-password pair or user is disabled");
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (cache_.size() >= 10000) cache_.clear();
  cache_[key] = {roles, std::chrono::steady_clock::now()};
  return Principal{c.user, roles};
}

Status Authenticator::Authorize(const Principal& principal, Action action,
                                std::string_view frontend) const {
  if (principal.Allows(action)) return Status::Ok();
  CountFailure(frontend, "forbidden");
  return PermissionDenied("user '" + principal.user + "' has no permission to " +
                          std::string(ActionName(action)));
}

Status Authenticator::Check(std::string_view authorization, Action action,
                            std::string_view frontend) {
  if (!enabled()) return Status::Ok();
  auto credentials = ParseAuthorizationHeader(authorization);
  if (!credentials.ok()) {
    CountFailure(frontend, "malformed_credentials");
    return Unauthenticated(credentials.status().message());
  }
  GDS_ASSIGN_OR_RETURN(Principal principal, Authenticate(*credentials, frontend));
  return Authorize(principal, action, frontend);
}

void Authenticator::CountFailure(std::string_view frontend, std::string_view reason) const {
  if (on_failure_) on_failure_(frontend, reason);
}

}  // namespace geodatastore::security
