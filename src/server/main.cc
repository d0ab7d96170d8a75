// geods: the geodatastore node. Usage: geods --config FILE
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <cstdio>

#include "server/node.h"

int main(int argc, char** argv) {
  CLI::App app{"geods: a geodatastore node"};
  std::string config_path;
  std::string ports_file;
  app.add_option("--config", config_path, "YAML config file (see config/examples/)")->required();
  app.add_option("--ports-file", ports_file,
                 "once listening, write the bound ports here as JSON (for port 0 in the config)");
  CLI11_PARSE(app, argc, argv);

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
