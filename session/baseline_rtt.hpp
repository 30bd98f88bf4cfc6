// A path's baseline round trip: the least sample over the last
// kGrayBaselineWindow, kept as the least of this half-window's slot and the
// one before, so it forgets a route's change within a window and costs two
// values. Shared by the path's health (path_health.hpp) and its pacer
// (path_rate.hpp): both measure queue delay as round trip above it.
#pragma once

#include <algorithm>
#include <optional>

#include "tund/limits.hpp"
#include "tund/types.hpp"

namespace tund::session {

class BaselineRtt {
 public:
  // `since`: the path's start, where the slots are counted from.
  explicit BaselineRtt(Time since = {}) : since_(since) {}
  void add(Time now, Duration rtt) {
    const std::int64_t slot = (now - since_) / (limits::kGrayBaselineWindow / 2);
    if (slot != slot_) {
      before_ = slot == slot_ + 1 ? now_ : std::nullopt;
      now_.reset();
      slot_ = slot;
    }
    now_ = now_ ? std::min(*now_, rtt) : rtt;
  }
  std::optional<Duration> value() const {
    if (now_ && before_) return std::min(*now_, *before_);
    return now_ ? now_ : before_;
  }

 private:
  Time since_;
  std::optional<Duration> now_, before_;
  std::int64_t slot_ = 0;
};

}  // namespace tund::session
