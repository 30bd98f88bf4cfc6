// Per-source token bucket for handshake initiations under load (WireGuard's
// numbers: 20 per second, burst 5). Bounded: when the table is full, sources
// not already in it are refused until the next sweep frees room.
#pragma once

#include <array>
#include <cstdint>
#include <unordered_map>

#include "tund/limits.hpp"
#include "tund/types.hpp"

namespace tund::session {

class RateLimiter {
 public:
  static constexpr std::uint32_t kPacketsPerSecond = limits::kHandshakesPerSourcePerSecond;
  static constexpr std::uint32_t kBurst = limits::kHandshakeBurstPerSource;
  static constexpr std::size_t kMaxEntries = limits::kRateLimiterSources;

  // `source` is the address only (no port), so one host cannot escape by port.
  bool allow(const std::array<std::uint8_t, 16>& source, Time now);
  std::size_t size() const { return table_.size(); }

 private:
  struct Bucket {
    std::int64_t tokens_ns;  // budget in nanoseconds of refill time
    Time last;
  };
  struct Hash {
    std::size_t operator()(const std::array<std::uint8_t, 16>& a) const {
      return static_cast<std::size_t>(load_le64(a.data()) * 0x9e3779b97f4a7c15ull ^ load_le64(a.data() + 8));
    }
  };
  void sweep(Time now);

  std::unordered_map<std::array<std::uint8_t, 16>, Bucket, Hash> table_;
  Time last_sweep_{};
};

}  // namespace tund::session
