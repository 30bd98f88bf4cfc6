#include "session/path_health.hpp"

#include <algorithm>
#include <cmath>

namespace tund::session {

namespace {
using std::chrono::duration_cast;
using Seconds = std::chrono::duration<double>;

// The Wilson score interval's lower bound for `losses` of `n` (one-sided, z
// = limits::kGrayConfidenceZ): the loss rate we are confident the path has.
double loss_lower_bound(std::uint64_t losses, std::uint64_t n) {
  const double z = limits::kGrayConfidenceZ, nn = static_cast<double>(n);
  const double p = static_cast<double>(losses) / nn;
  const double centre = p + z * z / (2 * nn);
  const double spread = z * std::sqrt(p * (1 - p) / nn + z * z / (4 * nn * nn));
  return (centre - spread) / (1 + z * z / nn);
}
}  // namespace

void PathHealth::reset(Time now, std::optional<Duration> rtt) {
  *this = PathHealth{};
  since_ = now;
  baseline_ = BaselineRtt(now);
  best_at_ = now;
  probe_rtt_ = rtt.value_or(Duration{0});
}

std::optional<Duration> PathHealth::base() const { return baseline_.value(); }

PathHealth::Bucket& PathHealth::bucket(Time now) {
  const std::int64_t index = (now - since_) / limits::kGrayBucket;
  Bucket& b = buckets_[static_cast<std::size_t>(index) % buckets_.size()];
  if (b.index != index) b = Bucket{index};
  return b;
}

Duration PathHealth::window() const {
  return std::clamp<Duration>(std::max(base().value_or(Duration{0}), probe_rtt_) * limits::kGrayWindowRtts, limits::kGrayWindowFloor, limits::kGrayWindowCeiling);
}

void PathHealth::on_ack(Time now, std::optional<Duration> rtt, std::size_t acked, std::size_t bytes,
                        std::size_t lost) {
  Bucket& b = bucket(now);
  b.acked += static_cast<std::uint32_t>(acked);
  b.lost_up += static_cast<std::uint32_t>(lost);
  b.bytes += bytes;
  if (rtt) {
    baseline_.add(now, *rtt);
    rtt_ = rtt_ ? (*rtt_ * 3 + *rtt) / 4 : *rtt;
  }
  note_rate(now);
}

void PathHealth::on_receive(Time now, std::uint64_t seq, std::size_t bytes, bool on_this_path) {
  Bucket& b = bucket(now);
  if (on_this_path) {
    ++b.received;
    b.bytes += bytes;
  }
  if (highest_down_ != 0 && seq > highest_down_ + 1) b.gaps += static_cast<std::int32_t>(std::min<std::uint64_t>(seq - highest_down_ - 1, 1u << 16));
  else if (seq < highest_down_) --b.gaps;  // a gap filled late: it was not lost
  highest_down_ = std::max(highest_down_, seq);
  note_rate(now);
}

PathHealth::Totals PathHealth::totals(Time now) const {
  Totals t;
  const std::int64_t newest = (now - since_) / limits::kGrayBucket;
  const std::int64_t count = std::max<std::int64_t>(1, window() / limits::kGrayBucket);
  std::int64_t gaps = 0;
  for (const Bucket& b : buckets_) {
    if (b.index < 0 || b.index > newest || b.index <= newest - count) continue;
    t.packets += b.acked + b.lost_up + b.received;
    t.losses += b.lost_up;
    gaps += b.gaps;
    t.bytes += b.bytes;
  }
  gaps = std::max<std::int64_t>(gaps, 0);
  t.gaps = static_cast<std::uint64_t>(gaps);
  t.packets += t.gaps;
  t.losses += t.gaps;
  // The window ends now and spans `count` slices (less right after a reset).
  t.span = std::min<Duration>(limits::kGrayBucket * count, now - since_);
  return t;
}

void PathHealth::note_rate(Time now) {
  // The best is kept over about kGrayBaselineWindow: halved each time that passes.
  while (now - best_at_ >= limits::kGrayBaselineWindow) {
    best_bps_ /= 2;
    best_at_ += limits::kGrayBaselineWindow;
  }
  if (now - since_ < window()) return;  // a partial window says nothing of the rate
  const Totals t = totals(now);
  if (t.span.count() > 0) best_bps_ = std::max(best_bps_, 8.0 * static_cast<double>(t.bytes) / duration_cast<Seconds>(t.span).count());
}

const char* PathHealth::judge(Time now, Duration standby_rtt, bool bonded) const {
  if (now - since_ < window() || !rtt_) return nullptr;  // not a whole window on this path yet
  const Totals t = totals(now);
  const Summary s = summarise(t);
  const Duration base = s.base_rtt.value_or(*rtt_);
  const Duration queue = *rtt_ > base ? *rtt_ - base : Duration{0};
  // Losses that come with a standing queue while the path delivers as fast
  // as ever are our own traffic overflowing it (congestion), not the radio.
  const bool short_queue = queue < std::max<Duration>(limits::kGrayQueueFloor, base / 4);
  // Bonded, the path delivers only its flows' share, under its best (measured
  // while it carried them all) by design: a standing queue alone says
  // congestion, and delivery says nothing of collapse.
  const bool congested = !short_queue && (bonded || s.delivery_bps >= limits::kGrayCollapse * best_bps_);
  // Bonded, the hub's one sequence runs over every bonded path: a gap is a
  // packet lost on any of them (often to the hub's own pacer overshooting a
  // bonded path's buffer), so only this path's own packets' losses count.
  const std::uint64_t packets = bonded ? t.packets - t.gaps : t.packets;
  const std::uint64_t losses = bonded ? t.losses - t.gaps : t.losses;
  if (!congested && packets >= limits::kGrayMinPackets && losses >= limits::kGrayMinLosses &&
      loss_lower_bound(losses, packets) > limits::kGrayLoss)
    return "lossy";
  if (!bonded && queue > std::max<Duration>(standby_rtt, limits::kGrayQueueFloor) && best_bps_ > 0 &&
      s.delivery_bps < limits::kGrayCollapse * best_bps_)
    return "collapsed";
  return nullptr;
}

PathHealth::Summary PathHealth::summarise(const Totals& t) const {
  Summary s;
  if (t.packets) s.loss = static_cast<double>(t.losses) / static_cast<double>(t.packets);
  s.base_rtt = base();
  s.rtt = rtt_;
  if (t.span.count() > 0) s.delivery_bps = 8.0 * static_cast<double>(t.bytes) / duration_cast<Seconds>(t.span).count();
  s.best_bps = best_bps_;
  return s;
}

}  // namespace tund::session
