// How fast one path delivers our data, and the pacer that keeps what we send
// just under that, so the standing queue forms in tund (flow_queue.hpp),
// where it is served per flow, and not in a radio's seconds-deep buffer
// (issue 29). The idea is cake-autorate's (shape just below what the link
// delivers, judged by the delay it adds) with BBR's measurement (delivery
// rate and round trips from the acknowledgements of the data itself; no
// probing traffic).
//
// Each round (the path's recent round trip, at least kRateRoundFloor):
//   delivered    inner bytes acknowledged over the round, per second; the
//                path's capacity is the best of the last kRateWindowRounds
//   queue delay  the round's least one-way delay above its least over
//                kGrayBaselineWindow (the peer says when it received; a
//                queue the acknowledgements met on the way back is not ours
//                to drain), else the round trip above the path's baseline
// and at the round's end the rate becomes capacity x step, the step a
// proportional answer to how far the queue is from its target:
//   step = clamp(1 + kRateGain (target - queue delay) / baseline,
//                kRateStepMin, kRateStepMax)
// A new path starts at kRateInitial (nothing is dumped into an unknown
// radio) and grows by kRateStepMax a round until the first queue shows (by
// kRateSearchStep while the sender uses all of it and the path delivers it,
// as a TCP slow start inside grows); from
// then on a queue over the target drains at a share of its excess per
// baseline round trip, and one at the target is kept there: the link stays
// busy and the queue stays short. The gain is under 1/2 so that a decision
// seen a round trip late neither overshoots nor oscillates.
// Only a queue (half the target) lowers the rate: without one, what was delivered is
// what there was to send (an application's pace, a handover's resends), so
// the rate only grows, when the sender used most of it.
// A queue held at the target would, after a window, pass for the baseline:
// every kRateBaseRefresh without a round near the baseline, one round is
// paced at kRateStepMin so the path drains and its baseline is seen again.
// The target is clamp(baseline / 4, kQueueTargetFloor, kQueueTargetCeiling),
// at least kQueueTargetPackets full packets' time at the rate: a few tens of
// ms on a radio link, however short its round trip. A round needs
// kRateRoundSamples acknowledgements (or kRateRoundStretch lengths) to end.
// When acknowledgements say nothing for kRateBlindRounds rounds while data
// goes out (the resend buffer kept none: on a hub, its shared budget full),
// the pacer opens rather than hold traffic on a guess.
// Sans I/O: every call carries `now`.
#pragma once

#include <algorithm>
#include <array>
#include <optional>

#include "session/baseline_rtt.hpp"
#include "tund/limits.hpp"
#include "tund/types.hpp"

namespace tund::session {

class PathRate {
 public:
  // A new path (or the session's first): everything measured goes, the rate
  // starts at kRateInitial. `rtt`: the path's probe round trip,
  // when known (the first round's length).
  void reset(Time now, std::optional<Duration> rtt = std::nullopt);
  // A path this session used lately comes back (paced_sender.hpp): its
  // baseline and best deliveries stay, the rate starts again from `share`
  // of what it was (at least kRateInitial) and is searched up from there.
  void resume(Time now, double share);

  // Pacing: true when a data packet of `bytes` (inner) may leave now (and it
  // is counted, with kRatePacketOverhead); false when it must wait
  // (next_release()). Rates are of data on the wire: what the
  // acknowledgements measure. Control frames are neither paced nor counted.
  bool take(std::size_t bytes, Time now);
  // Counts bytes that left without asking (resends a switching exchange
  // owes, staged packets): they use the path all the same.
  void spend(std::size_t bytes, Time now);
  // When the next packet may leave (now, if it may).
  Time next_release(Time now) const;

  // An acknowledgement: `rtt` of the newest data it covered first (if any),
  // the inner bytes and packets it covered first, and `one_way`: when the peer received
  // its highest packet (its clock, wire::control::kAckReceived) less when we
  // sent it (ours), if both are known.
  void on_ack(Time now, std::optional<Duration> rtt, std::size_t bytes, std::size_t packets,
              std::optional<std::int64_t> one_way = std::nullopt);
  // The one-way sample of an ack: Ack::received_us less `sent` (mod 2^32), or nothing.
  static std::optional<std::int64_t> one_way_sample(std::uint32_t received_us, std::optional<Time> sent);

  // No queue seen on the path yet (a new path, or one resumed): the rate is
  // still being searched up, and what waits for it is the pacer's own lag.
  bool searching() const { return searching_; }
  // For status and metrics.
  bool pacing() const { return !open_; }
  double rate_bps() const { return open_ ? 0 : rate_ * 8; }  // 0: not pacing
  // What the path showed it carries: the most it delivered in a round
  // within kRateResumeWindow (as long as its baseline is trusted), or its
  // pacing rate if more. Whether two paths are alike (bond_scheduler.hpp)
  // is judged on this: a rate a queue pushed down says little of the path,
  // and a path that then carries nothing would never show more.
  double capacity_bps() const { return std::max(rate_, peak_delivered_) * 8; }
  // Whether a round lately (kRateResumeWindow) said what the path carries:
  // a queue over half the target while the sender used its rate, or one
  // kRateOwnQueueTargets targets deep. A queue a quiet sender met (a call
  // alone on a path, a radio's jitter) lowers its rate but says nothing of
  // the path's capacity; the bond scheduler takes such a path as unmeasured.
  bool measured(Time now) const { return measured_at_ && now - *measured_at_ < limits::kRateResumeWindow; }
  std::optional<Duration> base_rtt() const { return baseline_.value(); }
  std::optional<Duration> recent_rtt() const { return last_round_rtt_; }
  // The forward path's queue over the last round: its one-way delay above
  // its least (the acknowledgements' own queue left out), or, from a peer
  // that does not say when it received, the round trip above its baseline.
  std::optional<Duration> recent_queue() const { return last_queue_; }
  Duration queue_target() const;
  struct Counters {
    std::uint64_t decreases = 0, increases = 0, blind_opens = 0, base_refreshes = 0;
  };
  const Counters& counters() const { return counters_; }

 private:
  void refill(Time now);
  void end_round(Time now);
  void end_search(Duration queue);
  // bytes/s: the best of the last kRateWindowRounds rounds' deliveries.
  double best_delivered() const { return *std::max_element(delivered_.begin(), delivered_.end()); }
  bool round_over(Time now) const;
  Duration round_length() const;

  double rate_ = limits::kRateInitial / 8.0;  // bytes per second
  double tokens_ = 0;                         // may go negative: a packet's debt
  Time refilled_{};
  bool open_ = false;     // not pacing (blind)
  Time round_start_{};
  std::size_t round_bytes_ = 0;
  std::size_t round_sent_ = 0;
  double last_sent_rate_ = 0;  // bytes/s the last round sent (the search's step)
  int round_samples_ = 0;  // acknowledgements with a round trip
  std::optional<Duration> round_min_rtt_;
  std::optional<Duration> last_round_rtt_;
  std::optional<Duration> last_queue_;
  // One-way delay: samples relative to the path's first (so the clocks'
  // offset and the 2^32 wrap cancel), their least this round and lately.
  std::optional<std::uint32_t> one_way_origin_;
  std::optional<Duration> round_min_one_way_;
  BaselineRtt one_way_base_;
  std::optional<Duration> first_rtt_;
  int blind_rounds_ = 0;
  std::array<double, limits::kRateWindowRounds> delivered_{};  // bytes/s, the last rounds
  std::size_t round_index_ = 0;
  double peak_delivered_ = 0;  // bytes/s: the best round lately (capacity_bps)
  Time peak_at_{};
  std::optional<Time> measured_at_;
  Time base_seen_{};      // the last round near the baseline
  bool searching_ = true;  // a new path, no queue seen on it yet
  BaselineRtt baseline_;
  Counters counters_;
};

}  // namespace tund::session
