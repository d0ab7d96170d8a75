#include "support/geods_process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <sstream>
#include <thread>

extern char** environ;

namespace geodatastore::testing {

GeodsProcess::GeodsProcess(Options options)
    : data_dir_(options.data_dir.empty() ? dir_.Sub("data") : options.data_dir),
      config_path_(dir_.Sub("geods.yaml")),
      ports_path_(dir_.Sub("ports.json")),
      log_path_(dir_.Sub("geods.log")) {
  std::ofstream config(config_path_);
  config << "node: {id: " << options.node_id << ", region: " << options.region
         << ", data_dir: " << data_dir_ << "}\n"
         << "listen: {http: \"127.0.0.1:0\", grpc: \"127.0.0.1:" << options.grpc_port
         << "\", resp: \"127.0.0.1:0\""
         << (options.peer_port ? ", peer: \"127.0.0.1:" + std::to_string(options.peer_port) + "\""
                               : std::string())
         << "}\n"
         << options.extra_yaml << "\n";
}

GeodsProcess::~GeodsProcess() {
  if (pid_ > 0) Kill9();
}

std::vector<std::string> ClockSkew(int seconds) {
  return {"LD_PRELOAD=/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1",
          "FAKETIME=" + std::string(seconds >= 0 ? "+" : "") + std::to_string(seconds) + "s",
          "FAKETIME_DONT_FAKE_MONOTONIC=1", "FAKETIME_NO_CACHE=1"};
}

bool GeodsProcess::Start(std::chrono::seconds deadline) {
  unlink(ports_path_.c_str());
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND,
                                   0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  std::string binary = GDS_GEODS_PATH;
  std::vector<std::string> args = {binary, "--config", config_path_, "--ports-file", ports_path_};
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (char** e = environ; *e != nullptr; ++e) envp.push_back(*e);
  for (std::string& e : env_) envp.push_back(e.data());
  envp.push_back(nullptr);
  const int rc = posix_spawn(&pid_, binary.c_str(), &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    error_ = "posix_spawn failed: " + std::to_string(rc);
    pid_ = -1;
    return false;
  }
  const auto until = std::chrono::steady_clock::now() + deadline;
  while (std::chrono::steady_clock::now() < until) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      error_ = "geods exited during start: " + Log();
      return false;
    }
    std::ifstream ports(ports_path_);
    if (ports) {
      auto json = nlohmann::json::parse(ports, nullptr, false);
      if (!json.is_discarded() && json.contains("http") && json.contains("grpc") &&
          json.contains("resp")) {
        http_port_ = json["http"].get<uint16_t>();
        grpc_port_ = json["grpc"].get<uint16_t>();
        resp_port_ = json["resp"].get<uint16_t>();
        peer_port_ = json.value("peer", uint16_t{0});
        return true;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  error_ = "geods did not report its ports in time: " + Log();
  Kill9();
  return false;
}

int GeodsProcess::Wait() {
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
}

int GeodsProcess::Stop() {
  if (pid_ <= 0) return -1;
  kill(pid_, SIGTERM);
  return Wait();
}

void GeodsProcess::Kill9() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  Wait();
}

std::string GeodsProcess::Log() const {
  std::ifstream in(log_path_);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

uint16_t FreePort() {
  // Below the kernel's ephemeral range (32768-60999 by default), so that listeners started
  // on port 0 meanwhile (each geods binds its HTTP and RESP ports that way) cannot take it.
  static std::mt19937 rng(
      static_cast<uint32_t>(getpid()) ^
      static_cast<uint32_t>(std::chrono::steady_clock::now().time_since_epoch().count()));
  static std::set<uint16_t> handed_out;  // never the same port twice in one test binary
  for (int attempt = 0; attempt < 1000; ++attempt) {
    const uint16_t port = std::uniform_int_distribution<uint16_t>(20000, 32767)(rng);
    if (!handed_out.insert(port).second) continue;
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(port);
    const bool free = bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
    close(fd);
    if (free) return port;
  }
  return 0;
}

int RunCommand(const std::string& command, std::string* output) {
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return -1;
  std::array<char, 4096> buf;
  output->clear();
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), pipe)) > 0) output->append(buf.data(), n);
  const int status = pclose(pipe);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace geodatastore::testing
