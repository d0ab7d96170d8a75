// A real geods process for integration tests: its own temporary data directory and
// config, listeners on port 0 (the node reports the ports it bound), stopped with SIGTERM
// or killed with SIGKILL, and restartable on the same data.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

#include "support/temp_dir.h"

namespace geodatastore::testing {

class GeodsProcess {
 public:
  struct Options {
    std::string node_id = "us-east-1";
    std::string region = "us-east";
    std::string extra_yaml;  // appended to the generated config
    std::string data_dir;    // default: a fresh directory
    uint16_t grpc_port = 0;  // default: any free port
    // The node-to-node listener (listen.peer); 0: none (peers use the gRPC listener).
    uint16_t peer_port = 0;
  };

  explicit GeodsProcess(Options options);
  GeodsProcess() : GeodsProcess(Options{}) {}
  ~GeodsProcess();

  // Starts geods and waits (polling, with a deadline) until it reports its ports.
  // Returns false, with the log in error(), if it exits or the deadline passes.
  bool Start(std::chrono::seconds deadline = std::chrono::seconds(30));
  // Environment variables (NAME=value) the next Start adds to this process's, e.g.
  // ClockSkew's.
  void set_env(std::vector<std::string> env) { env_ = std::move(env); }
  // SIGTERM and wait; returns the exit code (or -signal).
  int Stop();
  void Kill9();
  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }

  uint16_t http_port() const { return http_port_; }
  uint16_t grpc_port() const { return grpc_port_; }
  uint16_t resp_port() const { return resp_port_; }
  uint16_t peer_port() const { return peer_port_; }
  std::string grpc_address() const { return "127.0.0.1:" + std::to_string(grpc_port_); }
  const std::string& data_dir() const { return data_dir_; }
  const std::string& config_path() const { return config_path_; }
  std::string Log() const;
  const std::string& error() const { return error_; }

 private:
  int Wait();

  TempDir dir_;
  std::vector<std::string> env_;
  std::string data_dir_, config_path_, ports_path_, log_path_;
  pid_t pid_ = -1;
  uint16_t http_port_ = 0;
  uint16_t grpc_port_ = 0;
  uint16_t resp_port_ = 0;
  uint16_t peer_port_ = 0;
  std::string error_;
};

// The environment that runs geods with its wall clock offset by seconds (Debian's
// libfaketime; the monotonic clock is left alone).
std::vector<std::string> ClockSkew(int seconds);

// A currently free loopback port below the ephemeral range (bound, then released: a process
// binding that very port may take it first, which is unlikely; listeners on port 0 cannot).
// For configs that must name a peer's port up front.
uint16_t FreePort();

// Runs a shell command; returns its exit code and captures stdout+stderr.
int RunCommand(const std::string& command, std::string* output);

}  // namespace geodatastore::testing
