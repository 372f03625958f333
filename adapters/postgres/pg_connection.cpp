#include "adapters/postgres/pg_connection.hpp"

#include "common/log.hpp"

namespace quel {

namespace {

// The server's notices and warnings (RAISE NOTICE, "there is no transaction
// in progress") are library messages like any other: they go through the
// logger, so they are escaped, redacted and valid JSON in JSON logs.
class notice_logger final : public pqxx::errorhandler {
public:
  explicit notice_logger(pqxx::connection_base& c) : pqxx::errorhandler(c) {}

  bool operator()(const char msg[]) noexcept override {
    try {
      std::string text = msg != nullptr ? msg : "";
      while (!text.empty() && text.back() == '\n')
        text.pop_back();
      log::limited(log::level::warn, "database-notice", 1000, "database notice",
                   {{"detail", text}});
    } catch (...) {
      // A notice that cannot be logged is dropped, as libpqxx would.
    }
    return false;
  }
};

} // namespace

pg_connection::pg_connection(std::string database_url)
  : url_(with_connect_timeout(database_url)) {
  // nop: connecting is deferred to the first call
}

pqxx::connection& pg_connection::open() {
  if (conn_ && conn_->is_open())
    return *conn_;
  notices_.reset();
  conn_.reset();
  try {
    conn_ = std::make_unique<pqxx::connection>(url_);
    notices_ = std::make_unique<notice_logger>(*conn_);
  } catch (const pqxx::broken_connection& e) {
    throw database_unavailable(std::string("cannot connect to the database: ") + e.what());
  } catch (const pqxx::sql_error& e) {
    // e.g. "the database system is starting up" arrives as an SQL error.
    if (is_unavailable(e))
      throw database_unavailable(std::string("cannot connect to the database: ") + e.what());
    throw;
  }
  return *conn_;
}

void pg_connection::drop() noexcept {
  notices_.reset();
  conn_.reset();
}

int pg_connection::backend_pid() const noexcept {
  return conn_ && conn_->is_open() ? conn_->backendpid() : 0;
}

std::string pg_connection::with_connect_timeout(const std::string& url) {
  if (url.find("connect_timeout") != std::string::npos)
    return url;
  bool is_uri = url.rfind("postgresql://", 0) == 0 || url.rfind("postgres://", 0) == 0;
  if (!is_uri)
    return url.empty() ? "connect_timeout=5" : url + " connect_timeout=5";
  if (url.back() == '?' || url.back() == '&')
    return url + "connect_timeout=5";
  return url + (url.find('?') == std::string::npos ? "?" : "&") + "connect_timeout=5";
}

bool pg_connection::is_retryable(const std::string& state) {
  return state == "55P03" || state == "57014" || state.rfind("53", 0) == 0
         || state.rfind("40", 0) == 0;
}

bool pg_connection::is_unavailable(const pqxx::sql_error& e) {
  const std::string state = e.sqlstate();
  return state.rfind("08", 0) == 0 || state.rfind("57P", 0) == 0;
}

} // namespace quel
