// Runs the real redis-cli (Debian's redis-tools) from tests.
#pragma once

#include <cstdio>
#include <string>
#include <vector>

namespace geodatastore::testing {

// Runs redis-cli against port with args; its output (--no-raw: typed, as a terminal shows
// it), without the trailing newline.
inline std::string RedisCli(uint16_t port, const std::vector<std::string>& args) {
  std::string command = "redis-cli -p " + std::to_string(port) + " --no-raw";
  for (const std::string& a : args) {
    command += " '";
    for (char c : a) command += c == '\'' ? std::string("'\\''") : std::string(1, c);
    command += "'";
  }
  command += " 2>&1";
  FILE* p = popen(command.c_str(), "r");
  if (p == nullptr) return "popen failed";
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  pclose(p);
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

}  // namespace geodatastore::testing
