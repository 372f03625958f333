// `quel-worker config`: the effective configuration and where each value
// came from, with secrets masked.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include <nlohmann/json.hpp>

#include "app/ops_commands.hpp"
#include "common/log_text.hpp"
#include "common/secret_text.hpp"

namespace quel {

namespace {

/// "default", "file PATH", "environment NAME" or "option --NAME", from the
/// origin worker_config recorded.
std::pair<std::string, std::string> source_of(const std::string& origin) {
  if (origin == "default")
    return {"default", ""};
  if (origin.rfind("--", 0) == 0)
    return {"option", origin};
  if (origin.rfind("QUEL_", 0) == 0)
    return {"environment", origin};
  return {"file", origin};
}

/// Values are shown with every password of a connection string and every
/// registered secret masked; the keys that are secrets only say whether
/// they are set.
std::string masked(const std::string& value) {
  return escape_controls(redact_secrets(mask_connection_string(value)));
}

} // namespace

int config_command(const worker_config& c, const cli_args& args) {
  struct row {
    std::string key, value, source, where;
  };
  std::vector<row> rows;
  for (auto& v : c.sources) {
    auto [source, where] = source_of(v.origin);
    rows.push_back(row{v.key, masked(v.value), source, where});
  }
  // Secrets come only from the environment (docs/SECURITY.md).
  for (auto [key, env] : {std::pair{"storage.supabase_key", "QUEL_SUPABASE_KEY"},
                          std::pair{"generator.gemini_api_key", "QUEL_GEMINI_API_KEY"},
                          std::pair{"http.admin_token", "QUEL_HTTP_ADMIN_TOKEN"},
                          std::pair{"mesh.tls_key_passphrase", "QUEL_MESH_TLS_KEY_PASSPHRASE"}}) {
    bool set = std::getenv(env) != nullptr;
    rows.push_back(row{key, set ? std::string{secret_mask} : "", set ? "environment" : "default",
                       set ? env : ""});
  }
  std::sort(rows.begin(), rows.end(), [](auto& a, auto& b) { return a.key < b.key; });

  if (args.flag("json")) {
    nlohmann::json doc = nlohmann::json::object();
    for (auto& r : rows)
      doc[r.key] = {{"value", r.value},
                    {"source", r.source},
                    {"from", r.where.empty() ? nlohmann::json(nullptr) : nlohmann::json(r.where)}};
    doc["worker.node_id"]["effective"] = c.settings.node_id;
    std::cout << doc.dump(2) << "\n";
    return 0;
  }
  std::printf("%-34s %-44s %s\n", "key", "value", "source");
  for (auto& r : rows) {
    auto value = r.value.empty() ? std::string{"(empty)"} : r.value;
    auto source = r.where.empty() ? r.source : r.source + " " + r.where;
    std::printf("%-34s %-44s %s\n", r.key.c_str(), value.c_str(), source.c_str());
  }
  // worker.node_id empty means a new id per process: this one is only the
  // id `config` itself would have had.
  std::printf("\nnode id: %s\n", c.settings.node_id.c_str());
  std::printf("modules served: ");
  bool first = true;
  for (auto& m : c.catalog.all()) {
    std::printf("%s%s", first ? "" : ", ", m.name.c_str());
    first = false;
  }
  std::printf("\n");
  return 0;
}

} // namespace quel
