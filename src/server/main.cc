// geods: the geodatastore node. Usage: geods --config FILE
//                                      geods hash-password < password   (for users files)
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>

#include "security/auth.h"
#include "server/node.h"

namespace {

// Reads a password from standard input (one line) and prints its argon2id hash.
int HashPassword() {
  std::string password;
  std::getline(std::cin, password);
  if (password.empty()) {
    fprintf(stderr, "geods hash-password: no password on standard input\n");
    return 2;
  }
  auto hash = geodatastore::security::HashPassword(password);
  if (!hash.ok()) {
    fprintf(stderr, "geods hash-password: %s\n", hash.status().message().c_str());
    return 1;
  }
  printf("%s\n", hash->c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"geods: a geodatastore node"};
  std::string config_path;
  std::string ports_file;
  CLI::App* hash = app.add_subcommand("hash-password",
                                      "print the argon2id hash of the password on standard input");
  app.add_option("--config", config_path, "YAML config file (see config/examples/)");
  app.add_option("--ports-file", ports_file,
                 "once listening, write the bound ports here as JSON (for port 0 in the config)");
  CLI11_PARSE(app, argc, argv);
  if (hash->parsed()) return HashPassword();
  if (config_path.empty()) {
    fprintf(stderr, "geods: --config is required\n");
    return 2;
  }

  auto config = geodatastore::config::LoadConfig(config_path);
  if (!config.ok()) {
    fprintf(stderr, "geods: %s\n", config.status().message().c_str());
    return 2;
  }
  geodatastore::server::Node node(std::move(config).value());
  if (auto started = node.Start(); !started.ok()) {
    fprintf(stderr, "geods: %s\n", started.ToString().c_str());
    return 1;
  }
  if (!ports_file.empty()) {
    if (auto written = node.WritePortsFile(ports_file); !written.ok()) {
      fprintf(stderr, "geods: %s\n", written.ToString().c_str());
      return 1;
    }
  }
  node.Run();
  return 0;
}
