// Strong ids and the image identity: the values every credit change and
// every message about an image is keyed by.
#include <catch2/catch.hpp>

#include <type_traits>
#include <unordered_set>

#include "domain/image_identity.hpp"
#include "domain/job_records.hpp"

using namespace quel;

TEST_CASE("a job id and an organisation id are different types", "[domain][ids]") {
  // Neither converts from a bare string nor into the other.
  STATIC_REQUIRE_FALSE(std::is_convertible<std::string, ids::job>::value);
  STATIC_REQUIRE_FALSE(std::is_convertible<ids::org, ids::job>::value);
  STATIC_REQUIRE_FALSE(std::is_convertible<ids::job, ids::org>::value);
  ids::job a{"a"};
  CHECK(a.str() == "a");
  CHECK(to_string(a) == "a");
  CHECK(a == ids::job{"a"});
  CHECK(a != ids::job{"b"});
  CHECK(a < ids::job{"b"});
  std::unordered_set<ids::org> orgs{ids::org{"x"}, ids::org{"x"}, ids::org{"y"}};
  CHECK(orgs.size() == 2);
  CHECK_FALSE(ids::optional_org(std::nullopt).has_value());
  CHECK(ids::optional_org(std::string("o")) == ids::org{"o"});
}

TEST_CASE("an image's ledger key is its organisation, or its job when nobody pays",
          "[domain][ids]") {
  image_identity paid{ids::job{"j"}, 1, 0, 0, ids::org{"o"}, 2};
  CHECK(paid.ledger_key() == "o");
  image_identity free{ids::job{"j"}, 1, 0, 0, std::nullopt, 0};
  CHECK(free.ledger_key() == "j");
}

TEST_CASE("a stage's images share everything but their index", "[domain][ids]") {
  claimed_job job;
  job.job_id = ids::job{"j"};
  job.epoch = 7;
  job.org_id = ids::org{"o"};
  auto stage = job.image(2, 0, 3);
  auto image = stage.with_image(4);
  CHECK(image.job_id == ids::job{"j"});
  CHECK(image.epoch == 7);
  CHECK(image.stage_index == 2);
  CHECK(image.image_index == 4);
  CHECK(image.org_id == ids::org{"o"});
  CHECK(image.cost == 3);
  CHECK(image.where() == "stage 2 image 4");
  CHECK(stage.image_index == 0);
}
