// REST requests (src/server/rest_request.h): the first frame of the input (fuzz/frames.h) is
// the request target (path and query), the second the body. The target is parsed as RestApi
// dispatches it (query, path segments, percent-decoding, the consistency level), the body as
// a route reads it: each field reader of every object route.
#include <string_view>

#include "engine/session.h"
#include "frames.h"
#include "fuzz_node.h"
#include "server/rest_request.h"

using namespace geodatastore;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<std::string> frames =
      fuzz::SplitFrames(std::string_view(reinterpret_cast<const char*>(data), size));
  frames.resize(2);
  const std::string_view target = frames[0];

  const size_t q = target.find('?');
  std::map<std::string, std::string> query;
  if (q != std::string_view::npos && server::ParseQuery(target.substr(q + 1), &query)) {
    if (auto level = query.find("consistency"); level != query.end())
      (void)engine::ParseConsistency(level->second);
    if (auto token = query.find("token"); token != query.end())
      (void)engine::ParseSessionToken(token->second);
  }
  for (const std::string& segment : server::SplitPath(target.substr(0, q))) {
    FUZZ_CHECK(!segment.empty() && segment.find('/') == std::string::npos);
    bool ok = true;
    const std::string decoded = server::PercentDecode(segment, &ok, false);
    FUZZ_CHECK(decoded.size() <= segment.size());
  }

  StatusOr<server::RequestBody> body = server::RequestBody::Parse(frames[1]);
  if (!body.ok()) return 0;
  FUZZ_CHECK(body->value().is_object());
  std::optional<v1::CrdtType> type;
  for (v1::Family family : {v1::COUNTERS, v1::SETS, v1::REGISTERS, v1::GRAPHS}) {
    (void)body->Type(&type, family, true);
    (void)body->Type(&type, family, false);
  }
  int64_t n = 0;
  for (const char* field : {"initial_value", "value", "timestamp"}) {
    (void)body->Int(field, &n, true, true);
    (void)body->Int(field, &n, false, false);
  }
  std::string s;
  for (const char* field : {"bias", "value", "vertex", "from", "to", "element"})
    (void)body->String(field, &s, true);
  std::vector<std::string> elements;
  (void)body->Elements(&elements);
  return 0;
}
