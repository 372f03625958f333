#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "domain/job_records.hpp"
#include "domain/job_spec.hpp"

namespace quel {

/// Bookkeeping of one job's run, kept by its JobSupervisor: which images are
/// made or given up, which stages may start (their fromStage dependencies
/// are done), the attach ids in (stage_index, image index) order and the
/// error summary of rule 19. Plain C++ so it is unit-tested on its own.
class job_progress {
public:
  struct made_record {
    int64_t attach_id = 0;
    std::string object_key;
  };

  explicit job_progress(job_spec spec);

  const job_spec& spec() const { return spec_; }

  /// Records a made image; repeated reports of one image count once.
  void mark_made(int stage, int image, int64_t attach_id, std::string key);
  const made_record* made(int stage, int image) const;
  std::vector<int> made_indices(int stage) const;

  /// Records an image given up after `attempts` attempts (nullopt: not
  /// known); ignored for a made image.
  void mark_failed(int stage, int image, std::string reason,
                   std::optional<int> attempts = std::nullopt);
  /// The images given up and not made since, in (stage, image) order.
  std::vector<image_failure> failed_images() const;

  void mark_started(int stage);
  void mark_done(int stage);
  bool is_done(int stage) const;
  bool is_started(int stage) const;

  /// Stages not started whose dependencies are all done, ascending.
  std::vector<int> ready_stages() const;
  bool all_done() const;

  int made_count() const { return static_cast<int>(made_.size()); }
  int total() const { return spec_.total_images(); }

  /// Made images' attach ids in (stage_index, image index) order.
  std::vector<int64_t> ordered_attach_ids() const;

  /// `N of T images failed: stage S image I: reason; ...`, or nullopt when
  /// every image was made. Images neither made nor reported failed (e.g. a
  /// stage given up) are listed as "not made".
  std::optional<std::string> error_summary() const;

private:
  job_spec spec_;
  std::map<std::pair<int, int>, made_record> made_;
  struct failed_record {
    std::string reason;
    std::optional<int> attempts;
  };
  std::map<std::pair<int, int>, failed_record> failed_;
  std::set<int> started_;
  std::set<int> done_;
};

} // namespace quel
