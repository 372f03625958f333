#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/blob.hpp"
#include "common/body_source.hpp"
#include "common/byte_budget.hpp"

namespace quel {

/// Header list in wire order; names keep the case they were given.
using http_headers = std::vector<std::pair<std::string, std::string>>;

/// One HTTP request for http_engine. The body is a shared blob, so a 20 MB
/// upload is not copied when the request is queued or retried.
struct http_request {
  std::string method = "GET";
  std::string url;
  http_headers headers;
  blob body;
  /// When set, the body is read from here while it is sent (and `body` is
  /// ignored): a large generated body is never held whole.
  std::shared_ptr<const body_source> stream;
  std::chrono::milliseconds connect_timeout{10000};
  std::chrono::milliseconds total_timeout{60000};
  // 0 = unlimited; checked on Content-Length and again while receiving.
  int64_t max_response_bytes = 64 * 1024 * 1024;
  /// When set, the reply's body is held in this reservation of the byte
  /// budget as it arrives, and the transfer pauses while the budget has no
  /// room for the next part. After the call it holds the body's size.
  std::shared_ptr<reply_reservation> reply_bytes;
};

/// Why a transfer produced no usable HTTP reply (an HTTP error status is not
/// a failure here: it arrives as `status` with failure::none).
enum class http_failure { none, timeout, network, too_large, cancelled };

/// The outcome of one transfer: status, headers and body, or a failure.
struct http_response {
  int status = 0;
  http_headers headers;
  std::string body;
  http_failure failure = http_failure::none;
  std::string error;  // libcurl's message when failure != none

  bool ok() const {
    return failure == http_failure::none && status >= 200 && status < 300;
  }
};

/// The first header named `name` (case-insensitive), or an empty view.
std::string_view header_value(const http_headers& headers, std::string_view name);

/// "timeout", "network", ... for logs and reason texts.
const char* to_string(http_failure f);

} // namespace quel
