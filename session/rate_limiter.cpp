#include "session/rate_limiter.hpp"

#include <algorithm>

namespace tund::session {

namespace {
constexpr std::int64_t kCostNs = 1'000'000'000 / RateLimiter::kPacketsPerSecond;
constexpr std::int64_t kMaxTokensNs = kCostNs * RateLimiter::kBurst;
}  // namespace

void RateLimiter::sweep(Time now) {
  // A bucket idle for a second is full again: forgetting it changes nothing.
  std::erase_if(table_, [now](const auto& kv) { return now - kv.second.last >= std::chrono::seconds(1); });
  last_sweep_ = now;
}

bool RateLimiter::allow(const std::array<std::uint8_t, 16>& source, Time now) {
  if (now - last_sweep_ >= std::chrono::seconds(1)) sweep(now);
  auto it = table_.find(source);
  if (it == table_.end()) {
    if (table_.size() >= kMaxEntries) return false;
    table_.emplace(source, Bucket{kMaxTokensNs - kCostNs, now});
    return true;
  }
  Bucket& b = it->second;
  b.tokens_ns = std::min(kMaxTokensNs, b.tokens_ns + (now - b.last).count());
  b.last = now;
  if (b.tokens_ns < kCostNs) return false;
  b.tokens_ns -= kCostNs;
  return true;
}

}  // namespace tund::session
