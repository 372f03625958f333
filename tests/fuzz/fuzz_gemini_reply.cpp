// libFuzzer target: a generateContent reply body from the network, classified
// as it would be with each kind of HTTP status the model may send.
#include <cstddef>
#include <cstdint>
#include <string>

#include "adapters/gemini/gemini_reply.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  quel::http_response response;
  response.body.assign(reinterpret_cast<const char*>(data), size);
  for (int status : {200, 400, 403, 429, 500, 503}) {
    response.status = status;
    auto outcome = quel::classify_response(response);
    (void)quel::to_string(outcome.kind);
    // The classification and its failure must agree (gemini_reply.hpp).
    if (outcome.ok() == outcome.failure.has_value())
      __builtin_trap();
  }
  return 0;
}
