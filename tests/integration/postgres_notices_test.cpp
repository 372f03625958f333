// The server's notices and warnings reach the log through the worker's
// logger (libpq would print them raw to stderr, breaking JSON logs).
#include <sstream>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "adapters/postgres/pg_connection.hpp"
#include "common/log.hpp"
#include "tests/support/captured_stderr.hpp"
#include "tests/support/test_database.hpp"

TEST_CASE("database notices become JSON log lines", "[postgres][logs]") {
  QUEL_REQUIRE_TEST_DATABASE();
  quel::pg_connection db{quel::test::test_database_url()};
  auto out = quel::test::captured_stderr([&] {
    quel::log::set_format(quel::log::format::json);
    db.run([](pqxx::nontransaction& tx) {
      tx.exec("DO $$ BEGIN RAISE NOTICE E'first line\\n{\"forged\": true}'; END $$");
      return 0;
    });
    quel::log::set_format(quel::log::format::human);
  });
  std::istringstream in(out);
  int lines = 0;
  for (std::string line; std::getline(in, line);) {
    ++lines;
    INFO(line);
    auto j = nlohmann::json::parse(line);  // raw libpq output would not parse
    CHECK(j["msg"] == "database notice");
    CHECK(j["detail"].get<std::string>().find("first line\n{\"forged\": true}")
          != std::string::npos);
  }
  CHECK(lines == 1);
}
