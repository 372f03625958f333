#pragma once

#include <string>
#include <vector>

namespace quel::test {

/// A throwaway PostgreSQL cluster on a free loopback port, owned by one test,
/// that the test may restart (pg_ctl restart -m fast). Stopped and removed on
/// destruction. As root the cluster belongs to the `postgres` system user, as
/// scripts/local-services.sh does it.
class private_postgres {
public:
  /// initdb and start; FAILs the test when either fails.
  private_postgres();
  ~private_postgres();
  private_postgres(const private_postgres&) = delete;
  private_postgres& operator=(const private_postgres&) = delete;

  /// postgresql://postgres@127.0.0.1:<port>/postgres
  std::string url() const;
  int port() const { return port_; }

  /// A fast restart: open connections are closed, the server comes back on
  /// the same port; returns once it accepts connections.
  void restart();

private:
  void pg_ctl(const std::vector<std::string>& args);

  std::string dir_;
  std::string bin_;
  int port_ = 0;
  bool started_ = false;
};

} // namespace quel::test
