// The daemons' only clock reads. The core gets `Time` (monotonic); status
// output wants unix seconds, converted here.
#pragma once

#include <chrono>
#include <cstdint>

#include "tund/types.hpp"

namespace tund::daemon {

inline Time now() { return Clock::now(); }

// Nanoseconds since the Unix epoch at steady Time{}: the core's wall offset.
inline WallTime wall_offset() {
  const auto wall = std::chrono::system_clock::now().time_since_epoch();
  const auto mono = Clock::now().time_since_epoch();
  return static_cast<WallTime>(std::chrono::duration_cast<std::chrono::nanoseconds>(wall - mono).count());
}

inline std::int64_t to_unix_seconds(Time t) {
  const auto age = Clock::now() - t;
  return std::chrono::duration_cast<std::chrono::seconds>(
             (std::chrono::system_clock::now() - age).time_since_epoch())
      .count();
}

}  // namespace tund::daemon
