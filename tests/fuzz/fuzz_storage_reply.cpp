// libFuzzer target: a Supabase Storage error body from the network,
// classified for each call and kind of status; and the same bytes as an
// object key for the request builders' key and URL checks.
#include <cstddef>
#include <cstdint>
#include <string>

#include "adapters/supabase/supabase_codec.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  quel::http_response response;
  response.body = text;
  for (auto call : {quel::storage_call::download, quel::storage_call::exists,
                    quel::storage_call::upload}) {
    for (int status : {200, 400, 404, 409, 429, 500, 544}) {
      response.status = status;
      auto outcome = quel::classify_storage_response(response, call, "org/1/a.png");
      if (!outcome.ok() && !outcome.failure)
        __builtin_trap();
    }
  }

  quel::supabase_settings settings;
  settings.url = "https://project.supabase.co";
  settings.key = "sb_secret_fuzz";
  (void)quel::encode_object_path(text);
  if (!quel::storage_request_problem(settings, text)) {
    // A key that may go must build a URL under the configured base.
    auto request = quel::make_download_request(settings, text, 1024);
    auto base = quel::storage_base_url(settings.url);
    if (request.url.compare(0, base.size(), base) != 0)
      __builtin_trap();
  }
  return 0;
}
