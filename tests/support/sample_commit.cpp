#include "tests/support/sample_commit.hpp"

namespace quel::test {

image_commit sample_commit(const image_identity& image, int64_t size_bytes) {
  image_commit c;
  c.image = image;
  c.file_name = "s" + std::to_string(image.stage_index) + "-i"
                + std::to_string(image.image_index) + ".webp";
  c.object_key = "generated/" + image.job_id.str() + "/" + c.file_name;
  c.mime_type = "image/webp";
  c.size_bytes = size_bytes;
  return c;
}

} // namespace quel::test
