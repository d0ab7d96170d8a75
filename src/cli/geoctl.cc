// geoctl: the command-line client and admin tool of geodatastore; talks gRPC to one node.
// The connection and its calls are geoctl_client.h; the commands geoctl_data.cc and
// geoctl_admin.cc.
//
// Exit codes: 0 success, 1 the node refused the request, 2 bad usage, 3 node unreachable.
#include <CLI/CLI.hpp>
#include <cstdlib>

#include "cli/geoctl_client.h"

int main(int argc, char** argv) {
  using namespace geodatastore::cli;
  CLI::App app{"geoctl: client and admin tool for a geodatastore node (gRPC)"};
  app.require_subcommand(1);
  Options o;
  app.add_option("--addr", o.addr, "node gRPC address host:port")->capture_default_str();
  app.add_flag("--json", o.json, "print JSON (objects and reports as the REST API answers them)");
  app.add_option("--timeout-ms", o.timeout_ms, "deadline of the call")->capture_default_str();
  app.add_option("--consistency", o.consistency, "eventual | local_quorum | quorum | all");
  app.add_option("--session", o.session, "a session token from an earlier answer");
  app.add_option("--cacert", o.cacert, "CA file: connect over TLS and verify the node with it");
  app.add_option("--tls-name", o.tls_name,
                 "the name the node's certificate must carry (default: the host of --addr)");
  app.add_option("--user", o.user, "user name (the password from $GEODS_PASSWORD or --password)");
  app.add_option("--password", o.password, "password (prefer $GEODS_PASSWORD)");

  Action action;
  Args args;
  AddDataCommands(app, args, action);
  AddAdminCommands(app, o, args, action);
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
