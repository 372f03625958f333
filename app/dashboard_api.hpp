#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

/// The dashboard's JSON API and its static files (docs/OPERATIONS.md,
/// "Dashboard"), kept free of sockets and servers so that its validation is
/// unit-tested (tests/unit/endpoint_dashboard_api_test.cpp). Every
/// parameter is checked before the backend is asked anything: unknown or
/// repeated parameters, ids that are not UUIDs, numbers out of range and
/// paths that are not exactly a route or an embedded file are refused.
namespace quel {

/// A parsed request head.
struct web_request {
  std::string method;                          // GET, HEAD, POST
  std::string path;                            // percent-decoded, no query
  std::map<std::string, std::string> query;    // decoded
  std::map<std::string, std::string> headers;  // lower-case names
  bool repeated_parameter = false;             // a query key given twice
};

/// nullopt when the head is malformed (400): no request line, a target that
/// is not origin-form, a bad percent escape or a control character.
std::optional<web_request> parse_request_head(const std::string& head);

struct web_reply {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  /// Static files may be cached briefly; API answers never.
  std::string cache_control = "no-store";
};

/// The whole HTTP/1.1 response (`Connection: close`), with the headers that
/// keep a browser from sniffing, framing or loading anything foreign.
std::string render_reply(const web_reply& reply, bool head_only);

/// Which stored image `/api/image` asks for: an output (stage, image) of a
/// job, or one of the job's uploaded inputs (attach id). The backend checks
/// that the image belongs to the job; the key always comes from the
/// database, never from the request.
struct image_request {
  std::string job_id;
  std::optional<int> stage;
  std::optional<int> image;
  std::optional<int64_t> attach_id;
  bool thumbnail = true;
};

struct image_reply {
  std::string content_type;
  std::string bytes;
};

/// What the API reads and does. One instance per API thread (it owns its
/// own Redis and PostgreSQL connections, with timeouts); its calls may
/// block and may throw (a 503 then).
class dashboard_backend {
public:
  virtual ~dashboard_backend() = default;
  virtual nlohmann::json overview() = 0;
  virtual nlohmann::json jobs(int limit, int offset, const std::optional<std::string>& status) = 0;
  virtual std::optional<nlohmann::json> job(const std::string& job_id) = 0;
  virtual nlohmann::json dead_letters(int limit, int offset) = 0;
  /// nullopt when the job has no such image (404).
  virtual std::optional<image_reply> image(const image_request& request) = 0;
  /// `what`: requeue (a dead letter's id), retry, cancel (a job id), pause,
  /// resume (a queue or module name). Returns {ok, outcome, message}.
  virtual nlohmann::json act(const std::string& what, const std::string& target) = 0;
};

/// True for the paths the API thread pool answers (`/api/...`).
bool is_api_path(const std::string& path);

/// The answer to an `/api/...` request. `admin_token` empty: actions are
/// refused (403) and /api/config says so.
web_reply handle_api(const web_request& request, dashboard_backend& backend,
                      const std::string& admin_token);

/// The embedded page or asset for `path` (`/` is index.html), or nullopt:
/// only names compiled into the binary are served, nothing from disk.
std::optional<web_reply> static_reply(const std::string& path);

/// True when the request's Host header names a loopback address
/// (127.0.0.0/8, ::1, localhost, with any port) or is absent. A dashboard
/// bound to loopback answers only such requests: a web page whose name an
/// attacker re-points at 127.0.0.1 (DNS rebinding) sends its own name.
bool loopback_host(const web_request& request);

/// True for a listen address (host:port) on loopback.
bool loopback_addr(const std::string& addr);

/// Constant-time comparison of a presented token with the configured one.
bool token_matches(const std::string& presented, const std::string& expected);

} // namespace quel
