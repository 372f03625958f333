// libFuzzer target: a Redis URL as an operator may paste it. A refusal is
// std::invalid_argument whose text never carries the password.
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "adapters/redis/redis_queue.hpp"
#include "common/secret_text.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string url(reinterpret_cast<const char*>(data), size);
  try {
    auto ep = quel::redis_endpoint::parse(url);
    if (ep.port < 1 || ep.port > 65535 || ep.host.empty())
      __builtin_trap();
  } catch (const std::invalid_argument&) {
  }
  (void)quel::mask_connection_string(url);
  return 0;
}
