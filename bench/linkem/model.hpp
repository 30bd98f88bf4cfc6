// One direction of an emulated link, without I/O and without a clock: frames
// arrive at a time the caller gives, and the model says when each leaves.
//
//   arrive -> outage? -> droptail queue (bytes) -> bottleneck (rate or trace)
//          -> loss (Bernoulli, Gilbert-Elliott) -> delay + jitter -> deliver
//
// Loss is applied after the bottleneck: a radio frame that is lost still used
// its airtime. Jitter is uniform in [0, jitter] and, unless `reorder` says
// otherwise, never lets a frame overtake the one before it (a radio link
// delivers in order; the delay varies). A capacity trace (mahimahi's format)
// gives one 1500-byte delivery opportunity per line; a frame uses bytes of
// as many opportunities as it needs and unused bytes of an opportunity are
// lost, as in mahimahi's mm-link.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace linkem {

using Time = std::chrono::nanoseconds;  // since an arbitrary epoch, monotonic

// A mahimahi capacity trace: millisecond offsets (non-decreasing), each one
// 1500-byte opportunity; the file repeats every `period_ms` (its last value).
struct Trace {
  std::vector<std::uint32_t> ms;
  std::uint32_t period_ms = 0;
  double mean_bits_per_second() const;
};

struct Params {
  std::uint64_t rate_bps = 0;             // 0: no limit (unless a trace is set)
  std::shared_ptr<const Trace> trace;     // replaces rate_bps when set
  Time trace_start{0};                    // where in the trace a set() starts it
  Time delay{0};                          // propagation, one way
  Time jitter{0};                         // uniform extra delay in [0, jitter]
  double reorder = 0;                     // chance a frame's jitter may overtake
  double loss = 0;                        // Bernoulli loss
  // Gilbert-Elliott loss: chance per frame to go good->bad and bad->good, and
  // the loss rate in each state. Off while ge_p == 0.
  double ge_p = 0, ge_r = 1, ge_loss_bad = 1, ge_loss_good = 0;
  std::size_t queue_bytes = 1u << 20;     // droptail limit of the bottleneck queue
  Time outage_every{0}, outage_for{0};    // every `every`, drop all for `for`
};

struct Counters {
  std::uint64_t frames_in = 0, bytes_in = 0;
  std::uint64_t frames_out = 0, bytes_out = 0;
  std::uint64_t drop_queue = 0, drop_loss = 0, drop_outage = 0;
  std::size_t queue_peak_bytes = 0;  // since the parameters were last set
};

class Direction {
 public:
  explicit Direction(std::size_t capacity, std::uint64_t seed = 1);

  // Replaces the parameters from `now` on. Frames already queued keep their
  // place; a new trace starts its first period at `now`.
  void set(const Params& params, Time now);
  const Params& params() const { return params_; }

  // A frame of `bytes` (IP bytes, for capacity and queue) held in the
  // caller's buffer `slot` arrived at `now`. Returns false if it was dropped
  // on arrival (outage, full queue, no room): the caller frees the slot.
  bool arrive(Time now, std::uint32_t slot, std::size_t bytes);

  // Advances the model to `now` and hands every frame due by then to
  // `deliver(slot, due)` in delivery order, and every frame lost on the link to
  // `drop(slot)`.
  template <class Deliver, class Drop>
  void run(Time now, Deliver&& deliver, Drop&& drop);

  // When run() next has something to do; Time::max() when idle.
  Time next_event() const;
  std::size_t queued_bytes() const { return queued_bytes_; }
  const Counters& counters() const { return counters_; }

 private:
  struct Queued {
    std::uint32_t slot;
    std::uint32_t bytes;
    std::uint32_t left;  // bytes not yet given an opportunity (trace)
    Time arrival;
  };
  struct InFlight {
    Time due;
    std::uint64_t order;
    std::uint32_t slot;
    std::uint32_t bytes;
  };

  bool in_outage(Time now) const;
  double uniform();
  bool lost();
  // Moves frames that finished crossing the bottleneck by `now` to the delay
  // line (or to `lost_`).
  void serve(Time now);
  void depart(const Queued& frame, Time when);
  Time opportunity_time(std::uint64_t index) const;
  std::uint64_t first_opportunity_at_or_after(Time t) const;
  Time head_departure() const;  // rate mode

  Params params_;
  Time trace_epoch_{0};
  std::uint64_t next_opportunity_ = 0;  // index into the looped trace
  bool opportunity_synced_ = false;     // false: resync to the next arrival
  Time link_free_{0};                   // rate mode: when the head may start
  Time last_due_{0};                    // no reordering past this
  std::uint64_t order_ = 0;
  bool ge_bad_ = false;
  std::uint64_t rng_;

  // Fixed-capacity rings and heap: nothing is allocated per frame.
  std::vector<Queued> queue_;
  std::size_t head_ = 0, count_ = 0;
  std::size_t queued_bytes_ = 0;
  std::vector<InFlight> flight_;  // min-heap on (due, order)
  std::vector<std::uint32_t> lost_;
  Counters counters_;
};

template <class Deliver, class Drop>
void Direction::run(Time now, Deliver&& deliver, Drop&& drop) {
  serve(now);
  for (std::uint32_t slot : lost_) drop(slot);
  lost_.clear();
  auto later = [](const InFlight& a, const InFlight& b) {
    return a.due != b.due ? a.due > b.due : a.order > b.order;
  };
  while (!flight_.empty() && flight_.front().due <= now) {
    std::pop_heap(flight_.begin(), flight_.end(), later);
    ++counters_.frames_out;
    counters_.bytes_out += flight_.back().bytes;
    deliver(flight_.back().slot, flight_.back().due);
    flight_.pop_back();
  }
}

}  // namespace linkem
