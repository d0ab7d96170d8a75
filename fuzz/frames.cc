#include "frames.h"

namespace geodatastore::fuzz {

std::vector<std::string> SplitFrames(std::string_view data) {
  std::vector<std::string> out(1);
  for (size_t i = 0; i < data.size(); ++i) {
    if (data[i] == '\\' && i + 1 < data.size()) {
      ++i;
      if (data[i] != '\\') {
        out.emplace_back();
        continue;
      }
    }
    out.back().push_back(data[i]);
  }
  if (out.back().empty() && out.size() > 1) out.pop_back();
  return out;
}

std::string JoinFrames(const std::vector<std::string>& frames) {
  std::string out;
  for (const std::string& frame : frames) {
    for (char c : frame) {
      out.push_back(c);
      if (c == '\\') out.push_back('\\');
    }
    out += "\\|";
  }
  return out;
}

}  // namespace geodatastore::fuzz
