#pragma once

#include <chrono>
#include <string>

#include "adapters/supabase/supabase_codec.hpp"
#include "tests/standins/standin_process.hpp"

namespace quel::test {

/// Settings that reach `server` (a supabase_standin.py started with
/// `--key key --buckets images`) with `key`, bucket "images", 10 s timeout.
inline supabase_settings standin_supabase_settings(standin_process& server,
                                                   const std::string& key) {
  supabase_settings s;
  s.url = server.base_url() + "/";
  s.key = key;
  s.bucket = "images";
  s.timeout = std::chrono::seconds(10);
  return s;
}

} // namespace quel::test
