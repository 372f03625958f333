#include "adapters/redis/redis_queue.hpp"

#include <algorithm>
#include <stdexcept>

#include <hiredis/hiredis.h>

namespace quel {

namespace {

/// GCRA (generic cell rate algorithm) in reservation form. The key holds
/// the theoretical arrival time (TAT, ms on the server's clock) of the next
/// free slot. Each call takes the slot at max(TAT, now), moves TAT one
/// interval on, and returns how long until its slot. Every caller thus gets
/// its own slot in one round trip, calls never fail, and however many
/// nodes call, slots are at least `interval` apart (no burst). The server's
/// TIME is the one clock all nodes share. The key expires once TAT has
/// passed (an idle limiter leaves nothing behind).
///
/// KEYS[1] the limiter key; ARGV[1] the interval in ms (>= 1).
/// Returns the wait in ms.
constexpr const char* gcra_script = R"lua(
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local interval = tonumber(ARGV[1])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
redis.call('SET', KEYS[1], tat + interval, 'PX', tat + interval - now + 1000)
return tat - now
)lua";

} // namespace

std::chrono::milliseconds redis_queue::reserve_rate_slot(const std::string& key,
                                                         std::chrono::milliseconds interval) {
  auto reply = command({"EVAL", gcra_script, "1", key,
                        std::to_string(std::max<int64_t>(interval.count(), 1))});
  if (reply->type != REDIS_REPLY_INTEGER)
    throw std::runtime_error("rate limit script: unexpected reply");
  return std::chrono::milliseconds(reply->integer);
}

} // namespace quel
