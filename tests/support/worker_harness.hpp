#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/support/process_env.hpp"
#include "tests/support/test_database.hpp"
#include "tests/support/test_redis.hpp"

/// Black-box harness for the worker binary: it seeds PostgreSQL, Redis and a
/// local storage directory, runs `quel-worker` as a child process and reads
/// the outcomes back (CONTRACT.md sections 6-8).
namespace quel::test {

/// What one run of the binary did.
struct run_result {
  int exit_code = -1;
  std::string out;
  std::string err;
  bool timed_out = false;
};

/// Checks that QUEL_TEST_REDIS_URL and QUEL_TEST_DATABASE_URL are set; FAILs
/// when they are not and CI=true, otherwise WARNs and returns false.
bool e2e_services_available();

/// Runs argv[0] with `env` as its whole environment, captures its output and
/// SIGKILLs it after `timeout` (the result then says timed_out).
run_result run_process(const std::vector<std::string>& argv, const env_map& env,
                       std::chrono::milliseconds timeout);

/// Bytes of a small real image (64x48) made with the vips CLI once per
/// process; `ext` is png, jpg or webp, `variant` changes the pixels.
const std::string& sample_image(const std::string& ext, int variant = 0);

/// Fixture owning a fresh database, a flushed Redis and an empty storage dir.
class worker_harness {
public:
  worker_harness();
  ~worker_harness();
  worker_harness(const worker_harness&) = delete;
  worker_harness& operator=(const worker_harness&) = delete;

  test_database& db() { return db_; }
  test_redis& redis() { return redis_; }

  /// The local storage root (QUEL_STORAGE_DIR); bucket "images" lies below.
  const std::string& storage_dir() const { return storage_dir_; }

  /// Writes `bytes` as object `key` of bucket "images" and remembers it as an
  /// input (so that it is not mistaken for an output).
  void put_object(const std::string& key, const std::string& bytes);

  /// Whether object `key` of bucket "images" exists.
  bool has_object(const std::string& key) const;

  /// Bytes of object `key` of bucket "images" (FAILs when it is missing).
  std::string read_object(const std::string& key) const;

  /// Every object key of bucket "images" that the test did not write.
  std::set<std::string> output_objects() const;

  /// Stores an input image and creates its attach row (attach_file_path=key).
  int64_t add_input(const std::string& key, const std::string& bytes,
                    const std::optional<std::string>& org_id = std::nullopt);

  /// Stores an input image and creates a legacy attach row: the key is in
  /// attach_directory, attach_file_path is `file_path` (NULL or "").
  int64_t add_legacy_input(const std::string& key, const std::string& bytes,
                           const std::optional<std::string>& file_path);

  /// Attach rows in the table that the test itself created.
  int64_t inputs_created() const { return inputs_created_; }

  /// Counts an attach row made by the test with db().create_attach directly.
  void note_input_row() { ++inputs_created_; }

  /// Environment the worker runs with (test urls, storage, fast rechecks).
  env_map worker_env(const env_map& extra = {}) const;

  /// Runs the binary with `args`; FAILs if it outlives `timeout`.
  run_result run_worker(const std::vector<std::string>& args,
                        const env_map& extra_env = {},
                        std::chrono::seconds timeout = std::chrono::seconds{120});

  /// `quel-worker run --drain [extra args]`, REQUIRE-ing exit code 0.
  run_result drain(const env_map& extra_env = {},
                   const std::vector<std::string>& extra_args = {});

  /// LPUSHes `job_id` onto `queue`, as producers do.
  void enqueue(const std::string& job_id, const std::string& queue = "jobs:queue");

  /// Lists that are not jobs:dead and still hold entries (queues, the
  /// worker's processing lists); empty after a clean drain.
  std::vector<std::string> non_empty_lists();

private:
  test_database db_;
  test_redis redis_;
  std::string storage_dir_;
  std::set<std::string> inputs_;
  int64_t inputs_created_ = 0;
};

/// Whether `haystack` contains `needle`, ignoring ASCII case.
bool contains_nocase(const std::string& haystack, const std::string& needle);

/// A stage of `job_input_data` built as JSON text, so that numbers keep the
/// exact form a test wants (39070.0, "39070").
std::string stage_json(int stage_index, const std::string& prompt, int quantity,
                       const std::vector<std::string>& inputs);

/// One `individualImageAttachIds` entry with `attach_id_text` written verbatim.
std::string attach_entry(const std::string& attach_id_text, const std::string& type);

/// One `{"fromStage": S, "index": K, "type": T}` entry.
std::string from_stage_entry(int stage, int index, const std::string& type);

/// `{"stages": [...], "aspectRatio": ...}` from stage_json texts.
std::string pipeline_json(const std::vector<std::string>& stages,
                          const std::string& aspect_ratio = "3:4");

} // namespace quel::test
