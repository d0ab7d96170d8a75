// geoctl's data commands: counter, set, register, graph and keys — arguments into a
// CRDTService request, and its answer printed (an object as reply::ObjectReply renders it).
#include <utility>

#include "cli/geoctl_client.h"

namespace geodatastore::cli {

namespace {

using json = nlohmann::json;
using Stub = v1::CRDTService::Stub;

// Sets the request's type from a type name; false (bad usage) for an unknown name.
template <typename Request>
bool SetType(const std::string& name, Request* r) {
  v1::CrdtType t;
  if (!ParseType(name, &t)) return false;
  r->set_type(t);
  return true;
}

// `<parent> get NAME`: reads an object.
void AddGet(CLI::App* parent, const std::string& what, ObjectMethod<v1::GetRequest> method,
            Args& args, Action& action) {
  auto* get = parent->add_subcommand("get", "read a " + what);
  get->add_option("name", args.name)->required();
  OnObject<v1::GetRequest>(get, action, method, [&args](v1::GetRequest* r) {
    r->set_name(args.name);
    return true;
  });
}

void AddCounterCommands(CLI::App& app, Args& args, Action& action) {
  auto* counter =
      app.add_subcommand("counter", "counters: create, inc, dec, get")->require_subcommand(1);
  auto* create = counter->add_subcommand("create", "create a counter");
  create->add_option("name", args.name)->required();
  create->add_option("--type", args.counter_type, "pn_counter or g_counter")->capture_default_str();
  create->add_option("--initial", args.initial, "initial value");
  OnObject<v1::CreateRequest>(create, action, &Stub::CreateObject, [&args](v1::CreateRequest* r) {
    r->set_name(args.name);
    r->set_initial_value(args.initial);
    return SetType(args.counter_type, r);
  });
  for (auto [cmd, method] :
       {std::pair{"inc", &Stub::IncrementCounter}, std::pair{"dec", &Stub::DecrementCounter}}) {
    auto* sub = counter->add_subcommand(
        cmd, std::string(cmd) == "inc" ? "increment (creates a pn_counter)" : "decrement");
    sub->add_option("name", args.name)->required();
    sub->add_option("amount", args.amount, "default 1")->check(CLI::NonNegativeNumber);
    OnObject<v1::CounterUpdate>(sub, action, method, [&args](v1::CounterUpdate* r) {
      r->set_name(args.name);
      r->set_amount(static_cast<uint64_t>(args.amount));
      return true;
    });
  }
  AddGet(counter, "counter", &Stub::GetCounter, args, action);
}

void AddSetCommands(CLI::App& app, Args& args, Action& action) {
  auto* set = app.add_subcommand("set", "sets: create, add, remove, get")->require_subcommand(1);
  auto* create = set->add_subcommand("create", "create a set");
  create->add_option("name", args.name)->required();
  create->add_option("--type", args.type_name, "or_set, g_set, 2p_set or lww_set")->required();
  create->add_option("--bias", args.bias, "lww_set only: remove_wins (default) or add_wins");
  OnObject<v1::CreateRequest>(create, action, &Stub::CreateObject, [&args](v1::CreateRequest* r) {
    r->set_name(args.name);
    if (args.bias == "add_wins") r->set_bias(v1::ADD_WINS);
    return SetType(args.type_name, r);
  });
  for (auto [cmd, method] :
       {std::pair{"add", &Stub::AddToSet}, std::pair{"remove", &Stub::RemoveFromSet}}) {
    auto* sub = set->add_subcommand(
        cmd, std::string(cmd) == "add" ? "add elements (creates an or_set)" : "remove elements");
    sub->add_option("name", args.name)->required();
    sub->add_option("elements", args.items)->required();
    OnObject<v1::SetUpdate>(sub, action, method, [&args](v1::SetUpdate* r) {
      r->set_name(args.name);
      for (const std::string& e : args.items) r->add_elements(e);
      return true;
    });
  }
  AddGet(set, "set", &Stub::GetSet, args, action);
}

void AddRegisterCommands(CLI::App& app, Args& args, Action& action) {
  auto* reg = app.add_subcommand("register", "registers: set, get")->require_subcommand(1);
  auto* write = reg->add_subcommand("set", "write a register (creates it)");
  write->add_option("name", args.name)->required();
  write->add_option("value", args.a)->required();
  write->add_option("--type", args.type_name,
                    "lww_register (default for a new one) or mv_register");
  write->add_option("--timestamp", args.timestamp,
                    "LWW timestamp in ms (default: the node's clock)");
  OnObject<v1::RegisterWrite>(write, action, &Stub::SetRegister, [&args](v1::RegisterWrite* r) {
    r->set_name(args.name);
    r->set_value(args.a);
    r->set_timestamp(args.timestamp);
    return args.type_name.empty() || SetType(args.type_name, r);
  });
  AddGet(reg, "register", &Stub::GetRegister, args, action);
}

void AddVertexAndEdgeCommands(CLI::App* graph, Args& args, Action& action) {
  for (auto [cmd, method] : {std::pair{"add-vertex", &Stub::AddVertex},
                             std::pair{"remove-vertex", &Stub::RemoveVertex}}) {
    auto* sub = graph->add_subcommand(cmd, cmd);
    sub->add_option("name", args.name)->required();
    sub->add_option("vertex", args.a)->required();
    OnObject<v1::VertexRequest>(sub, action, method, [&args](v1::VertexRequest* r) {
      r->set_name(args.name);
      r->set_vertex(args.a);
      return true;
    });
  }
  for (auto [cmd, method] :
       {std::pair{"add-edge", &Stub::AddEdge}, std::pair{"remove-edge", &Stub::RemoveEdge}}) {
    auto* sub = graph->add_subcommand(cmd, cmd);
    sub->add_option("name", args.name)->required();
    sub->add_option("from", args.a)->required();
    sub->add_option("to", args.b)->required();
    OnObject<v1::EdgeRequest>(sub, action, method, [&args](v1::EdgeRequest* r) {
      r->set_name(args.name);
      r->set_from(args.a);
      r->set_to(args.b);
      return true;
    });
  }
}

int Neighbors(Client& c, const Args& args) {
  v1::VertexRequest r;
  r.set_name(args.name);
  r.set_vertex(args.a);
  v1::NeighborsReply reply;
  return c.Run([&](grpc::ClientContext* ctx) { return c.crdt().GetNeighbors(ctx, r, &reply); },
               [&] {
                 Print(c.options(), {{"neighbors", Strings(reply.neighbors())}},
                       Joined(reply.neighbors(), "\n"));
               });
}

int Paths(Client& c, const Args& args) {
  v1::PathsRequest r;
  r.set_name(args.name);
  r.set_from(args.a);
  r.set_to(args.b);
  r.set_max_paths(args.max_paths);
  v1::PathsReply reply;
  return c.Run([&](grpc::ClientContext* ctx) { return c.crdt().GetPaths(ctx, r, &reply); },
               [&] {
                 json paths = json::array();
                 std::string text;
                 for (const v1::Path& p : reply.paths()) {
                   paths.push_back(Strings(p.vertices()));
                   text += (text.empty() ? "" : "\n") + Joined(p.vertices(), " -> ");
                 }
                 Print(c.options(), {{"paths", paths}}, text.empty() ? "(no path)" : text);
               });
}

void AddGraphCommands(CLI::App& app, Args& args, Action& action) {
  auto* graph = app.add_subcommand("graph", "graphs: vertices, edges, get, neighbors, paths")
                    ->require_subcommand(1);
  AddVertexAndEdgeCommands(graph, args, action);
  AddGet(graph, "graph", &Stub::GetGraph, args, action);
  auto* neighbors = graph->add_subcommand("neighbors", "targets of a vertex's edges");
  neighbors->add_option("name", args.name)->required();
  neighbors->add_option("vertex", args.a)->required();
  neighbors->callback([&] { action = [&](Client& c) { return Neighbors(c, args); }; });
  auto* paths = graph->add_subcommand("paths", "every simple path between two vertices");
  paths->add_option("name", args.name)->required();
  paths->add_option("from", args.a)->required();
  paths->add_option("to", args.b)->required();
  paths->add_option("--max", args.max_paths,
                    "at most this many paths (default: all, within the node's budget)");
  paths->callback([&] { action = [&](Client& c) { return Paths(c, args); }; });
}

int Keys(Client& c, const Args& args) {
  v1::ListKeysRequest r;
  if (!args.type_name.empty() && !SetType(args.type_name, &r)) return 2;
  r.set_prefix(args.a);
  r.set_limit(args.limit);
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
}

}  // namespace

void AddDataCommands(CLI::App& app, Args& args, Action& action) {
  AddCounterCommands(app, args, action);
  AddSetCommands(app, args, action);
  AddRegisterCommands(app, args, action);
  AddGraphCommands(app, args, action);
  auto* keys = app.add_subcommand("keys", "list objects");
  keys->add_option("--type", args.type_name, "only this type");
  keys->add_option("--prefix", args.a, "only names starting with this");
  keys->add_option("--limit", args.limit, "at most this many (default 1000)");
  keys->callback([&] { action = [&](Client& c) { return Keys(c, args); }; });
}

}  // namespace geodatastore::cli
