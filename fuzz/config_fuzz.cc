// The YAML config (config/config.h): any text is a Config or an error, never an exception
// or a crash.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "config/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  (void)geodatastore::config::ParseConfig(
      std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
