#include "adapters/http/http_engine.hpp"

#include <curl/curl.h>
#include <strings.h>
#include <sys/resource.h>

#include <algorithm>
#include <utility>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>

#include "common/log.hpp"

namespace quel {

namespace {

std::once_flag global_init_once;

// 2,000 concurrent sockets exceed the usual soft limit of 1,024 descriptors;
// the hard limit is what the administrator actually allows.
void raise_descriptor_limit() {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) != 0 || lim.rlim_cur >= lim.rlim_max)
    return;
  lim.rlim_cur = lim.rlim_max == RLIM_INFINITY ? rlim_t{1} << 20 : lim.rlim_max;
  if (setrlimit(RLIMIT_NOFILE, &lim) != 0)
    log::warn("could not raise the open-file limit",
              {{"error", std::strerror(errno)}});
}

void global_init() {
  std::call_once(global_init_once, [] {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
      throw std::runtime_error("curl_global_init failed");
    raise_descriptor_limit();
  });
}

CURLM* as_multi(void* p) {
  return static_cast<CURLM*>(p);
}

std::string trim(std::string_view s) {
  size_t b = 0;
  size_t e = s.size();
  while (b < e && (s[b] == ' ' || s[b] == '\t'))
    ++b;
  while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t' || s[e - 1] == '\r'
                   || s[e - 1] == '\n'))
    --e;
  return std::string(s.substr(b, e - b));
}

} // namespace

/// Set by the byte budget's waker (any thread) and read by the engine loop.
/// `multi` is cleared when the engine goes, so a late wake does nothing.
struct http_engine::budget_wakeup {
  std::mutex mtx;
  CURLM* multi = nullptr;
  std::atomic<bool> room{false};

  void wake() {
    room.store(true);
    std::lock_guard<std::mutex> guard(mtx);
    if (multi != nullptr)
      curl_multi_wakeup(multi);
  }
};

struct http_engine::transfer {
  uint64_t id = 0;
  http_engine* engine = nullptr;
  CURL* easy = nullptr;
  curl_slist* header_list = nullptr;
  http_request request;
  http_response response;
  callback done;
  bool too_large = false;
  int64_t announced = -1;     // Content-Length, when the server sent one
  int64_t upload_offset = 0;  // next byte of request.stream to send
  bool paused = false;        // for want of budget, until `wanted` fits
  int64_t wanted = 0;
  char error[CURL_ERROR_SIZE] = {};

  ~transfer() {
    // A transfer that ends paused must not keep admissions waiting.
    if (request.reply_bytes)
      request.reply_bytes->stop_waiting();
    if (easy != nullptr)
      curl_easy_cleanup(easy);
    if (header_list != nullptr)
      curl_slist_free_all(header_list);
  }

  bool over_cap(int64_t bytes) const {
    return request.max_response_bytes > 0 && bytes > request.max_response_bytes;
  }

  static size_t on_body(char* data, size_t size, size_t n, void* user) {
    auto* t = static_cast<transfer*>(user);
    size_t len = size * n;
    // Returning less than `len` aborts the transfer at once, so an
    // oversized reply never sits in memory in full.
    auto needed = static_cast<int64_t>(t->response.body.size() + len);
    if (t->over_cap(needed)) {
      t->too_large = true;
      return 0;
    }
    if (t->request.reply_bytes && needed > t->request.reply_bytes->held()
        && !t->engine->reserve_reply(*t, needed))
      return CURL_WRITEFUNC_PAUSE;  // libcurl keeps this part for the resume
    // The announced size is allocated once, and only once it is held.
    if (t->response.body.empty() && t->announced > static_cast<int64_t>(len)
        && (!t->request.reply_bytes || t->request.reply_bytes->held() >= t->announced))
      t->response.body.reserve(static_cast<size_t>(t->announced));
    t->response.body.append(data, len);
    return len;
  }

  // Pulls the next part of a streamed body into libcurl's upload buffer.
  static size_t on_read(char* out, size_t size, size_t n, void* user) {
    auto* t = static_cast<transfer*>(user);
    try {
      auto got = t->request.stream->read(t->upload_offset, out, size * n);
      t->upload_offset += static_cast<int64_t>(got);
      return got;
    } catch (...) {
      return CURL_READFUNC_ABORT;
    }
  }

  // libcurl rewinds when it resends a request (a reused connection that
  // turned out closed); reads name their offset, so any seek is exact.
  static int on_seek(void* user, curl_off_t offset, int origin) {
    auto* t = static_cast<transfer*>(user);
    if (origin != SEEK_SET || offset < 0 || offset > t->request.stream->size())
      return CURL_SEEKFUNC_CANTSEEK;
    t->upload_offset = offset;
    return CURL_SEEKFUNC_OK;
  }

  static size_t on_header(char* data, size_t size, size_t n, void* user) {
    auto* t = static_cast<transfer*>(user);
    size_t len = size * n;
    std::string_view line(data, len);
    if (line.rfind("HTTP/", 0) == 0) {
      // A new status line (after 100 Continue): headers start over.
      t->response.headers.clear();
      return len;
    }
    auto colon = line.find(':');
    if (colon == std::string_view::npos)
      return len;
    auto name = trim(line.substr(0, colon));
    auto value = trim(line.substr(colon + 1));
    if (strcasecmp(name.c_str(), "Content-Length") == 0) {
      auto announced = std::strtoll(value.c_str(), nullptr, 10);
      if (t->over_cap(announced)) {
        t->too_large = true;
        return 0;
      }
      t->announced = announced;
    }
    t->response.headers.emplace_back(std::move(name), std::move(value));
    return len;
  }
};

http_engine::http_engine(http_engine_options opts) : opts_(std::move(opts)) {
  global_init();
  multi_ = curl_multi_init();
  if (multi_ == nullptr)
    throw std::runtime_error("curl_multi_init failed");
  curl_multi_setopt(as_multi(multi_), CURLMOPT_MAXCONNECTS, opts_.max_connections);
  budget_wakeup_ = std::make_shared<budget_wakeup>();
  budget_wakeup_->multi = as_multi(multi_);
  waker_ = std::make_shared<const std::function<void()>>(
    [wakeup = budget_wakeup_] { wakeup->wake(); });
}

http_engine::~http_engine() {
  {
    std::lock_guard<std::mutex> guard(budget_wakeup_->mtx);
    budget_wakeup_->multi = nullptr;
  }
  for (auto& entry : running_)
    curl_multi_remove_handle(as_multi(multi_), entry.second->easy);
  running_.clear();
  curl_multi_cleanup(as_multi(multi_));
}

namespace {

// Without a Content-Length a reply is held in steps of this size, so a
// multi-megabyte body takes the budget's lock a few times, not per packet.
constexpr int64_t reply_step = 256 * 1024;

} // namespace

bool http_engine::reserve_reply(transfer& t, int64_t needed) {
  auto& reservation = *t.request.reply_bytes;
  int64_t step = t.announced > 0 ? t.announced : reservation.held() + reply_step;
  if (t.request.max_response_bytes > 0)
    step = std::min(step, t.request.max_response_bytes);
  // The whole announced body (or the next step) if there is room; if not,
  // just this part; if not even that, the transfer waits for a wake.
  if (step > needed && reservation.try_grow_to(step, nullptr))
    return true;
  if (reservation.try_grow_to(needed, waker_))
    return true;
  t.paused = true;
  t.wanted = needed;
  paused_ids_.push_back(t.id);
  paused_count_.fetch_add(1);
  return false;
}

void http_engine::resume_paused() {
  if (paused_ids_.empty())
    return;
  // Woken by a release, or once a second in case a wake was missed.
  auto now = std::chrono::steady_clock::now();
  if (!budget_wakeup_->room.exchange(false) && now < next_paused_check_)
    return;
  next_paused_check_ = now + std::chrono::seconds(1);
  auto ids = std::exchange(paused_ids_, {});
  for (auto id : ids) {
    auto it = running_.find(id);
    if (it == running_.end() || !it->second->paused) {
      continue;  // finished or cancelled meanwhile
    }
    auto& t = *it->second;
    if (!t.request.reply_bytes->try_grow_to(t.wanted, waker_)) {
      paused_ids_.push_back(id);
      continue;
    }
    t.paused = false;
    paused_count_.fetch_sub(1);
    // Delivers the kept part at once (and may pause the transfer again).
    curl_easy_pause(t.easy, CURLPAUSE_CONT);
  }
}

uint64_t http_engine::submit(http_request request, callback done) {
  auto t = std::make_unique<transfer>();
  t->id = next_id_.fetch_add(1);
  t->engine = this;
  t->request = std::move(request);
  t->done = std::move(done);
  auto id = t->id;
  in_flight_.fetch_add(1);
  {
    std::lock_guard<std::mutex> guard(mtx_);
    pending_.push_back(std::move(t));
  }
  wakeup();
  return id;
}

void http_engine::wakeup() {
  curl_multi_wakeup(as_multi(multi_));
}

void http_engine::cancel(uint64_t id) {
  {
    std::lock_guard<std::mutex> guard(mtx_);
    cancel_ids_.push_back(id);
  }
  wakeup();
}

void http_engine::cancel_all() {
  {
    std::lock_guard<std::mutex> guard(mtx_);
    cancel_everything_ = true;
  }
  wakeup();
}

void http_engine::run_once(std::chrono::milliseconds max_wait) {
  apply_cancellations();
  resume_paused();
  start_pending();
  int still_running = 0;
  curl_multi_perform(as_multi(multi_), &still_running);
  collect_finished();
  bool more_work;
  {
    std::lock_guard<std::mutex> guard(mtx_);
    more_work = !pending_.empty() || !cancel_ids_.empty() || cancel_everything_;
  }
  if (!more_work) {
    auto ms = static_cast<int>(std::max<int64_t>(0, max_wait.count()));
    curl_multi_poll(as_multi(multi_), nullptr, 0, ms, nullptr);
  }
  apply_cancellations();
  resume_paused();
  start_pending();
  curl_multi_perform(as_multi(multi_), &still_running);
  collect_finished();
}

void http_engine::run_until(const std::atomic<bool>& stop) {
  while (!stop.load())
    run_once(std::chrono::milliseconds(200));
}

void http_engine::start_pending() {
  std::vector<std::unique_ptr<transfer>> batch;
  {
    std::lock_guard<std::mutex> guard(mtx_);
    batch.swap(pending_);
  }
  for (auto& t : batch) {
    auto& req = t->request;
    CURL* e = curl_easy_init();
    if (e == nullptr) {
      http_response r;
      r.failure = http_failure::network;
      r.error = "curl_easy_init failed";
      finish(t.get(), std::move(r));
      continue;
    }
    t->easy = e;
    curl_easy_setopt(e, CURLOPT_URL, req.url.c_str());
    curl_easy_setopt(e, CURLOPT_PRIVATE, t.get());
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->error);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    // Storage keys are sent as stored: libcurl must not squash "/./" or
    // "/../" into another object's path (docs/SECURITY.md, "Paths").
    curl_easy_setopt(e, CURLOPT_PATH_AS_IS, 1L);
    curl_easy_setopt(e, CURLOPT_USERAGENT, opts_.user_agent.c_str());
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
                     static_cast<long>(req.connect_timeout.count()));
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, static_cast<long>(req.total_timeout.count()));
    if (req.max_response_bytes > 0)
      curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE,
                       static_cast<curl_off_t>(req.max_response_bytes));
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, &transfer::on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, t.get());
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, &transfer::on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, t.get());

    const auto& body = req.body.bytes();  // the blob in `req` keeps it alive
    if (req.method == "GET") {
      curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    } else if (req.method == "HEAD") {
      curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    } else {
      if (req.method != "POST")
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, req.method.c_str());
      if (req.stream) {
        curl_easy_setopt(e, CURLOPT_POST, 1L);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
                         static_cast<curl_off_t>(req.stream->size()));
        curl_easy_setopt(e, CURLOPT_READFUNCTION, &transfer::on_read);
        curl_easy_setopt(e, CURLOPT_READDATA, t.get());
        curl_easy_setopt(e, CURLOPT_SEEKFUNCTION, &transfer::on_seek);
        curl_easy_setopt(e, CURLOPT_SEEKDATA, t.get());
      } else if (req.method != "DELETE" || !body.empty()) {
        curl_easy_setopt(e, CURLOPT_POST, 1L);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
                         static_cast<curl_off_t>(body.size()));
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, body.data());
      }
    }
    for (const auto& [name, value] : req.headers) {
      auto line = name + ": " + value;
      t->header_list = curl_slist_append(t->header_list, line.c_str());
    }
    // "Expect: 100-continue" would cost a round trip on every large upload.
    t->header_list = curl_slist_append(t->header_list, "Expect:");
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, t->header_list);

    auto rc = curl_multi_add_handle(as_multi(multi_), e);
    if (rc != CURLM_OK) {
      http_response r;
      r.failure = http_failure::network;
      r.error = curl_multi_strerror(rc);
      finish(t.get(), std::move(r));
      continue;
    }
    auto id = t->id;
    running_.emplace(id, std::move(t));
  }
}

void http_engine::apply_cancellations() {
  std::vector<uint64_t> ids;
  bool everything = false;
  std::vector<std::unique_ptr<transfer>> queued;
  {
    std::lock_guard<std::mutex> guard(mtx_);
    ids.swap(cancel_ids_);
    everything = cancel_everything_;
    cancel_everything_ = false;
    if (everything) {
      queued.swap(pending_);
    } else {
      for (auto id : ids) {
        auto it = std::find_if(pending_.begin(), pending_.end(),
                               [id](const auto& t) { return t->id == id; });
        if (it != pending_.end()) {
          queued.push_back(std::move(*it));
          pending_.erase(it);
        }
      }
    }
  }
  auto cancelled = [] {
    http_response r;
    r.failure = http_failure::cancelled;
    r.error = "cancelled";
    return r;
  };
  for (auto& t : queued)
    finish(t.get(), cancelled());
  std::vector<std::unique_ptr<transfer>> stopped;
  if (everything) {
    for (auto& entry : running_)
      stopped.push_back(std::move(entry.second));
    running_.clear();
  } else {
    for (auto id : ids) {
      auto it = running_.find(id);
      if (it != running_.end()) {
        stopped.push_back(std::move(it->second));
        running_.erase(it);
      }
    }
  }
  for (auto& t : stopped) {
    curl_multi_remove_handle(as_multi(multi_), t->easy);
    finish(t.get(), cancelled());
  }
}

void http_engine::collect_finished() {
  int left = 0;
  while (CURLMsg* msg = curl_multi_info_read(as_multi(multi_), &left)) {
    if (msg->msg != CURLMSG_DONE)
      continue;
    transfer* raw = nullptr;
    curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &raw);
    auto code = msg->data.result;
    auto it = running_.find(raw->id);
    if (it == running_.end())
      continue;
    std::unique_ptr<transfer> t = std::move(it->second);
    running_.erase(it);
    curl_multi_remove_handle(as_multi(multi_), t->easy);

    http_response r = std::move(t->response);
    long status = 0;
    curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);
    r.status = static_cast<int>(status);
    if (t->too_large || code == CURLE_FILESIZE_EXCEEDED) {
      r.failure = http_failure::too_large;
      r.error = "response larger than " + std::to_string(t->request.max_response_bytes)
                + " bytes";
      r.body.clear();
      r.body.shrink_to_fit();
    } else if (code == CURLE_OPERATION_TIMEDOUT) {
      r.failure = http_failure::timeout;
    } else if (code != CURLE_OK) {
      r.failure = http_failure::network;
    }
    if (r.failure != http_failure::none && r.error.empty())
      r.error = t->error[0] != '\0' ? t->error : curl_easy_strerror(code);
    finish(t.get(), std::move(r));
  }
}

void http_engine::finish(transfer* t, http_response&& r) {
  in_flight_.fetch_sub(1);
  if (t->paused) {
    t->paused = false;
    paused_count_.fetch_sub(1);
  }
  // The reservation keeps what the body holds, no step beyond it.
  if (t->request.reply_bytes)
    t->request.reply_bytes->shrink_to(static_cast<int64_t>(r.body.size()));
  auto done = std::move(t->done);
  if (!done)
    return;
  try {
    done(std::move(r));
  } catch (const std::exception& e) {
    log::error("http completion callback threw", {{"error", e.what()}});
  } catch (...) {
    log::error("http completion callback threw a non-exception");
  }
}

} // namespace quel
