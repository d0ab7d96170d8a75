#include "server/resp.h"

#include <algorithm>
#include <charconv>

namespace geodatastore::server::resp {

namespace {

Status ProtocolError(const std::string& what) { return InvalidArgument("Protocol error: " + what); }

// Reads "<integer>\r\n" at data[*pos]; false if the line is not complete yet.
StatusOr<bool> ReadNumber(std::string_view data, size_t* pos, int64_t* n) {
  const size_t end = data.find("\r\n", *pos);
  if (end == std::string_view::npos) {
    if (data.size() - *pos > 32) return ProtocolError("bad length line");
    return false;
  }
  const char* first = data.data() + *pos;
  const char* last = data.data() + end;
  auto [ptr, ec] = std::from_chars(first, last, *n);
  if (ec != std::errc() || ptr != last) return ProtocolError("invalid length");
  *pos = end + 2;
  return true;
}

// Splits an inline command line into words (no quoting beyond plain spaces).
Command SplitInline(std::string_view line) {
  Command words;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    const size_t start = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t') ++i;
    if (i > start) words.emplace_back(line.substr(start, i - start));
  }
  return words;
}

}  // namespace

StatusOr<size_t> Parse(std::string_view data, std::vector<Command>* out,
                       const ParserLimits& limits) {
  size_t done = 0;
  while (done < data.size()) {
    size_t pos = done;
    if (data[pos] != '*') {
      // Inline command: one line of words.
      const size_t end = data.find('\n', pos);
      if (end == std::string_view::npos) {
        if (data.size() - pos > limits.max_inline_bytes)
          return ProtocolError("too big inline request");
        return done;
      }
      std::string_view line = data.substr(pos, end - pos);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      Command words = SplitInline(line);
      if (!words.empty()) out->push_back(std::move(words));
      done = end + 1;
      continue;
    }
    ++pos;
    int64_t count = 0;
    GDS_ASSIGN_OR_RETURN(bool complete, ReadNumber(data, &pos, &count));
    if (!complete) return done;
    if (count < 0 || static_cast<uint64_t>(count) > limits.max_arguments)
      return ProtocolError("invalid multibulk length");
    Command command;
    // Room for no more arguments than the bytes at hand can hold (each takes at least
    // "$0\r\n\r\n"): a header alone must not make every read of an incomplete command
    // allocate count strings.
    command.reserve(std::min<uint64_t>(count, (data.size() - pos) / 6));
    bool whole = true;
    for (int64_t i = 0; i < count; ++i) {
      if (pos >= data.size()) {
        whole = false;
        break;
      }
      if (data[pos] != '$') {
        return ProtocolError("expected '$', got '" + std::string(1, data[pos]) + "'");
      }
      ++pos;
      int64_t len = 0;
      GDS_ASSIGN_OR_RETURN(bool have_len, ReadNumber(data, &pos, &len));
      if (!have_len) {
        whole = false;
        break;
      }
      if (len < 0 || static_cast<uint64_t>(len) > limits.max_bulk_bytes)
        return ProtocolError("invalid bulk length");
      if (data.size() - pos < static_cast<size_t>(len) + 2) {
        whole = false;
        break;
      }
      if (data[pos + len] != '\r' || data[pos + len + 1] != '\n')
        return ProtocolError("bulk string not terminated by CRLF");
      command.emplace_back(data.substr(pos, len));
      pos += len + 2;
    }
    if (!whole) return done;
    if (!command.empty()) out->push_back(std::move(command));
    done = pos;
  }
  return done;
}

void AppendSimple(std::string* out, std::string_view s) {
  out->push_back('+');
  out->append(s);
  out->append("\r\n");
}

void AppendError(std::string* out, std::string_view s) {
  out->push_back('-');
  for (char c : s) out->push_back(c == '\r' || c == '\n' ? ' ' : c);
  out->append("\r\n");
}

void AppendInteger(std::string* out, int64_t n) {
  out->push_back(':');
  out->append(std::to_string(n));
  out->append("\r\n");
}

void AppendBulk(std::string* out, std::string_view s) {
  out->push_back('$');
  out->append(std::to_string(s.size()));
  out->append("\r\n");
  out->append(s);
  out->append("\r\n");
}

void AppendNull(std::string* out) { out->append("$-1\r\n"); }

void AppendArray(std::string* out, size_t n) {
  out->push_back('*');
  out->append(std::to_string(n));
  out->append("\r\n");
}

void WrongArity(const Command& cmd, std::string* out) {
  AppendError(out, "ERR wrong number of arguments for '" + Lower(cmd[0]) + "' command");
}

std::string Upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace geodatastore::server::resp
