// geoctl: the command-line client and admin tool of geodatastore; talks gRPC to one node.
//
// Exit codes: 0 success, 1 the node refused the request, 2 bad usage, 3 node unreachable.
#include <grpcpp/grpcpp.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <functional>
#include <iostream>
#include <nlohmann/json.hpp>

#include "crdt/any_crdt.h"
#include "geodatastore/v1/api.grpc.pb.h"
#include "security/auth.h"
#include "security/tls.h"

namespace {

using json = nlohmann::json;
namespace v1 = geodatastore::v1;
namespace security = geodatastore::security;

struct Options {
  std::string addr = "127.0.0.1:9090";
  bool json = false;
  int timeout_ms = 5000;
  std::string consistency;
  std::string session;
  std::string cacert;    // TLS when set
  std::string tls_name;  // name to verify the node's certificate for
  std::string user;
  std::string password;
};

std::string TypeName(v1::CrdtType t) { return std::string(geodatastore::crdt::TypeName(t)); }

bool ParseType(const std::string& name, v1::CrdtType* out) {
  const auto type = geodatastore::crdt::ParseTypeName(name);
  if (type) *out = *type;
  return type.has_value();
}

json Strings(const google::protobuf::RepeatedPtrField<std::string>& in) {
  json out = json::array();
  for (const std::string& s : in) out.push_back(s);
  return out;
}

std::string Join(const google::protobuf::RepeatedPtrField<std::string>& in, const char* sep) {
  std::string out;
  for (const std::string& s : in) out += (out.empty() ? "" : sep) + s;
  return out;
}

json ValueJson(const v1::ObjectValue& v) {
  json out = {{"name", v.name()}, {"type", TypeName(v.type())}};
  switch (v.type()) {
    case v1::G_COUNTER:
    case v1::PN_COUNTER:
      out["value"] = v.counter_value();
      break;
    case v1::LWW_REGISTER:
    case v1::MV_REGISTER:
      out["values"] = Strings(v.values());
      break;
    case v1::LWW_GRAPH: {
      out["vertices"] = Strings(v.vertices());
      json edges = json::array();
      for (const v1::Edge& e : v.edges()) edges.push_back({e.from(), e.to()});
      out["edges"] = edges;
      break;
    }
    default:
      out["elements"] = Strings(v.elements());
  }
  return out;
}

std::string ValueText(const v1::ObjectValue& v) {
  const std::string head = v.name() + " (" + TypeName(v.type()) + ")";
  switch (v.type()) {
    case v1::G_COUNTER:
    case v1::PN_COUNTER:
      return head + " = " + std::to_string(v.counter_value());
    case v1::LWW_REGISTER:
    case v1::MV_REGISTER:
      return head + " = " + (v.values().empty() ? "(unset)" : Join(v.values(), " | "));
    case v1::LWW_GRAPH: {
      std::string edges;
      for (const v1::Edge& e : v.edges())
        edges += (edges.empty() ? "" : ", ") + e.from() + "->" + e.to();
      return head + "\n  vertices: " + Join(v.vertices(), ", ") + "\n  edges:    " + edges;
    }
    default:
      return head + " = {" + Join(v.elements(), ", ") + "}";
  }
}

// Prints either the JSON or the text form of a result.
void Print(const Options& o, const json& as_json, const std::string& as_text) {
  std::cout << (o.json ? as_json.dump(2, ' ', false, json::error_handler_t::replace) : as_text)
            << "\n";
}

// A channel to the node: TLS verified against --cacert when given, else plaintext.
std::shared_ptr<grpc::Channel> Dial(const Options& o) {
  if (o.cacert.empty()) return grpc::CreateChannel(o.addr, grpc::InsecureChannelCredentials());
  grpc::ChannelArguments args;
  if (!o.tls_name.empty()) args.SetSslTargetNameOverride(o.tls_name);
  return grpc::CreateCustomChannel(o.addr, security::ChannelCredentials({o.cacert, "", ""}), args);
}

class Client {
 public:
  explicit Client(const Options& o)
      : options_(o),
        channel_(Dial(o)),
        crdt_(v1::CRDTService::NewStub(channel_)),
        admin_(v1::AdminService::NewStub(channel_)) {}

  // Runs one call with the options' deadline and metadata; returns the exit code.
  template <typename Call>
  int Run(Call&& call, const std::function<void()>& on_ok) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::milliseconds(options_.timeout_ms));
    if (!options_.consistency.empty()) context.AddMetadata("x-consistency", options_.consistency);
    if (!options_.session.empty()) context.AddMetadata("x-session-token", options_.session);
    if (!options_.user.empty()) {
      context.AddMetadata("authorization",
                          security::BasicAuthorization(options_.user, options_.password));
    }
    const grpc::Status status = call(&context);
    if (status.ok()) {
      on_ok();
      return 0;
    }
    if (status.error_code() == grpc::StatusCode::UNAVAILABLE &&
        channel_->GetState(false) != GRPC_CHANNEL_READY) {
      std::cerr << "geoctl: cannot reach the node at " << options_.addr << ": "
                << status.error_message() << "\n";
      return 3;
    }
    if (status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
      std::cerr << "geoctl: no answer from " << options_.addr << " within " << options_.timeout_ms
                << " ms\n";
      return 3;
    }
    static const char* kCodes[] = {"ok",
                                   "cancelled",
                                   "unknown",
                                   "invalid_argument",
                                   "deadline_exceeded",
                                   "not_found",
                                   "already_exists",
                                   "permission_denied",
                                   "resource_exhausted",
                                   "failed_precondition",
                                   "aborted",
                                   "out_of_range",
                                   "unimplemented",
                                   "internal",
                                   "unavailable",
                                   "data_loss",
                                   "unauthenticated"};
    const int code = status.error_code();
    std::cerr << "geoctl: " << (code >= 0 && code <= 16 ? kCodes[code] : "error") << ": "
              << status.error_message() << "\n";
    return 1;
  }

  // A call returning an ObjectValue, printed as such.
  template <typename Request, typename Method>
  int Object(const Request& request, Method method) {
    v1::ObjectValue reply;
    return Run([&](grpc::ClientContext* c) { return ((*crdt_).*method)(c, request, &reply); },
               [&] { Print(options_, ValueJson(reply), ValueText(reply)); });
  }

  v1::CRDTService::Stub& crdt() { return *crdt_; }
  v1::AdminService::Stub& admin() { return *admin_; }
  const Options& options() const { return options_; }

 private:
  const Options options_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::CRDTService::Stub> crdt_;
  std::unique_ptr<v1::AdminService::Stub> admin_;
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"geoctl: client and admin tool for a geodatastore node (gRPC)"};
  app.require_subcommand(1);
  Options o;
  app.add_option("--addr", o.addr, "node gRPC address host:port")->capture_default_str();
  app.add_flag("--json", o.json, "print JSON");
  app.add_option("--timeout-ms", o.timeout_ms, "deadline of the call")->capture_default_str();
  app.add_option("--consistency", o.consistency, "eventual | local_quorum | quorum | all");
  app.add_option("--session", o.session, "a session token from an earlier answer");
  app.add_option("--cacert", o.cacert, "CA file: connect over TLS and verify the node with it");
  app.add_option("--tls-name", o.tls_name,
                 "the name the node's certificate must carry (default: the host of --addr)");
  app.add_option("--user", o.user, "user name (the password from $GEODS_PASSWORD or --password)");
  app.add_option("--password", o.password, "password (prefer $GEODS_PASSWORD)");

  std::function<int(Client&)> action;
  std::string name, a, b, type_name, bias;
  std::vector<std::string> items;
  int64_t amount = 1, initial = 0;
  uint64_t timestamp = 0;
  uint32_t limit = 0, max_paths = 0;

  auto* counter =
      app.add_subcommand("counter", "counters: create, inc, dec, get")->require_subcommand(1);
  auto* c_create = counter->add_subcommand("create", "create a counter");
  c_create->add_option("name", name)->required();
  std::string counter_type = "pn_counter";
  c_create->add_option("--type", counter_type, "pn_counter or g_counter")->capture_default_str();
  c_create->add_option("--initial", initial, "initial value");
  c_create->callback([&] {
    action = [&](Client& c) {
      v1::CreateRequest r;
      r.set_name(name);
      v1::CrdtType t;
      if (!ParseType(counter_type, &t))
        return (std::cerr << "geoctl: unknown type '" << counter_type << "'\n", 2);
      r.set_type(t);
      r.set_initial_value(initial);
      return c.Object(r, &v1::CRDTService::Stub::CreateObject);
    };
  });
  for (auto [cmd, method] : {std::pair{"inc", &v1::CRDTService::Stub::IncrementCounter},
                             std::pair{"dec", &v1::CRDTService::Stub::DecrementCounter}}) {
    auto* sub = counter->add_subcommand(
        cmd, std::string(cmd) == "inc" ? "increment (creates a pn_counter)" : "decrement");
    sub->add_option("name", name)->required();
    sub->add_option("amount", amount, "default 1")->check(CLI::NonNegativeNumber);
    sub->callback([&, method = method] {
      action = [&, method](Client& c) {
        v1::CounterUpdate r;
        r.set_name(name);
        r.set_amount(static_cast<uint64_t>(amount));
        return c.Object(r, method);
      };
    });
  }
  auto* c_get = counter->add_subcommand("get", "read a counter");
  c_get->add_option("name", name)->required();
  c_get->callback([&] {
    action = [&](Client& c) {
      v1::GetRequest r;
      r.set_name(name);
      return c.Object(r, &v1::CRDTService::Stub::GetCounter);
    };
  });

  auto* set = app.add_subcommand("set", "sets: create, add, remove, get")->require_subcommand(1);
  auto* s_create = set->add_subcommand("create", "create a set");
  s_create->add_option("name", name)->required();
  s_create->add_option("--type", type_name, "or_set, g_set, 2p_set or lww_set")->required();
  s_create->add_option("--bias", bias, "lww_set only: remove_wins (default) or add_wins");
  s_create->callback([&] {
    action = [&](Client& c) {
      v1::CreateRequest r;
      r.set_name(name);
      v1::CrdtType t;
      if (!ParseType(type_name, &t))
        return (std::cerr << "geoctl: unknown type '" << type_name << "'\n", 2);
      r.set_type(t);
      if (bias == "add_wins") r.set_bias(v1::ADD_WINS);
      return c.Object(r, &v1::CRDTService::Stub::CreateObject);
    };
  });
  for (auto [cmd, method] : {std::pair{"add", &v1::CRDTService::Stub::AddToSet},
                             std::pair{"remove", &v1::CRDTService::Stub::RemoveFromSet}}) {
    auto* sub = set->add_subcommand(
        cmd, std::string(cmd) == "add" ? "add elements (creates an or_set)" : "remove elements");
    sub->add_option("name", name)->required();
    sub->add_option("elements", items)->required();
    sub->callback([&, method = method] {
      action = [&, method](Client& c) {
        v1::SetUpdate r;
        r.set_name(name);
        for (const std::string& e : items) r.add_elements(e);
        return c.Object(r, method);
      };
    });
  }
  auto* s_get = set->add_subcommand("get", "read a set");
  s_get->add_option("name", name)->required();
  s_get->callback([&] {
    action = [&](Client& c) {
      v1::GetRequest r;
      r.set_name(name);
      return c.Object(r, &v1::CRDTService::Stub::GetSet);
    };
  });

  auto* reg = app.add_subcommand("register", "registers: set, get")->require_subcommand(1);
  auto* r_set = reg->add_subcommand("set", "write a register (creates it)");
  r_set->add_option("name", name)->required();
  r_set->add_option("value", a)->required();
  r_set->add_option("--type", type_name, "lww_register (default for a new one) or mv_register");
  r_set->add_option("--timestamp", timestamp, "LWW timestamp in ms (default: the node's clock)");
  r_set->callback([&] {
    action = [&](Client& c) {
      v1::RegisterWrite r;
      r.set_name(name);
      r.set_value(a);
      r.set_timestamp(timestamp);
      if (!type_name.empty()) {
        v1::CrdtType t;
        if (!ParseType(type_name, &t))
          return (std::cerr << "geoctl: unknown type '" << type_name << "'\n", 2);
        r.set_type(t);
      }
      return c.Object(r, &v1::CRDTService::Stub::SetRegister);
    };
  });
  auto* r_get = reg->add_subcommand("get", "read a register");
  r_get->add_option("name", name)->required();
  r_get->callback([&] {
    action = [&](Client& c) {
      v1::GetRequest r;
      r.set_name(name);
      return c.Object(r, &v1::CRDTService::Stub::GetRegister);
    };
  });

  auto* graph = app.add_subcommand("graph", "graphs: vertices, edges, get, neighbors, paths")
                    ->require_subcommand(1);
  for (auto [cmd, method] : {std::pair{"add-vertex", &v1::CRDTService::Stub::AddVertex},
                             std::pair{"remove-vertex", &v1::CRDTService::Stub::RemoveVertex}}) {
    auto* sub = graph->add_subcommand(cmd, cmd);
    sub->add_option("name", name)->required();
    sub->add_option("vertex", a)->required();
    sub->callback([&, method = method] {
      action = [&, method](Client& c) {
        v1::VertexRequest r;
        r.set_name(name);
        r.set_vertex(a);
        return c.Object(r, method);
      };
    });
  }
  for (auto [cmd, method] : {std::pair{"add-edge", &v1::CRDTService::Stub::AddEdge},
                             std::pair{"remove-edge", &v1::CRDTService::Stub::RemoveEdge}}) {
    auto* sub = graph->add_subcommand(cmd, cmd);
    sub->add_option("name", name)->required();
    sub->add_option("from", a)->required();
    sub->add_option("to", b)->required();
    sub->callback([&, method = method] {
      action = [&, method](Client& c) {
        v1::EdgeRequest r;
        r.set_name(name);
        r.set_from(a);
        r.set_to(b);
        return c.Object(r, method);
      };
    });
  }
  auto* g_get = graph->add_subcommand("get", "read a graph");
  g_get->add_option("name", name)->required();
  g_get->callback([&] {
    action = [&](Client& c) {
      v1::GetRequest r;
      r.set_name(name);
      return c.Object(r, &v1::CRDTService::Stub::GetGraph);
    };
  });
  auto* g_nb = graph->add_subcommand("neighbors", "targets of a vertex's edges");
  g_nb->add_option("name", name)->required();
  g_nb->add_option("vertex", a)->required();
  g_nb->callback([&] {
    action = [&](Client& c) {
      v1::VertexRequest r;
      r.set_name(name);
      r.set_vertex(a);
      v1::NeighborsReply reply;
      return c.Run([&](grpc::ClientContext* ctx) { return c.crdt().GetNeighbors(ctx, r, &reply); },
                   [&] {
                     Print(c.options(), {{"neighbors", Strings(reply.neighbors())}},
                           Join(reply.neighbors(), "\n"));
                   });
    };
  });
  auto* g_paths = graph->add_subcommand("paths", "every simple path between two vertices");
  g_paths->add_option("name", name)->required();
  g_paths->add_option("from", a)->required();
  g_paths->add_option("to", b)->required();
  g_paths->add_option("--max", max_paths,
                      "at most this many paths (default: all, within the node's budget)");
  g_paths->callback([&] {
    action = [&](Client& c) {
      v1::PathsRequest r;
      r.set_name(name);
      r.set_from(a);
      r.set_to(b);
      r.set_max_paths(max_paths);
      v1::PathsReply reply;
      return c.Run([&](grpc::ClientContext* ctx) { return c.crdt().GetPaths(ctx, r, &reply); },
                   [&] {
                     json paths = json::array();
                     std::string text;
                     for (const v1::Path& p : reply.paths()) {
                       paths.push_back(Strings(p.vertices()));
                       text += (text.empty() ? "" : "\n") + Join(p.vertices(), " -> ");
                     }
                     Print(c.options(), {{"paths", paths}}, text.empty() ? "(no path)" : text);
                   });
    };
  });

  auto* keys = app.add_subcommand("keys", "list objects");
  keys->add_option("--type", type_name, "only this type");
  keys->add_option("--prefix", a, "only names starting with this");
  keys->add_option("--limit", limit, "at most this many (default 1000)");
  keys->callback([&] {
    action = [&](Client& c) {
      v1::ListKeysRequest r;
      if (!type_name.empty()) {
        v1::CrdtType t;
        if (!ParseType(type_name, &t))
          return (std::cerr << "geoctl: unknown type '" << type_name << "'\n", 2);
        r.set_type(t);
      }
      r.set_prefix(a);
      r.set_limit(limit);
      v1::ListKeysReply reply;
      return c.Run([&](grpc::ClientContext* ctx) { return c.crdt().ListKeys(ctx, r, &reply); },
                   [&] {
                     json out = json::array();
                     std::string text;
                     for (const v1::KeyEntry& k : reply.keys()) {
                       out.push_back({{"name", k.name()}, {"type", TypeName(k.type())}});
                       text += (text.empty() ? "" : "\n") + k.name() + "\t" + TypeName(k.type());
                     }
                     Print(c.options(), {{"keys", out}}, text);
                   });
    };
  });

  auto* admin = app.add_subcommand("admin", "admin: status, checkpoint, lag, full-sync, conflicts")
                    ->require_subcommand(1);
  admin->add_subcommand("status", "node status")->callback([&] {
    action = [&](Client& c) {
      v1::StatusReply reply;
      return c.Run(
          [&](grpc::ClientContext* ctx) {
            return c.admin().GetStatus(ctx, v1::StatusRequest(), &reply);
          },
          [&] {
            const std::string replica = geodatastore::crdt::ReplicaIdHex(reply.replica_id());
            json keys = json::object(), applied = json::object(), peers = json::array();
            for (const auto& k : reply.keys()) keys[TypeName(k.type())] = k.keys();
            for (const auto& e : reply.applied().entries()) {
              applied[geodatastore::crdt::ReplicaIdHex(e.replica())] = e.counter();
            }
            for (const auto& p : reply.peers()) {
              peers.push_back({{"id", p.id()},
                               {"region", p.region()},
                               {"address", p.address()},
                               {"state", p.state()}});
            }
            const json j = {{"node_id", reply.node_id()},
                            {"region", reply.region()},
                            {"cluster", reply.cluster()},
                            {"replica_id", replica},
                            {"replica_epoch", reply.replica_epoch()},
                            {"uptime_seconds", reply.uptime_seconds()},
                            {"peers", peers},
                            {"keys", keys},
                            {"applied", applied},
                            {"live_sst_bytes", reply.live_sst_bytes()},
                            {"pending_compaction_bytes", reply.pending_compaction_bytes()}};
            std::string text = "node " + reply.node_id() + " (region " + reply.region() +
                               ", replica " + replica + ", epoch " +
                               std::to_string(reply.replica_epoch()) + ")\n  up " +
                               std::to_string(static_cast<int64_t>(reply.uptime_seconds())) +
                               " s, peers: " + std::to_string(reply.peers_size()) + "\n  keys:";
            for (const auto& k : reply.keys()) {
              if (k.keys() > 0)
                text += " " + std::string(TypeName(k.type())) + "=" + std::to_string(k.keys());
            }
            Print(c.options(), j, text);
          });
    };
  });
  auto* checkpoint = admin->add_subcommand(
      "checkpoint", "consistent RocksDB checkpoint into DIR (on the node's machine)");
  checkpoint->add_option("dir", a)->required();
  checkpoint->callback([&] {
    action = [&](Client& c) {
      v1::CheckpointRequest r;
      r.set_dir(a);
      v1::CheckpointReply reply;
      return c.Run(
          [&](grpc::ClientContext* ctx) { return c.admin().Checkpoint(ctx, r, &reply); },
          [&] {
            Print(c.options(), {{"dir", reply.dir()}}, "checkpoint written to " + reply.dir());
          });
    };
  });
  admin->add_subcommand("lag", "replication lag per peer")->callback([&] {
    action = [&](Client& c) {
      v1::LagReply reply;
      return c.Run(
          [&](grpc::ClientContext* ctx) {
            return c.admin().GetReplicationLag(ctx, v1::LagRequest(), &reply);
          },
          [&] {
            json peers = json::array();
            std::string text = "committed seq " + std::to_string(reply.committed_seq());
            for (const v1::PeerLag& p : reply.peers()) {
              peers.push_back({{"peer", p.peer()},
                               {"region", p.region()},
                               {"state", p.state()},
                               {"acked_seq", p.acked_seq()},
                               {"ops_behind", p.ops_behind()},
                               {"seconds_behind", p.seconds_behind()},
                               {"bytes_sent", p.bytes_sent()},
                               {"bytes_received", p.bytes_received()}});
              char line[256];
              snprintf(line, sizeof(line),
                       "\n  %-12s %-10s %-8s acked %llu, %llu ops / %.3f s behind",
                       p.peer().c_str(), p.region().c_str(), p.state().c_str(),
                       static_cast<unsigned long long>(p.acked_seq()),
                       static_cast<unsigned long long>(p.ops_behind()), p.seconds_behind());
              text += line;
            }
            Print(c.options(), {{"committed_seq", reply.committed_seq()}, {"peers", peers}}, text);
          });
    };
  });
  // Anti-entropy now, with every peer or those of one region (sessions can take minutes:
  // the deadline is --timeout-ms, or 10 minutes if that was left at its default).
  auto sync = [&](Client& c, const std::string& region) {
    v1::FullSyncRequest r;
    r.set_region(region);
    v1::FullSyncReply reply;
    return c.Run(
        [&](grpc::ClientContext* ctx) { return c.admin().FullSync(ctx, r, &reply); },
        [&] {
          json peers = json::array();
          char line[256];
          snprintf(line, sizeof(line), "%llu keys compared, %llu repaired, %llu bytes, %.3f s",
                   static_cast<unsigned long long>(reply.keys_compared()),
                   static_cast<unsigned long long>(reply.keys_repaired()),
                   static_cast<unsigned long long>(reply.bytes()), reply.seconds());
          std::string text = line;
          for (const v1::PeerSync& p : reply.peers()) {
            peers.push_back({{"peer", p.peer()},
                             {"region", p.region()},
                             {"result", p.result()},
                             {"error", p.error()},
                             {"keys_compared", p.keys_compared()},
                             {"keys_repaired", p.keys_repaired()},
                             {"bytes", p.bytes()},
                             {"seconds", p.seconds()}});
            snprintf(line, sizeof(line), "\n  %-12s %-10s %-11s %llu compared, %llu repaired",
                     p.peer().c_str(), p.region().c_str(), p.result().c_str(),
                     static_cast<unsigned long long>(p.keys_compared()),
                     static_cast<unsigned long long>(p.keys_repaired()));
            text += line;
            if (!p.error().empty()) text += " (" + p.error() + ")";
          }
          Print(c.options(),
                {{"peers", peers},
                 {"keys_compared", reply.keys_compared()},
                 {"keys_repaired", reply.keys_repaired()},
                 {"bytes", reply.bytes()},
                 {"seconds", reply.seconds()}},
                text);
        });
  };
  admin->add_subcommand("full-sync", "anti-entropy with every peer now")->callback([&] {
    if (o.timeout_ms == 5000) o.timeout_ms = 600000;
    action = [&](Client& c) { return sync(c, ""); };
  });
  auto* sync_region =
      admin->add_subcommand("sync-region", "anti-entropy with the nodes of one region now");
  sync_region->add_option("region", a, "the region")->required();
  sync_region->callback([&] {
    if (o.timeout_ms == 5000) o.timeout_ms = 600000;
    action = [&](Client& c) { return sync(c, a); };
  });
  auto* conflicts_cmd = admin->add_subcommand("conflicts", "recently resolved conflicts");
  conflicts_cmd->add_option("--limit", limit, "at most this many (default 100)");
  conflicts_cmd->callback([&] {
    action = [&](Client& c) {
      v1::ConflictsRequest request;
      request.set_limit(limit);
      v1::ConflictsReply reply;
      return c.Run(
          [&](grpc::ClientContext* ctx) { return c.admin().GetConflicts(ctx, request, &reply); },
          [&] {
            json out = json::array();
            std::string text;
            for (const v1::ConflictRecord& r : reply.conflicts()) {
              out.push_back({{"key", r.name()},
                             {"type", TypeName(r.type())},
                             {"kind", r.kind()},
                             {"winner", r.winner()},
                             {"losers", Strings(r.losers())},
                             {"regions", Strings(r.regions())},
                             {"from_node", r.from_node()},
                             {"time_ms", r.time_ms()}});
              text += (text.empty() ? "" : "\n") + r.name() + " (" + TypeName(r.type()) + ") " +
                      r.kind() + ": winner '" + r.winner() + "', losers " + Join(r.losers(), ", ") +
                      " [" + Join(r.regions(), ", ") + "]";
            }
            Print(c.options(), {{"conflicts", out}}, text.empty() ? "(no conflicts)" : text);
          });
    };
  });

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  if (o.password.empty()) {
    if (const char* env = std::getenv("GEODS_PASSWORD")) o.password = env;
  }
  Client client(o);
  return action ? action(client) : 2;
}
