#pragma once

#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

#include "adapters/http/http_engine.hpp"

namespace quel::test {

/// Runs one request to completion on `engine` from the calling thread.
inline http_response run_sync(http_engine& engine, http_request request) {
  std::optional<http_response> out;
  engine.submit(std::move(request), [&](http_response&& r) { out = std::move(r); });
  auto give_up = std::chrono::steady_clock::now() + std::chrono::minutes(2);
  while (!out) {
    if (std::chrono::steady_clock::now() > give_up)
      throw std::runtime_error("request did not finish within 2 minutes");
    engine.run_once(std::chrono::milliseconds(100));
  }
  return std::move(*out);
}

/// GET or POST of a stand-in's control endpoint, parsed as JSON.
inline nlohmann::json standin_call(http_engine& engine, const std::string& url,
                                   const std::string& post_body = {}) {
  http_request r;
  r.url = url;
  if (!post_body.empty()) {
    r.method = "POST";
    r.body = blob(post_body);
    r.headers = {{"Content-Type", "application/json"}};
  }
  auto resp = run_sync(engine, std::move(r));
  if (resp.status != 200)
    throw std::runtime_error("stand-in call " + url + " failed: " + resp.error);
  return nlohmann::json::parse(resp.body);
}

} // namespace quel::test
