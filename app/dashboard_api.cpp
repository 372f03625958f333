#include "app/dashboard_api.hpp"

#include <algorithm>
#include <cctype>
#include <cstring>

#include "common/embedded_files.hpp"
#include "common/uuid.hpp"

namespace quel {

namespace {

using json = nlohmann::json;

const char* reason_of(int status) {
  switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 415: return "Unsupported Media Type";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    default: return "Error";
  }
}

web_reply json_reply(int status, const json& body) {
  return web_reply{status, "application/json", body.dump(), "no-store"};
}

web_reply error(int status, const std::string& message) {
  return json_reply(status, json{{"error", message}});
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/// %XX and `+` decoded; nullopt on a bad escape or any control character
/// (NUL included) in the result.
std::optional<std::string> decode(const std::string& s, bool plus_is_space) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '%') {
      if (i + 2 >= s.size())
        return std::nullopt;
      int hi = hex_value(s[i + 1]), lo = hex_value(s[i + 2]);
      if (hi < 0 || lo < 0)
        return std::nullopt;
      c = static_cast<char>(hi * 16 + lo);
      i += 2;
    } else if (c == '+' && plus_is_space) {
      c = ' ';
    }
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
      return std::nullopt;
    out += c;
  }
  return out;
}

/// A decimal integer in [lo, hi], digits only (no sign, no spaces).
std::optional<int64_t> integer(const std::string& s, int64_t lo, int64_t hi) {
  if (s.empty() || s.size() > 12 || s.find_first_not_of("0123456789") != std::string::npos)
    return std::nullopt;
  auto v = std::stoll(s);
  if (v < lo || v > hi)
    return std::nullopt;
  return v;
}

/// The request's parameters, every one known; refused otherwise.
bool only_known(const web_request& r, std::initializer_list<const char*> known) {
  for (auto& [key, value] : r.query)
    if (std::none_of(known.begin(), known.end(),
                     [&key](const char* k) { return key == k; }))
      return false;
  return true;
}

std::optional<std::string> param(const web_request& r, const char* key) {
  auto it = r.query.find(key);
  if (it == r.query.end())
    return std::nullopt;
  return it->second;
}

/// A queue or module name as Redis keys and modules.ini use them.
bool valid_queue_name(const std::string& s) {
  return !s.empty() && s.size() <= 200
         && std::all_of(s.begin(), s.end(), [](char c) {
              return std::isalnum(static_cast<unsigned char>(c)) || c == ':' || c == '.'
                     || c == '_' || c == '-';
            });
}

const char* content_type_of(const std::string& name) {
  auto ends = [&name](const char* ext) {
    auto n = std::strlen(ext);
    return name.size() >= n && name.compare(name.size() - n, n, ext) == 0;
  };
  if (ends(".html")) return "text/html; charset=utf-8";
  if (ends(".js")) return "text/javascript; charset=utf-8";
  if (ends(".css")) return "text/css; charset=utf-8";
  if (ends(".svg")) return "image/svg+xml";
  return "application/octet-stream";
}

/// limit and offset of a paged list.
bool page_of(const web_request& r, int& limit, int& offset, web_reply& refusal) {
  limit = 50;
  offset = 0;
  if (auto l = param(r, "limit")) {
    auto v = integer(*l, 1, 200);
    if (!v) {
      refusal = error(400, "limit must be 1..200");
      return false;
    }
    limit = static_cast<int>(*v);
  }
  if (auto o = param(r, "offset")) {
    auto v = integer(*o, 0, 1000000);
    if (!v) {
      refusal = error(400, "offset must be 0..1000000");
      return false;
    }
    offset = static_cast<int>(*v);
  }
  return true;
}

web_reply act(const web_request& r, dashboard_backend& backend, const std::string& token) {
  if (r.method != "POST")
    return error(405, "actions are POST requests");
  if (token.empty())
    return error(403, "actions are disabled: no admin token is configured "
                      "(http.admin_token / QUEL_HTTP_ADMIN_TOKEN)");
  auto presented = r.headers.find("x-quel-admin-token");
  if (presented == r.headers.end() || !token_matches(presented->second, token))
    return error(401, "a valid admin token is needed (X-Quel-Admin-Token)");
  if (!only_known(r, {"do", "id"}))
    return error(400, "unknown parameter (do, id)");
  auto what = param(r, "do");
  auto id = param(r, "id");
  if (!what || !id)
    return error(400, "do and id are needed");
  if (*what == "requeue" || *what == "retry" || *what == "cancel") {
    if (!is_uuid(*id))
      return error(400, "id must be a job id (UUID)");
  } else if (*what == "pause" || *what == "resume") {
    if (!valid_queue_name(*id))
      return error(400, "id must be a queue or module name");
  } else {
    return error(400, "do must be requeue, retry, cancel, pause or resume");
  }
  auto result = backend.act(*what, *id);
  return json_reply(200, result);
}

bool loopback_name(std::string host) {
  std::transform(host.begin(), host.end(), host.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (host == "localhost" || host == "::1" || host == "[::1]")
    return true;
  // 127.0.0.0/8 as a dotted quad of digits.
  if (host.rfind("127.", 0) != 0)
    return false;
  int dots = 0;
  for (char c : host) {
    if (c == '.')
      ++dots;
    else if (!std::isdigit(static_cast<unsigned char>(c)))
      return false;
  }
  return dots == 3;
}

} // namespace

bool loopback_host(const web_request& r) {
  auto h = r.headers.find("host");
  if (h == r.headers.end())
    return true;
  auto host = h->second;
  if (!host.empty() && host[0] == '[') {
    auto close = host.find(']');
    if (close == std::string::npos)
      return false;
    return loopback_name(host.substr(0, close + 1));
  }
  return loopback_name(host.substr(0, host.find(':')));
}

bool loopback_addr(const std::string& addr) {
  auto colon = addr.rfind(':');
  return colon != std::string::npos && loopback_name(addr.substr(0, colon));
}

bool token_matches(const std::string& presented, const std::string& expected) {
  if (expected.empty())
    return false;
  // Every byte of the longer is looked at whatever differs first.
  size_t n = std::max(presented.size(), expected.size());
  unsigned char diff = presented.size() == expected.size() ? 0 : 1;
  for (size_t i = 0; i < n; ++i) {
    unsigned char a = i < presented.size() ? static_cast<unsigned char>(presented[i]) : 0;
    unsigned char b = i < expected.size() ? static_cast<unsigned char>(expected[i]) : 0;
    diff |= static_cast<unsigned char>(a ^ b);
  }
  return diff == 0;
}

std::optional<web_request> parse_request_head(const std::string& head) {
  auto line_end = head.find("\r\n");
  if (line_end == std::string::npos)
    return std::nullopt;
  auto line = head.substr(0, line_end);
  auto first_space = line.find(' ');
  auto second_space = line.find(' ', first_space + 1);
  if (first_space == std::string::npos || second_space == std::string::npos
      || line.compare(second_space + 1, 5, "HTTP/") != 0)
    return std::nullopt;
  web_request r;
  r.method = line.substr(0, first_space);
  auto target = line.substr(first_space + 1, second_space - first_space - 1);
  if (target.empty() || target[0] != '/')
    return std::nullopt;
  auto q = target.find('?');
  auto path = decode(target.substr(0, q), false);
  if (!path)
    return std::nullopt;
  r.path = *path;
  if (q != std::string::npos) {
    auto query = target.substr(q + 1);
    size_t start = 0;
    while (start <= query.size()) {
      auto amp = query.find('&', start);
      auto part = query.substr(start, amp == std::string::npos ? std::string::npos : amp - start);
      if (!part.empty()) {
        auto eq = part.find('=');
        auto key = decode(part.substr(0, eq), true);
        auto value = decode(eq == std::string::npos ? "" : part.substr(eq + 1), true);
        if (!key || !value)
          return std::nullopt;
        if (!r.query.emplace(*key, *value).second)
          r.repeated_parameter = true;
      }
      if (amp == std::string::npos)
        break;
      start = amp + 1;
    }
  }
  // Headers: `Name: value` lines up to the blank line.
  size_t pos = line_end + 2;
  while (pos < head.size()) {
    auto end = head.find("\r\n", pos);
    if (end == std::string::npos || end == pos)
      break;
    auto h = head.substr(pos, end - pos);
    auto colon = h.find(':');
    if (colon != std::string::npos) {
      std::string name = h.substr(0, colon);
      std::transform(name.begin(), name.end(), name.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      auto value = h.substr(colon + 1);
      value.erase(0, value.find_first_not_of(" \t"));
      value.erase(value.find_last_not_of(" \t") + 1);
      r.headers[name] = value;
    }
    pos = end + 2;
  }
  return r;
}

std::string render_reply(const web_reply& reply, bool head_only) {
  std::string r = "HTTP/1.1 " + std::to_string(reply.status) + " " + reason_of(reply.status)
                  + "\r\n";
  r += "Content-Type: " + reply.content_type + "\r\n";
  r += "Content-Length: " + std::to_string(reply.body.size()) + "\r\n";
  r += "Cache-Control: " + reply.cache_control + "\r\n";
  // The page loads only its own scripts, styles and images; nothing may
  // frame it; a stored image is never sniffed into HTML.
  r += "Content-Security-Policy: default-src 'none'; script-src 'self'; style-src 'self'; "
       "img-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'\r\n";
  r += "X-Content-Type-Options: nosniff\r\n";
  r += "X-Frame-Options: DENY\r\n";
  r += "Referrer-Policy: no-referrer\r\n";
  r += "Connection: close\r\n\r\n";
  if (!head_only)
    r += reply.body;
  return r;
}

bool is_api_path(const std::string& path) {
  return path.rfind("/api/", 0) == 0;
}

web_reply handle_api(const web_request& r, dashboard_backend& backend,
                      const std::string& admin_token) {
  if (r.repeated_parameter)
    return error(400, "a parameter is given twice");
  if (r.path == "/api/action")
    return act(r, backend, admin_token);
  if (r.method != "GET" && r.method != "HEAD")
    return error(405, "GET or HEAD only");
  if (r.path == "/api/config") {
    if (!r.query.empty())
      return error(400, "no parameters");
    return json_reply(200, json{{"actions_enabled", !admin_token.empty()}});
  }
  if (r.path == "/api/overview") {
    if (!r.query.empty())
      return error(400, "no parameters");
    return json_reply(200, backend.overview());
  }
  if (r.path == "/api/jobs") {
    if (!only_known(r, {"limit", "offset", "status"}))
      return error(400, "unknown parameter (limit, offset, status)");
    int limit = 0, offset = 0;
    web_reply refusal;
    if (!page_of(r, limit, offset, refusal))
      return refusal;
    auto status = param(r, "status");
    if (status && *status != "pending" && *status != "processing" && *status != "completed"
        && *status != "failed")
      return error(400, "status must be pending, processing, completed or failed");
    return json_reply(200, backend.jobs(limit, offset, status));
  }
  if (r.path == "/api/job") {
    if (!only_known(r, {"id"}))
      return error(400, "unknown parameter (id)");
    auto id = param(r, "id");
    if (!id || !is_uuid(*id))
      return error(400, "id must be a job id (UUID)");
    auto doc = backend.job(*id);
    if (!doc)
      return error(404, "no such job");
    return json_reply(200, *doc);
  }
  if (r.path == "/api/dead") {
    if (!only_known(r, {"limit", "offset"}))
      return error(400, "unknown parameter (limit, offset)");
    int limit = 0, offset = 0;
    web_reply refusal;
    if (!page_of(r, limit, offset, refusal))
      return refusal;
    return json_reply(200, backend.dead_letters(limit, offset));
  }
  if (r.path == "/api/image") {
    if (!only_known(r, {"job", "stage", "image", "attach", "size"}))
      return error(400, "unknown parameter (job, stage, image, attach, size)");
    image_request ir;
    auto job = param(r, "job");
    if (!job || !is_uuid(*job))
      return error(400, "job must be a job id (UUID)");
    ir.job_id = *job;
    auto size = param(r, "size").value_or("thumb");
    if (size != "thumb" && size != "full")
      return error(400, "size must be thumb or full");
    ir.thumbnail = size == "thumb";
    auto stage = param(r, "stage"), image = param(r, "image"), attach = param(r, "attach");
    if (attach && !stage && !image) {
      ir.attach_id = integer(*attach, 1, int64_t{1} << 53);
      if (!ir.attach_id)
        return error(400, "attach must be a positive attach id");
    } else if (stage && image && !attach) {
      auto s = integer(*stage, 0, 9999), i = integer(*image, 0, 9999);
      if (!s || !i)
        return error(400, "stage and image must be 0..9999");
      ir.stage = static_cast<int>(*s);
      ir.image = static_cast<int>(*i);
    } else {
      return error(400, "give stage and image (an output) or attach (an input)");
    }
    auto img = backend.image(ir);
    if (!img)
      return error(404, "no such image");
    web_reply reply{200, img->content_type, std::move(img->bytes), "private, max-age=300"};
    return reply;
  }
  return error(404, "no such API path");
}

std::optional<web_reply> static_reply(const std::string& path) {
  if (path.empty() || path[0] != '/')
    return std::nullopt;
  std::string name = path == "/" ? "index.html" : path.substr(1);
  for (auto& f : embedded::dashboard_files())
    if (name == f.name)
      return web_reply{200, content_type_of(name), f.text, "no-cache"};
  return std::nullopt;
}

} // namespace quel
