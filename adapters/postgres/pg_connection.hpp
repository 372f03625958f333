#pragma once

#include <memory>
#include <string>
#include <utility>

#include <pqxx/pqxx>

#include "adapters/postgres/job_store.hpp"

namespace quel {

/// One lazily opened libpqxx connection that is thrown away as soon as it
/// breaks; owned by one thread (a pqxx::connection is single-threaded).
class pg_connection {
public:
  /// Keeps the URL (with connect_timeout added); connects on first use.
  explicit pg_connection(std::string database_url);

  /// Runs `f(pqxx::nontransaction&)` as one autocommit round trip and returns
  /// its result. A broken or unreachable server, or a transient conflict
  /// (serialization failure, deadlock), throws database_unavailable (waited
  /// out and retried in place: every step is idempotent); any other SQL error
  /// throws database_error, retryable or not (see is_retryable).
  /// The connection stays usable after a database_error.
  template <class F>
  auto run(F&& f) {
    try {
      pqxx::nontransaction tx{open()};
      return f(tx);
    } catch (const pqxx::broken_connection& e) {
      drop();
      throw database_unavailable(std::string("database connection lost: ") + e.what());
    } catch (const pqxx::transaction_rollback& e) {
      // Serialization failures, deadlocks and statements of unknown
      // completion are retried by the caller; every step is idempotent.
      if (conn_ && !conn_->is_open())
        drop();
      throw database_unavailable(std::string("database conflict: ") + e.what());
    } catch (const pqxx::sql_error& e) {
      if (is_unavailable(e)) {
        drop();
        throw database_unavailable(std::string("database unavailable: ") + e.what());
      }
      throw database_error(std::string("database error (SQLSTATE ") + e.sqlstate()
                             + "): " + e.what(),
                           e.sqlstate(), is_retryable(e.sqlstate()));
    }
  }

  /// SQLSTATEs a later attempt can pass: 55P03 lock not available (lock
  /// timeout), 57014 query cancelled (statement timeout), class 53
  /// insufficient resources, class 40 transaction rollback.
  static bool is_retryable(const std::string& sqlstate);

  /// The open connection, connecting first if needed (database_unavailable
  /// when that fails).
  pqxx::connection& open();

  /// Forgets the connection; the next call opens a new one.
  void drop() noexcept;

  /// The backend process id of the open connection, 0 when none is open.
  int backend_pid() const noexcept;

  /// `url` with `connect_timeout=5` appended unless it names one already;
  /// works for both URI and key=value connection strings.
  static std::string with_connect_timeout(const std::string& url);

private:
  /// SQLSTATE classes that mean the server went away (08 connection
  /// exception, 57P admin shutdown / cannot connect now).
  static bool is_unavailable(const pqxx::sql_error& e);

  std::string url_;
  std::unique_ptr<pqxx::connection> conn_;
  // Declared after conn_: a handler must go before its connection.
  std::unique_ptr<pqxx::errorhandler> notices_;
};

} // namespace quel
