#include "domain/module_catalog.hpp"

#include <algorithm>
#include <set>
#include <stdexcept>

#include "common/ini_file.hpp"

namespace quel {

namespace {

const std::string section_prefix = "module.";
const std::string category_prefix = "category.";

[[noreturn]] void bad_line(size_t line, const std::string& why) {
  throw std::invalid_argument("line " + std::to_string(line) + ": " + why);
}

int64_t parse_cost(const std::string& text, size_t line) {
  if (text.empty() || text.size() > 15
      || !std::all_of(text.begin(), text.end(),
                      [](char c) { return c >= '0' && c <= '9'; }))
    bad_line(line, "credits_per_image '" + text + "' is not a whole number >= 0");
  return std::stoll(text);
}

// Fashion is the original module and kept the un-suffixed queue name.
std::string default_queue(const std::string& name) {
  return name == "fashion" ? "jobs:queue" : "jobs:queue:" + name;
}

} // namespace

std::string module_config::describe(const std::string& category) const {
  auto i = categories.find(category);
  return i == categories.end() ? category : i->second;
}

module_catalog module_catalog::from_ini(const std::string& text) {
  auto ini = ini_file::parse(text);
  module_catalog result;
  for (auto& entry : ini.entries()) {
    // Not a structured binding: C++17 lambdas cannot capture one (clang,
    // which builds the fuzz targets, refuses it).
    const std::string& key = entry.first;
    bool in_section = std::any_of(
      ini.sections().begin(), ini.sections().end(), [&](const std::string& s) {
        return key.compare(0, s.size() + 1, s + ".") == 0;
      });
    if (!in_section)
      bad_line(ini.line_of(key), "key '" + key + "' is outside a [module.NAME] section");
  }
  for (auto& section : ini.sections()) {
    auto line = ini.section_line(section);
    if (section.compare(0, section_prefix.size(), section_prefix) != 0)
      bad_line(line, "section [" + section + "] is not [module.NAME]");
    module_config m;
    m.name = section.substr(section_prefix.size());
    if (m.name.empty() || m.name.find('.') != std::string::npos)
      bad_line(line, "module name '" + m.name + "' is empty or contains '.'");
    m.queue = default_queue(m.name);
    auto prefix = section + ".";
    for (auto i = ini.entries().lower_bound(prefix);
         i != ini.entries().end() && i->first.compare(0, prefix.size(), prefix) == 0;
         ++i) {
      auto key = i->first.substr(prefix.size());
      auto& value = i->second;
      auto key_line = ini.line_of(i->first);
      if (key == "queue") {
        if (value.empty())
          bad_line(key_line, "queue of module '" + m.name + "' is empty");
        m.queue = value;
      } else if (key == "credits_per_image") {
        m.credits_per_image = parse_cost(value, key_line);
      } else if (key == "preamble") {
        m.preamble = value;
      } else if (key.compare(0, category_prefix.size(), category_prefix) == 0
                 && key.size() > category_prefix.size()) {
        m.categories[key.substr(category_prefix.size())] = value;
      } else {
        bad_line(key_line, "unknown key '" + key + "' in [" + section + "]");
      }
    }
    for (auto& other : result.modules_)
      if (other.queue == m.queue)
        bad_line(line, "modules '" + other.name + "' and '" + m.name
                         + "' share the queue '" + m.queue + "'");
    result.modules_.push_back(std::move(m));
  }
  if (result.modules_.empty())
    throw std::invalid_argument("no [module.NAME] section defines a module");
  return result;
}

const module_config* module_catalog::find(const std::string& name) const {
  for (auto& m : modules_)
    if (m.name == name)
      return &m;
  return nullptr;
}

const module_config* module_catalog::by_queue(const std::string& queue) const {
  for (auto& m : modules_)
    if (m.queue == queue)
      return &m;
  return nullptr;
}

const module_config* module_catalog::for_job(
  const std::optional<std::string>& job_module) const {
  return find(job_module ? *job_module : std::string{"fashion"});
}

void module_catalog::set_cost_for_all(int64_t credits) {
  if (credits < 0)
    throw std::invalid_argument("credits per image " + std::to_string(credits)
                                + " is negative");
  for (auto& m : modules_)
    m.credits_per_image = credits;
}

void module_catalog::keep_only(const std::vector<std::string>& names) {
  std::set<std::string> wanted;
  for (auto& name : names) {
    if (find(name) == nullptr)
      throw std::invalid_argument("module '" + name + "' is not a configured module");
    wanted.insert(name);
  }
  modules_.erase(std::remove_if(modules_.begin(), modules_.end(),
                                [&](const module_config& m) {
                                  return wanted.count(m.name) == 0;
                                }),
                 modules_.end());
}

} // namespace quel
