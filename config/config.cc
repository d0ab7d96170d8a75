#include "config/config.h"

#include <yaml-cpp/yaml.h>

#include <boost/asio/ip/address.hpp>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <tuple>

namespace geodatastore::config {

namespace {

// Walks one YAML map, reading known keys and rejecting the rest. Errors name the full key.
class MapReader {
 public:
  MapReader(const YAML::Node& node, std::string path) : node_(node), path_(std::move(path)) {}

  Status Check() const {
    if (!node_ || node_.IsNull()) return Status::Ok();
    if (!node_.IsMap()) return Bad(path_, "expected a mapping");
    return Status::Ok();
  }

  template <typename T>
  Status Read(const std::string& key, T* out, bool required = false) {
    known_.insert(key);
    const YAML::Node value = node_ ? node_[key] : YAML::Node();
    if (!value || value.IsNull()) {
      return required ? Bad(Key(key), "is required") : Status::Ok();
    }
    if (!value.IsScalar()) return Bad(Key(key), "expected a single value");
    try {
      *out = value.as<T>();
    } catch (const YAML::Exception&) {
      return Bad(Key(key), "bad value '" + value.Scalar() + "'");
    }
    return Status::Ok();
  }

  MapReader Child(const std::string& key) {
    known_.insert(key);
    return MapReader(node_ ? node_[key] : YAML::Node(), Key(key));
  }

  YAML::Node Raw(const std::string& key) {
    known_.insert(key);
    return node_ ? node_[key] : YAML::Node();
  }

  Status RejectUnknown() const {
    if (!node_ || !node_.IsMap()) return Status::Ok();
    for (const auto& kv : node_) {
      const std::string key = kv.first.as<std::string>();
      if (!known_.count(key)) return Bad(Key(key), "unknown key");
    }
    return Status::Ok();
  }

  std::string Key(const std::string& key) const { return path_.empty() ? key : path_ + "." + key; }

  static Status Bad(const std::string& key, const std::string& what) {
    return InvalidArgument("config: " + key + ": " + what);
  }

 private:
  YAML::Node node_;
  std::string path_;
  std::set<std::string> known_;
};

Status OneOf(const std::string& key, const std::string& value,
             std::initializer_list<const char*> allowed) {
  std::string list;
  for (const char* a : allowed) {
    if (value == a) return Status::Ok();
    list += list.empty() ? a : std::string(", ") + a;
  }
  return MapReader::Bad(key, "'" + value + "' is not one of " + list);
}

Status Address(const std::string& key, const std::string& value) {
  std::string host;
  uint16_t port;
  if (!SplitHostPort(value, &host, &port))
    return MapReader::Bad(key, "expected host:port, got '" + value + "'");
  return Status::Ok();
}

Status Positive(const std::string& key, uint64_t value) {
  return value > 0 ? Status::Ok() : MapReader::Bad(key, "must be greater than 0");
}

// Reads `section` with fn(reader), then rejects unknown keys in it.
template <typename Fn>
Status Section(MapReader& root, const std::string& name, Fn&& fn) {
  MapReader r = root.Child(name);
  GDS_RETURN_IF_ERROR(r.Check());
  GDS_RETURN_IF_ERROR(fn(r));
  return r.RejectUnknown();
}

Status ReadPeers(MapReader& cluster, std::vector<Peer>* peers) {
  const YAML::Node list = cluster.Raw("peers");
  if (!list || list.IsNull()) return Status::Ok();
  if (!list.IsSequence()) return MapReader::Bad("cluster.peers", "expected a list");
  for (size_t i = 0; i < list.size(); ++i) {
    MapReader p(list[i], "cluster.peers[" + std::to_string(i) + "]");
    GDS_RETURN_IF_ERROR(p.Check());
    Peer peer;
    GDS_RETURN_IF_ERROR(p.Read("id", &peer.id, true));
    GDS_RETURN_IF_ERROR(p.Read("region", &peer.region, true));
    GDS_RETURN_IF_ERROR(p.Read("grpc", &peer.grpc, true));
    GDS_RETURN_IF_ERROR(Address(p.Key("grpc"), peer.grpc));
    GDS_RETURN_IF_ERROR(p.RejectUnknown());
    peers->push_back(std::move(peer));
  }
  return Status::Ok();
}

// Secure by default (as Redis's protected mode and CockroachDB's --insecure): a listener on
// a non-loopback address needs TLS (and, for client listeners, users) unless the config says
// security.insecure explicitly.
Status CheckExposure(const Config& c) {
  if (c.security.tls_enabled() && c.listen.peer.empty() && !c.cluster.peers.empty()) {
    return MapReader::Bad("listen.peer",
                          "is required with security.tls (node-to-node links use their own "
                          "mutual-TLS listener)");
  }
  if (c.security.insecure) return Status::Ok();
  const bool clients_safe = c.security.tls.clients && !c.security.users_file.empty();
  for (auto [key, address, safe] :
       {std::tuple{"listen.http", c.listen.http, clients_safe},
        std::tuple{"listen.grpc", c.listen.grpc, clients_safe},
        std::tuple{"listen.resp", c.listen.resp, clients_safe},
        std::tuple{"listen.peer", c.listen.peer, c.security.tls_enabled()}}) {
    std::string host;
    uint16_t port = 0;
    if (address.empty() || !SplitHostPort(address, &host, &port)) continue;
    if (IsLoopbackHost(host) || safe) continue;
    return MapReader::Bad(
        key, "binds " + host + ", which is not loopback, without " +
                 (std::string(key) == "listen.peer"
                      ? std::string("security.tls")
                      : std::string("security.tls (clients: true) and security.users_file")) +
                 "; configure them, or set security.insecure: true to allow it");
  }
  return Status::Ok();
}

Status ReadLimits(MapReader& r, Config::Limits* limits) {
  for (auto [key, value] : {std::pair{"max_key_bytes", &limits->max_key_bytes},
                            std::pair{"max_element_bytes", &limits->max_element_bytes},
                            std::pair{"max_request_bytes", &limits->max_request_bytes},
                            std::pair{"max_paths", &limits->max_paths},
                            std::pair{"max_path_steps", &limits->max_path_steps}}) {
    GDS_RETURN_IF_ERROR(r.Read(key, value));
    GDS_RETURN_IF_ERROR(Positive(r.Key(key), *value));
  }
  GDS_RETURN_IF_ERROR(r.Read("max_connections", &limits->max_connections));
  GDS_RETURN_IF_ERROR(r.Read("idle_timeout_s", &limits->idle_timeout_s));
  GDS_RETURN_IF_ERROR(Positive(r.Key("max_connections"), limits->max_connections));
  GDS_RETURN_IF_ERROR(r.Read("max_waiting_requests", &limits->max_waiting_requests));
  GDS_RETURN_IF_ERROR(
      Positive(r.Key("max_waiting_requests"), limits->max_waiting_requests));
  return r.Read("max_collection_elements", &limits->max_collection_elements);
}

StatusOr<Config> Parse(const YAML::Node& doc) {
  Config c;
  MapReader root(doc, "");
  if (doc && !doc.IsNull() && !doc.IsMap())
    return MapReader::Bad("(top level)", "expected a mapping");
  GDS_RETURN_IF_ERROR(Section(root, "node", [&](MapReader& r) -> Status {
    if (!doc["node"]) return MapReader::Bad("node", "is required");
    GDS_RETURN_IF_ERROR(r.Read("id", &c.node.id, true));
    GDS_RETURN_IF_ERROR(r.Read("region", &c.node.region, true));
    GDS_RETURN_IF_ERROR(r.Read("data_dir", &c.node.data_dir));
    if (c.node.data_dir.empty()) c.node.data_dir = "./data/" + c.node.id;
    return Status::Ok();
  }));
  GDS_RETURN_IF_ERROR(Section(root, "listen", [&](MapReader& r) -> Status {
    GDS_RETURN_IF_ERROR(r.Read("http", &c.listen.http));
    GDS_RETURN_IF_ERROR(r.Read("grpc", &c.listen.grpc));
    GDS_RETURN_IF_ERROR(r.Read("resp", &c.listen.resp));
    GDS_RETURN_IF_ERROR(r.Read("peer", &c.listen.peer));
    if (!c.listen.peer.empty()) GDS_RETURN_IF_ERROR(Address("listen.peer", c.listen.peer));
    GDS_RETURN_IF_ERROR(Address("listen.http", c.listen.http));
    GDS_RETURN_IF_ERROR(Address("listen.grpc", c.listen.grpc));
    return Address("listen.resp", c.listen.resp);
  }));
  GDS_RETURN_IF_ERROR(Section(root, "cluster", [&](MapReader& r) -> Status {
    GDS_RETURN_IF_ERROR(r.Read("name", &c.cluster.name));
    GDS_RETURN_IF_ERROR(ReadPeers(r, &c.cluster.peers));
    std::set<std::string> ids{c.node.id};
    for (const Peer& p : c.cluster.peers) {
      if (!ids.insert(p.id).second)
        return MapReader::Bad("cluster.peers", "node id '" + p.id + "' appears twice");
    }
    return Status::Ok();
  }));
  GDS_RETURN_IF_ERROR(Section(root, "replication", [&](MapReader& r) -> Status {
    GDS_RETURN_IF_ERROR(r.Read("flush_interval_ms", &c.replication.flush_interval_ms));
    GDS_RETURN_IF_ERROR(r.Read("max_batch_bytes", &c.replication.max_batch_bytes));
    GDS_RETURN_IF_ERROR(r.Read("compression", &c.replication.compression));
    GDS_RETURN_IF_ERROR(r.Read("topology", &c.replication.topology));
    GDS_RETURN_IF_ERROR(r.Read("delta_groups", &c.replication.delta_groups));
    GDS_RETURN_IF_ERROR(Positive("replication.flush_interval_ms", c.replication.flush_interval_ms));
    GDS_RETURN_IF_ERROR(Positive("replication.max_batch_bytes", c.replication.max_batch_bytes));
    GDS_RETURN_IF_ERROR(
        OneOf("replication.compression", c.replication.compression, {"gzip", "none"}));
    return OneOf("replication.topology", c.replication.topology, {"mesh", "gateway"});
  }));
  GDS_RETURN_IF_ERROR(Section(root, "anti_entropy", [&](MapReader& r) -> Status {
    GDS_RETURN_IF_ERROR(r.Read("interval_s", &c.anti_entropy.interval_s));
    GDS_RETURN_IF_ERROR(r.Read("max_objects_per_second", &c.anti_entropy.max_objects_per_second));
    GDS_RETURN_IF_ERROR(r.Read("tombstone_interval_s", &c.anti_entropy.tombstone_interval_s));
    return Positive("anti_entropy.interval_s", c.anti_entropy.interval_s);
  }));
  GDS_RETURN_IF_ERROR(Section(root, "consistency", [&](MapReader& r) -> Status {
    GDS_RETURN_IF_ERROR(r.Read("default_read", &c.consistency.default_read));
    GDS_RETURN_IF_ERROR(r.Read("default_write", &c.consistency.default_write));
    GDS_RETURN_IF_ERROR(r.Read("timeout_ms", &c.consistency.timeout_ms));
    for (auto [key, value] :
         {std::pair{"consistency.default_read", &c.consistency.default_read},
          std::pair{"consistency.default_write", &c.consistency.default_write}}) {
      GDS_RETURN_IF_ERROR(OneOf(key, *value, {"eventual", "local_quorum", "quorum", "all"}));
    }
    return Positive("consistency.timeout_ms", c.consistency.timeout_ms);
  }));
  GDS_RETURN_IF_ERROR(Section(root, "clock", [&](MapReader& r) -> Status {
    return r.Read("max_offset_ms", &c.clock.max_offset_ms);
  }));
  GDS_RETURN_IF_ERROR(Section(root, "storage", [&](MapReader& r) -> Status {
    return r.Read("sync_writes", &c.storage.sync_writes);
  }));
  GDS_RETURN_IF_ERROR(
      Section(root, "limits", [&](MapReader& r) { return ReadLimits(r, &c.limits); }));
  GDS_RETURN_IF_ERROR(Section(root, "testing", [&](MapReader& r) -> Status {
    return r.Read("fault_injection", &c.testing.fault_injection);
  }));
  GDS_RETURN_IF_ERROR(Section(root, "security", [&](MapReader& r) -> Status {
    const bool has_tls = r.Raw("tls") && !r.Raw("tls").IsNull();
    GDS_RETURN_IF_ERROR(Section(r, "tls", [&](MapReader& t) -> Status {
      if (!has_tls) return Status::Ok();
      GDS_RETURN_IF_ERROR(t.Read("ca_file", &c.security.tls.ca_file, true));
      GDS_RETURN_IF_ERROR(t.Read("cert_file", &c.security.tls.cert_file, true));
      GDS_RETURN_IF_ERROR(t.Read("key_file", &c.security.tls.key_file, true));
      return t.Read("clients", &c.security.tls.clients);
    }));
    GDS_RETURN_IF_ERROR(r.Read("users_file", &c.security.users_file));
    GDS_RETURN_IF_ERROR(r.Read("backup_dir", &c.security.backup_dir));
    if (c.security.backup_dir.empty()) {  // next to the data directory
      c.security.backup_dir =
          (std::filesystem::path(c.node.data_dir).lexically_normal().parent_path() / "backups")
              .string();
    }
    return r.Read("insecure", &c.security.insecure);
  }));
  GDS_RETURN_IF_ERROR(root.RejectUnknown());
  GDS_RETURN_IF_ERROR(CheckExposure(c));
  return c;
}

}  // namespace

bool IsLoopbackHost(std::string_view host) {
  if (host == "localhost" || host == "::1" || host == "[::1]") return true;
  boost::system::error_code ec;
  const auto address = boost::asio::ip::make_address(std::string(host), ec);
  return !ec && address.is_loopback();
}

bool SplitHostPort(std::string_view address, std::string* host, uint16_t* port) {
  const size_t colon = address.rfind(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == address.size()) return false;
  const std::string_view digits = address.substr(colon + 1);
  uint32_t value = 0;
  for (char ch : digits) {
    if (ch < '0' || ch > '9') return false;
    value = value * 10 + (ch - '0');
    if (value > 65535) return false;
  }
  *host = std::string(address.substr(0, colon));
  *port = static_cast<uint16_t>(value);
  return true;
}

StatusOr<Config> ParseConfig(std::string_view yaml) {
  YAML::Node doc;
  try {
    doc = YAML::Load(std::string(yaml));
  } catch (const YAML::Exception& e) {
    return InvalidArgument("config: not valid YAML at line " + std::to_string(e.mark.line + 1) +
                           ": " + e.msg);
  }
  try {
    return Parse(doc);
  } catch (const YAML::Exception& e) {
    return InvalidArgument(std::string("config: ") + e.what());
  }
}

StatusOr<Config> LoadConfig(const std::string& path) {
  std::ifstream in(path);
  if (!in) return InvalidArgument("config: cannot read " + path);
  std::stringstream text;
  text << in.rdbuf();
  StatusOr<Config> config = ParseConfig(text.str());
  if (!config.ok()) return InvalidArgument(path + ": " + config.status().message());
  return config;
}

}  // namespace geodatastore::config
