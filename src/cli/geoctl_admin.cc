// geoctl's admin commands: status, checkpoint, lag, full-sync, sync-region and conflicts.
// The reports come from AdminService as the node built them (server/reports.h); --json
// prints them as REST answers them (reply/report_json.h), the text is a summary.
#include <cstdio>

#include "cli/geoctl_client.h"
#include "crdt/clock.h"
#include "reply/report_json.h"

namespace geodatastore::cli {

namespace {

using json = nlohmann::json;
using unsigned_long_long = unsigned long long;

std::string StatusText(const v1::StatusReply& s) {
  std::string text = "node " + s.node_id() + " (region " + s.region() + ", replica " +
                     crdt::ReplicaIdHex(s.replica_id()) + ", epoch " +
                     std::to_string(s.replica_epoch()) + ")\n  up " +
                     std::to_string(static_cast<int64_t>(s.uptime_seconds())) +
                     " s, peers: " + std::to_string(s.peers_size()) + "\n  keys:";
  for (const v1::TypeCount& k : s.keys()) {
    if (k.keys() > 0) text += " " + TypeName(k.type()) + "=" + std::to_string(k.keys());
  }
  for (const v1::PeerStatus& p : s.peers()) {
    text += "\n  peer " + p.id() + " (" + p.region() + "): " + p.state();
    if (!p.via().empty()) text += " via " + p.via();
  }
  return text;
}

std::string LagText(const v1::LagReply& lag) {
  std::string text = "committed seq " + std::to_string(lag.committed_seq());
  for (const v1::PeerLag& p : lag.peers()) {
    char line[256];
    snprintf(line, sizeof(line), "\n  %-12s %-10s %-8s acked %llu, %llu ops / %.3f s behind",
             p.peer().c_str(), p.region().c_str(), p.state().c_str(),
             unsigned_long_long{p.acked_seq()}, unsigned_long_long{p.ops_behind()},
             p.seconds_behind());
    text += line;
  }
  return text;
}

std::string FullSyncText(const v1::FullSyncReply& sync) {
  char line[256];
  snprintf(line, sizeof(line), "%llu keys compared, %llu repaired, %llu bytes, %.3f s",
           unsigned_long_long{sync.keys_compared()}, unsigned_long_long{sync.keys_repaired()},
           unsigned_long_long{sync.bytes()}, sync.seconds());
  std::string text = line;
  for (const v1::PeerSync& p : sync.peers()) {
    snprintf(line, sizeof(line), "\n  %-12s %-10s %-11s %llu compared, %llu repaired",
             p.peer().c_str(), p.region().c_str(), p.result().c_str(),
             unsigned_long_long{p.keys_compared()}, unsigned_long_long{p.keys_repaired()});
    text += line;
    if (!p.error().empty()) text += " (" + p.error() + ")";
  }
  return text;
}

// Anti-entropy now, with every peer or those of one region.
int FullSync(Client& c, const std::string& region) {
  v1::FullSyncRequest r;
  r.set_region(region);
  v1::FullSyncReply reply;
  return c.Run([&](grpc::ClientContext* ctx) { return c.admin().FullSync(ctx, r, &reply); },
               [&] { Print(c.options(), reply::FullSyncJson(reply), FullSyncText(reply)); });
}

int Conflicts(Client& c, const Args& args) {
  v1::ConflictsRequest request;
  request.set_limit(args.limit);
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
                  r.kind() + ": winner '" + r.winner() + "', losers " + Joined(r.losers(), ", ") +
                  " [" + Joined(r.regions(), ", ") + "]";
        }
        Print(c.options(), {{"conflicts", out}}, text.empty() ? "(no conflicts)" : text);
      });
}

// `admin NAME`: one AdminService call whose report is printed as REST renders it (--json) or
// as text.
template <typename Request, typename Reply>
void AddReport(CLI::App* admin, const char* name, const char* help,
               grpc::Status (v1::AdminService::Stub::*method)(grpc::ClientContext*, const Request&,
                                                              Reply*),
               json (*as_json)(const Reply&), std::string (*as_text)(const Reply&),
               Action& action) {
  admin->add_subcommand(name, help)->callback([&action, method, as_json, as_text] {
    action = [method, as_json, as_text](Client& c) {
      Reply reply;
      return c.Run(
          [&](grpc::ClientContext* ctx) { return (c.admin().*method)(ctx, Request(), &reply); },
          [&] { Print(c.options(), as_json(reply), as_text(reply)); });
    };
  });
}

// Sessions can take minutes: the deadline is --timeout-ms, or 10 minutes if that was left at
// its default.
void AddSyncCommands(CLI::App* admin, Options& o, Args& args, Action& action) {
  admin->add_subcommand("full-sync", "anti-entropy with every peer now")->callback([&] {
    if (o.timeout_ms == 5000) o.timeout_ms = 600000;
    action = [](Client& c) { return FullSync(c, ""); };
  });
  auto* region =
      admin->add_subcommand("sync-region", "anti-entropy with the nodes of one region now");
  region->add_option("region", args.a, "the region")->required();
  region->callback([&] {
    if (o.timeout_ms == 5000) o.timeout_ms = 600000;
    action = [&args](Client& c) { return FullSync(c, args.a); };
  });
}

}  // namespace

void AddAdminCommands(CLI::App& app, Options& options, Args& args, Action& action) {
  auto* admin = app.add_subcommand("admin", "admin: status, checkpoint, lag, full-sync, conflicts")
                    ->require_subcommand(1);
  AddReport(admin, "status", "node status", &v1::AdminService::Stub::GetStatus, &reply::StatusJson,
            &StatusText, action);
  AddReport(admin, "lag", "replication lag per peer", &v1::AdminService::Stub::GetReplicationLag,
            &reply::LagJson, &LagText, action);
  auto* checkpoint = admin->add_subcommand(
      "checkpoint", "consistent RocksDB checkpoint into DIR (on the node's machine)");
  checkpoint->add_option("dir", args.a)->required();
  checkpoint->callback([&] {
    action = [&args](Client& c) {
      v1::CheckpointRequest r;
      r.set_dir(args.a);
      v1::CheckpointReply reply;
      return c.Run(
          [&](grpc::ClientContext* ctx) { return c.admin().Checkpoint(ctx, r, &reply); },
          [&] {
            Print(c.options(), {{"dir", reply.dir()}}, "checkpoint written to " + reply.dir());
          });
    };
  });
  AddSyncCommands(admin, options, args, action);
  auto* conflicts = admin->add_subcommand("conflicts", "recently resolved conflicts");
  conflicts->add_option("--limit", args.limit, "at most this many (default 100)");
  conflicts->callback([&] { action = [&args](Client& c) { return Conflicts(c, args); }; });
}

}  // namespace geodatastore::cli
