#include "model.hpp"

#include <algorithm>

namespace linkem {

namespace {
constexpr std::uint32_t kOpportunityBytes = 1500;  // mahimahi: one MTU-sized packet per line
constexpr Time kMillisecond = std::chrono::milliseconds(1);
}  // namespace

double Trace::mean_bits_per_second() const {
  if (period_ms == 0) return 0;
  return double(ms.size()) * kOpportunityBytes * 8 * 1000 / period_ms;
}

Direction::Direction(std::size_t capacity, std::uint64_t seed)
    : rng_(seed ? seed : 1), queue_(capacity) {
  flight_.reserve(capacity);
  lost_.reserve(capacity);
}

void Direction::set(const Params& params, Time now) {
  params_ = params;
  trace_epoch_ = now - params.trace_start;
  counters_.queue_peak_bytes = queued_bytes_;  // the peak under these parameters
  opportunity_synced_ = false;
}

double Direction::uniform() {
  // xorshift64*: fast, seeded, reproducible; quality is ample for loss draws.
  rng_ ^= rng_ >> 12;
  rng_ ^= rng_ << 25;
  rng_ ^= rng_ >> 27;
  return double((rng_ * 0x2545F4914F6CDD1Dull) >> 11) * 0x1.0p-53;
}

bool Direction::lost() {
  if (params_.ge_p > 0) {
    if (ge_bad_ ? uniform() < params_.ge_r : uniform() < params_.ge_p) ge_bad_ = !ge_bad_;
    if (uniform() < (ge_bad_ ? params_.ge_loss_bad : params_.ge_loss_good)) return true;
  }
  return params_.loss > 0 && uniform() < params_.loss;
}

bool Direction::in_outage(Time now) const {
  if (params_.outage_every <= Time{0} || params_.outage_for <= Time{0}) return false;
  return (now - trace_epoch_) % params_.outage_every < params_.outage_for;
}

bool Direction::arrive(Time now, std::uint32_t slot, std::size_t bytes) {
  ++counters_.frames_in;
  counters_.bytes_in += bytes;
  if (in_outage(now)) {
    ++counters_.drop_outage;
    return false;
  }
  const bool room = count_ + flight_.size() + lost_.size() < queue_.size();
  if (!room || queued_bytes_ + bytes > params_.queue_bytes) {
    ++counters_.drop_queue;
    return false;
  }
  if (count_ == 0) {
    // An idle bottleneck banks nothing: the frame waits for the first
    // opportunity from now on, never one that passed while it was empty.
    if (params_.trace) next_opportunity_ = first_opportunity_at_or_after(now);
    opportunity_synced_ = true;
  }
  queue_[(head_ + count_) % queue_.size()] =
      Queued{slot, std::uint32_t(bytes), std::uint32_t(bytes), now};
  ++count_;
  queued_bytes_ += bytes;
  counters_.queue_peak_bytes = std::max(counters_.queue_peak_bytes, queued_bytes_);
  return true;
}

Time Direction::opportunity_time(std::uint64_t index) const {
  const Trace& t = *params_.trace;
  const std::uint64_t n = t.ms.size();
  const std::uint64_t offset_ms = (index / n) * t.period_ms + t.ms[index % n];
  return trace_epoch_ + kMillisecond * std::int64_t(offset_ms);
}

std::uint64_t Direction::first_opportunity_at_or_after(Time t) const {
  const Trace& trace = *params_.trace;
  if (t <= trace_epoch_) return 0;
  const Time period = kMillisecond * trace.period_ms;
  const std::uint64_t k = std::uint64_t((t - trace_epoch_) / period);
  const Time within = (t - trace_epoch_) - period * std::int64_t(k);
  const std::uint64_t within_ms = std::uint64_t((within + kMillisecond - Time(1)) / kMillisecond);  // ceil
  const auto it = std::lower_bound(trace.ms.begin(), trace.ms.end(), within_ms);
  return k * trace.ms.size() + std::uint64_t(it - trace.ms.begin());
}

Time Direction::head_departure() const {
  const Queued& h = queue_[head_];
  const Time start = std::max(h.arrival, link_free_);
  return start + Time(std::int64_t(double(h.bytes) * 8e9 / double(params_.rate_bps)));
}

void Direction::depart(const Queued& frame, Time when) {
  head_ = (head_ + 1) % queue_.size();
  --count_;
  queued_bytes_ -= frame.bytes;
  if (lost()) {
    ++counters_.drop_loss;
    lost_.push_back(frame.slot);
    return;
  }
  Time due = when + params_.delay;
  if (params_.jitter > Time{0}) due += Time(std::int64_t(uniform() * double(params_.jitter.count())));
  const bool may_overtake = params_.reorder > 0 && uniform() < params_.reorder;
  if (!may_overtake) due = std::max(due, last_due_);
  last_due_ = std::max(last_due_, due);
  flight_.push_back(InFlight{due, order_++, frame.slot, frame.bytes});
  std::push_heap(flight_.begin(), flight_.end(), [](const InFlight& a, const InFlight& b) {
    return a.due != b.due ? a.due > b.due : a.order > b.order;
  });
}

void Direction::serve(Time now) {
  if (params_.trace) {
    if (!opportunity_synced_ && count_ > 0) {
      next_opportunity_ = first_opportunity_at_or_after(queue_[head_].arrival);
      opportunity_synced_ = true;
    }
    while (count_ > 0) {
      const Time at = opportunity_time(next_opportunity_);
      if (at > now) break;
      ++next_opportunity_;
      std::uint32_t credit = kOpportunityBytes;
      while (credit > 0 && count_ > 0) {
        Queued& h = queue_[head_];
        const std::uint32_t take = std::min(credit, h.left);
        h.left -= take;
        credit -= take;
        if (h.left == 0) depart(h, at);
      }
    }
    return;
  }
  while (count_ > 0) {
    if (params_.rate_bps == 0) {
      depart(queue_[head_], queue_[head_].arrival);
      continue;
    }
    const Time done = head_departure();
    if (done > now) break;
    link_free_ = done;
    depart(queue_[head_], done);
  }
}

Time Direction::next_event() const {
  Time next = Time::max();
  if (!flight_.empty()) next = flight_.front().due;
  if (count_ > 0) {
    Time serve_at;
    if (params_.trace)
      serve_at = opportunity_synced_ ? opportunity_time(next_opportunity_) : queue_[head_].arrival;
    else
      serve_at = params_.rate_bps == 0 ? queue_[head_].arrival : head_departure();
    next = std::min(next, serve_at);
  }
  return next;
}

}  // namespace linkem
