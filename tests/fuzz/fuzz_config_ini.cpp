// libFuzzer target: configuration text, as the worker's INI reader and the
// modules file parser (module_catalog::from_ini) see it. A refusal is
// std::invalid_argument naming the line.
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "common/ini_file.hpp"
#include "domain/module_catalog.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  try {
    auto ini = quel::ini_file::parse(text);
    for (const auto& [key, value] : ini.entries()) {
      if (ini.get(key) != value || ini.line_of(key) == 0)
        __builtin_trap();
    }
    for (const auto& section : ini.sections())
      (void)ini.section_line(section);
  } catch (const std::invalid_argument&) {
  }
  try {
    auto catalog = quel::module_catalog::from_ini(text);
    for (const auto& module : catalog.all())
      (void)catalog.find(module.name);
  } catch (const std::invalid_argument&) {
  }
  return 0;
}
