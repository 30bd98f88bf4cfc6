#include "session/pmtu.hpp"

#include <algorithm>

namespace tund::session {

void PmtuSearch::set_limits(std::size_t base, std::size_t ceiling) {
  if (base == base_ && ceiling == ceiling_) return;
  base_ = base;
  ceiling_ = ceiling;
  found_ = false;
  searching_ = false;
  in_round_ = false;
  round_deadline_ = next_round_ = kNever;
}

void PmtuSearch::restart(Time now) {
  if (ceiling_ <= base_) {  // nothing to find: the ceiling is all there is
    searching_ = false;
    return;
  }
  searching_ = true;
  in_round_ = false;
  low_ = base_;
  high_ = ceiling_ + 1;
  retry_ = 0;
  next_round_ = now;
  round_deadline_ = kNever;
  started_ = now;
}

std::size_t PmtuSearch::begin_round(Time now, Duration timeout, Sizes& out) {
  out.fill(0);
  if (!wants_round(now)) return 0;
  // The ceiling first (most paths carry their interface's MTU), then sizes
  // spread evenly between the bounds.
  std::size_t n = 0;
  std::size_t top = high_;
  if (retry_ > low_ && retry_ < high_) {
    out[n++] = retry_;  // lost once: once more, and look below it meanwhile
    top = retry_;
  } else if (high_ == ceiling_ + 1) {
    out[n++] = ceiling_;
  }
  const std::size_t span = top - low_;
  const std::size_t parts = limits::kPmtuProbesPerRound - n + 1;
  for (std::size_t i = 1; n < out.size() && i < parts; ++i) {
    const std::size_t size = low_ + span * i / parts;
    if (size > low_ && size < top && std::find(out.begin(), out.begin() + n, size) == out.begin() + n) out[n++] = size;
  }
  if (n == 0) {
    finish(now);
    return 0;
  }
  round_ = out;
  answered_.fill(false);
  in_round_ = true;
  round_deadline_ = now + timeout;
  next_round_ = kNever;
  probes_sent_ += n;
  return n;
}

void PmtuSearch::on_answer(std::size_t size, Time now) {
  if (size > ceiling_) return;  // not a size we probe
  low_ = std::max(low_, size);
  if (high_ <= low_) high_ = low_ + 1;  // an earlier loss was chance
  if (!searching_ && found_) found_mtu_ = std::max(found_mtu_, size);  // a late answer still proves it
  if (!in_round_) return;
  bool all = true;
  for (std::size_t i = 0; i < round_.size(); ++i) {
    if (round_[i] == size) answered_[i] = true;
    all = all && (round_[i] == 0 || answered_[i]);
  }
  if (all) {
    round_deadline_ = now;  // nothing more to wait for
    on_timer(now);
  }
}

void PmtuSearch::on_timer(Time now) {
  if (!in_round_ || now < round_deadline_) return;
  in_round_ = false;
  round_deadline_ = kNever;
  // The retried size lost again bounds the search; the smallest other loss
  // gets its second chance next round.
  std::size_t smallest_lost = 0;
  for (std::size_t i = 0; i < round_.size(); ++i) {
    if (!round_[i] || answered_[i] || round_[i] <= low_) continue;
    if (round_[i] == retry_) high_ = std::min(high_, retry_);
    else if (!smallest_lost || round_[i] < smallest_lost) smallest_lost = round_[i];
  }
  retry_ = smallest_lost && smallest_lost < high_ ? smallest_lost : 0;
  if (high_ - low_ <= limits::kPmtuGranularity || low_ >= ceiling_) {
    finish(now);
    return;
  }
  next_round_ = now;
}

void PmtuSearch::finish(Time now) {
  searching_ = false;
  in_round_ = false;
  found_ = true;
  found_mtu_ = low_;
  next_round_ = round_deadline_ = kNever;
  last_done_ = now;
  last_duration_ = now - started_;
  next_check_ = now + limits::kPmtuCheckInterval;
  check_losses_ = 0;
}

void PmtuSearch::on_check(bool answered, Time now) {
  if (!found_ || searching_) return;
  check_losses_ = answered ? 0 : check_losses_ + 1;
  if (check_losses_ >= limits::kPmtuCheckLosses) {
    check_losses_ = 0;
    restart(now);
  }
}

Time PmtuSearch::next_event() const {
  if (!searching_) return kNever;
  return in_round_ ? round_deadline_ : next_round_;
}

}  // namespace tund::session
