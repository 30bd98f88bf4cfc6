// How late frames left against the time the model gave them: the emulator's
// own added delay (wake-up, batching, the host's scheduling), which its test
// bounds. The time a frame spent in the kernel before recvmmsg is not seen
// here; the test's ping through the emulator covers it.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>

#include "model.hpp"

namespace linkem {

class Lateness {
 public:
  void add(Time late) {
    const std::int64_t us = std::max<std::int64_t>(0, late.count() / 1000);
    ++count_;
    sum_us_ += std::uint64_t(us);
    max_us_ = std::max(max_us_, std::uint64_t(us));
    if (us > 100) ++over_100us_;
    if (us > 200) ++over_200us_;
    if (us > 1000) ++over_1ms_;
  }
  std::string text() const {
    return "late_mean_us=" + std::to_string(count_ ? sum_us_ / count_ : 0) +
           " late_max_us=" + std::to_string(max_us_) + " late_over_100us=" + std::to_string(over_100us_) +
           " late_over_200us=" + std::to_string(over_200us_) + " late_over_1ms=" + std::to_string(over_1ms_) +
           " frames=" + std::to_string(count_);
  }

 private:
  std::uint64_t count_ = 0, sum_us_ = 0, max_us_ = 0;
  std::uint64_t over_100us_ = 0, over_200us_ = 0, over_1ms_ = 0;
};

}  // namespace linkem
