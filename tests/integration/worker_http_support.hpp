#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/standins/standin_process.hpp"
#include "tests/support/child_process.hpp"
#include "tests/support/worker_harness.hpp"

/// The worker against the Gemini and Supabase Storage stand-ins
/// (QUEL_STORAGE=supabase QUEL_GENERATOR=gemini), with real Redis and
/// PostgreSQL from worker_harness.
namespace quel::test {

/// A reply of the stand-ins' plain HTTP/1.1 over a loopback socket.
struct plain_reply {
  int status = 0;
  std::string body;
};

/// One request to 127.0.0.1:`port` on a fresh connection (Connection:
/// close); FAILs the test on a socket error.
plain_reply plain_http(int port, const std::string& method, const std::string& target,
                       const std::vector<std::pair<std::string, std::string>>& headers = {},
                       const std::string& body = {});

/// An sb_secret_ key and a legacy JWT-looking service key for the stand-in.
inline const std::string secret_storage_key = "sb_secret_worker_http_test_4f2a";
inline const std::string jwt_storage_key =
  "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJyb2xlIjoic2VydmljZV9yb2xlIn0."
  "c3RhbmQtaW4tc2lnbmF0dXJl";
inline const std::string gemini_test_key = "gemini-worker-http-test-key";

/// Options of the stand-ins one test starts.
struct standin_options {
  std::string storage_key = secret_storage_key;
  int gemini_latency_ms = 0;
};

/// A worker_harness plus both stand-ins started for one test.
class http_backends {
public:
  explicit http_backends(standin_options options = {});

  worker_harness& h() { return h_; }

  /// Uploads `bytes` to the Supabase stand-in as object `key` of "images".
  void upload(const std::string& key, const std::string& bytes,
              const std::string& content_type);

  /// Uploads an input image and creates its attach row.
  int64_t add_input(const std::string& key, const std::string& bytes,
                    const std::optional<std::string>& org_id);

  /// GET of object `key` of "images" from the Supabase stand-in.
  plain_reply download(const std::string& key);

  /// Replaces the Gemini stand-in's fault script (rules as in standin_http.py).
  void script_gemini(const nlohmann::json& rules);
  /// Replaces the Supabase stand-in's fault script.
  void script_supabase(const nlohmann::json& rules);

  nlohmann::json gemini_stats();
  nlohmann::json supabase_stats();
  /// The Gemini stand-in's summary of the last request (prompt, parts, ...).
  nlohmann::json gemini_last();
  /// The Supabase stand-in's summary of the last object request (method,
  /// apikey and bearer present, content type, x-upsert, ...).
  nlohmann::json supabase_last();
  /// What the Supabase stand-in stores: "bucket/key" -> size, content_type,
  /// sha256.
  nlohmann::json objects();
  /// Keys (without the bucket) of stored objects under generated/.
  std::vector<std::string> output_keys();

  /// Requests Gemini got for generateContent (per_path count).
  int64_t gemini_calls();
  /// Requests of `method` the Supabase stand-in got under generated/ or
  /// inputs/ ("POST" uploads, "GET" downloads).
  int64_t storage_calls(const std::string& method, const std::string& prefix);

  /// The worker's environment for these backends plus `extra`.
  env_map env(const env_map& extra = {}) const;

  /// `run --drain` against the stand-ins; REQUIREs exit 0.
  run_result drain(const env_map& extra = {});

private:
  worker_harness h_;
  standin_options options_;
  standin_process supabase_;
  standin_process gemini_;
};

/// A JSON number or numeric string as an integer (job columns).
int64_t as_int(const nlohmann::json& v);

/// The sha256 of `bytes` in lower-case hex (as the stand-ins report it).
std::string sha256_hex(const std::string& bytes);

/// `quel-worker run` in the background, so a test can watch the process.
class background_worker {
public:
  background_worker(const std::vector<std::string>& args, const env_map& env);
  ~background_worker();
  background_worker(const background_worker&) = delete;
  background_worker& operator=(const background_worker&) = delete;

  pid_t pid() const;
  /// Entries of /proc/<pid>/task (the process's threads); -1 once it is gone.
  int thread_count() const;
  /// The threads' names (/proc/<pid>/task/*/comm) with a count each.
  std::map<std::string, int> thread_names() const;
  /// SIGTERM, then waits up to `deadline` (SIGKILL after); the exit code
  /// (128 + signal when killed).
  int stop(std::chrono::seconds deadline = std::chrono::seconds{60});
  /// What the worker wrote to stderr so far.
  std::string log() const;

private:
  std::string dir_;
  std::unique_ptr<child_process> process_;
};

} // namespace quel::test

namespace quel::test {

/// What one job is expected to have ended with (one organisation per job,
/// cost 1 per image).
struct http_job_expect {
  std::string job_id;
  std::string org_id;
  int64_t balance_before = 0;
  int total = 0;
  int completed = 0;
  /// Each must appear in error_message (case-insensitive); empty for a
  /// completed job, whose error_message must be NULL.
  std::vector<std::string> error_needles;
};

/// Checks the job row, its charges and credit log rows, its attach rows and
/// the objects stored in the Supabase stand-in (WebP, one per image made).
void check_http_job(http_backends& fx, const http_job_expect& e);

/// A one-stage job of `quantity` images over `inputs` (attach ids) with its
/// own organisation holding `credits`; returns (job id, org id).
std::pair<std::string, std::string> make_http_job(http_backends& fx, const std::string& prompt,
                                                  int quantity,
                                                  const std::vector<int64_t>& inputs,
                                                  int64_t credits = 100,
                                                  bool enqueue = true);

/// Sum of the `fired` counts of the stand-in rules whose match is `match`.
int64_t fired(const nlohmann::json& stats, const std::string& match);

} // namespace quel::test
