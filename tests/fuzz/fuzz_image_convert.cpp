// libFuzzer target: image bytes a model may send, converted to each output
// format as the worker does before storing them. A refusal is a
// generation_error; anything else (a crash, a leak, UB, a hang, runaway
// memory) is a finding.
#include <cstddef>
#include <cstdint>
#include <string>

#include "adapters/gemini/image_convert.hpp"
#include "adapters/generator/image_generator.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  quel::blob image(std::string(reinterpret_cast<const char*>(data), size));
  for (auto format : {quel::output_format::png, quel::output_format::jpeg,
                      quel::output_format::webp}) {
    try {
      (void)quel::convert_image(image, format);
    } catch (const quel::generation_error&) {
    }
  }
  return 0;
}
