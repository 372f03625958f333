#include "tests/support/sample_commit.hpp"

namespace quel::test {

image_commit sample_commit(const std::string& job_id, int64_t epoch, int stage, int index,
                           const std::optional<std::string>& org_id, int64_t cost,
                           int64_t size_bytes) {
  image_commit c;
  c.job_id = job_id;
  c.epoch = epoch;
  c.stage_index = stage;
  c.image_index = index;
  c.file_name = "s" + std::to_string(stage) + "-i" + std::to_string(index) + ".webp";
  c.object_key = "generated/" + job_id + "/" + c.file_name;
  c.mime_type = "image/webp";
  c.size_bytes = size_bytes;
  c.org_id = org_id;
  c.cost = cost;
  return c;
}

} // namespace quel::test
