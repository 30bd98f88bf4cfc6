// What the data stream says about the active path between its probes (one a
// second): acknowledged data gives round trips and delivered bytes, data the
// hub never acknowledged gives loss on the way up, gaps in the hub's data
// loss on the way down. A Wi-Fi fading as someone walks away keeps its
// carrier and answers most probes; here it shows within a few round trips.
//
// Gray failures, judged over the last window (clamp(4 baseline RTT, floor,
// ceiling)) and only while a standby could take over:
//   lossy      more than kGrayLoss of the window's packets lost, with 95%
//              confidence (the Wilson score's lower bound: a call's 20
//              packets losing 4 by chance on a 10% path is not a fade), and
//              at least kGrayMinLosses of them, unless a standing queue comes
//              with delivery as fast as ever: then it is our own traffic
//              overflowing the queue (congestion), not the radio
//   collapsed  the queue delay (round trip above the path's baseline, its
//              least over the last kGrayBaselineWindow) past the standby's
//              whole round trip, while delivery fell under kGrayCollapse of
//              the path's recent best: capacity went, the link did not just
//              get busier (a bulk transfer filling the queue delivers as fast
//              as ever)
// Sans I/O: every input carries `now`.
#pragma once

#include <array>
#include <optional>

#include "session/baseline_rtt.hpp"
#include "tund/limits.hpp"
#include "tund/types.hpp"

namespace tund::session {

class PathHealth {
 public:
  // The path became active: everything measured before is forgotten.
  // `rtt`: its probes' round trip, if known: the window is never shorter
  // than that says, so the first window after a switch is a whole one.
  void reset(Time now, std::optional<Duration> rtt = std::nullopt);
  Time since() const { return since_; }

  // Our data was acknowledged: `rtt` from the newest newly acknowledged
  // packet, `acked` packets of `bytes`, and `lost` packets found lost (later
  // ones acknowledged, these not).
  void on_ack(Time now, std::optional<Duration> rtt, std::size_t acked, std::size_t bytes, std::size_t lost);
  // New data from the hub (sequence `seq`, `bytes` long): gaps in the
  // sequence are losses on the way down, until the missing packet comes.
  // `on_this_path`: false for data that came first by another path (a copy
  // on a standby): it fills or moves the sequence, it is not counted here.
  void on_receive(Time now, std::uint64_t seq, std::size_t bytes, bool on_this_path = true);

  // Why the path is failing gray ("lossy", "collapsed"), or nothing.
  // `standby_rtt`: the round trip of the path that would take over.
  // `bonded`: the path carries only some of the session's flows (issue 30):
  // never "collapsed", losses with a standing queue are congestion, and gaps
  // in what the hub sent are not counted (they are every bonded path's).
  const char* judge(Time now, Duration standby_rtt, bool bonded = false) const;

  // The reordering allowance for loss detection (RACK's min_rtt / 4).
  Duration reorder_window() const { return base().value_or(Duration{0}) / limits::kGrayReorderDivisor; }

  // For status and metrics, over the current window.
  struct Summary {
    double loss = 0;                   // of the window's packets, both ways
    std::optional<Duration> base_rtt;  // least round trip of data lately
    std::optional<Duration> rtt;       // recent round trip of data
    double delivery_bps = 0;           // delivered both ways over the window
    double best_bps = 0;               // the recent best of that
  };
  Summary summary(Time now) const { return summarise(totals(now)); }
  // The recent round trip of data (EWMA 1/4), if any was acknowledged yet.
  std::optional<Duration> rtt() const { return rtt_; }

 private:
  struct Bucket {
    std::int64_t index = -1;  // which kGrayBucket-long slice of time since reset
    std::uint32_t acked = 0, lost_up = 0, received = 0;
    std::int32_t gaps = 0;  // may go down when a missing packet arrives late
    std::uint64_t bytes = 0;
  };
  Bucket& bucket(Time now);
  std::optional<Duration> base() const;
  Duration window() const;
  struct Totals {
    std::uint64_t packets = 0, losses = 0, bytes = 0;
    std::uint64_t gaps = 0;  // of packets and losses: the hub's sequence gaps
    Duration span{0};
  };
  Totals totals(Time now) const;
  Summary summarise(const Totals& t) const;
  void note_rate(Time now);

  Time since_{};
  Duration probe_rtt_{0};
  std::array<Bucket, limits::kGrayBuckets> buckets_{};
  BaselineRtt baseline_;
  std::optional<Duration> rtt_;  // EWMA 1/4 of data round trips: follows a queue fast
  std::uint64_t highest_down_ = 0;
  double best_bps_ = 0;  // decays by half every kGrayBaselineWindow
  Time best_at_{};
};

}  // namespace tund::session
