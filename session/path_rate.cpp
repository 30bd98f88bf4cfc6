#include "session/path_rate.hpp"

#include <algorithm>

namespace tund::session {

namespace {
using Seconds = std::chrono::duration<double>;
double seconds(Duration d) { return std::chrono::duration_cast<Seconds>(d).count(); }
}  // namespace

void PathRate::reset(Time now, std::optional<Duration> rtt) {
  const Counters kept = counters_;
  *this = PathRate{};
  counters_ = kept;
  baseline_ = BaselineRtt(now);
  one_way_base_ = BaselineRtt(now);
  refilled_ = round_start_ = base_seen_ = now;
  first_rtt_ = rtt;
}

void PathRate::resume(Time now, double share) {
  rate_ = std::max(rate_ * share, limits::kRateInitial / 8.0);
  tokens_ = 0;
  refilled_ = round_start_ = base_seen_ = now;
  round_bytes_ = round_sent_ = 0;
  round_min_rtt_.reset();
  round_min_one_way_.reset();
  open_ = false;
  blind_rounds_ = 0;
  round_index_ = 0;  // a round trip's acknowledgements first, before it is lowered
  last_sent_rate_ = 0;
  delivered_.fill(0);  // else the first round would jump back to the old best
  searching_ = true;
}

Duration PathRate::queue_target() const {
  const Duration by_rtt =
      std::clamp<Duration>(base_rtt().value_or(Duration{0}) / 4, limits::kQueueTargetFloor, limits::kQueueTargetCeiling);
  const double packet_s = static_cast<double>(limits::kFlowQuantum + limits::kRatePacketOverhead) / rate_;
  const auto by_packets = std::chrono::duration_cast<Duration>(Seconds(limits::kQueueTargetPackets * packet_s));
  return std::max(by_rtt, by_packets);
}

bool PathRate::round_over(Time now) const {
  const Duration length = now - round_start_;
  if (length < round_length()) return false;
  // A round with no sample at all ends on time: it counts toward opening a
  // blind pacer (kRateBlindRounds), or says nothing on an idle path.
  return round_samples_ == 0 || round_samples_ >= limits::kRateRoundSamples ||
         length >= round_length() * limits::kRateRoundStretch;
}

Duration PathRate::round_length() const {
  const auto rtt = last_round_rtt_ ? last_round_rtt_ : first_rtt_;
  return std::max<Duration>(rtt.value_or(Duration{0}), limits::kRateRoundFloor);
}

void PathRate::refill(Time now) {
  if (now <= refilled_) return;
  // The bucket holds at most kPaceBurst of the rate (and two full packets):
  // a pause is not saved up into a burst the radio's buffer would take.
  const double cap = std::max(rate_ * seconds(limits::kPaceBurst), 2.0 * limits::kFlowQuantum);
  tokens_ = std::min(cap, tokens_ + rate_ * seconds(now - refilled_));
  refilled_ = now;
}

bool PathRate::take(std::size_t bytes, Time now) {
  if (round_over(now)) end_round(now);
  if (open_) return true;
  refill(now);
  if (tokens_ < 0) return false;
  spend(bytes, now);  // the last packet may overdraw: never split
  return true;
}

void PathRate::spend(std::size_t bytes, Time now) {
  refill(now);
  const std::size_t wire = bytes + limits::kRatePacketOverhead;
  tokens_ -= static_cast<double>(wire);
  round_sent_ += wire;
}

Time PathRate::next_release(Time now) const {
  if (open_) return now;
  const double have = tokens_ + rate_ * seconds(std::max<Duration>(now - refilled_, Duration{0}));
  if (have >= 0) return now;
  return now + std::chrono::duration_cast<Duration>(Seconds(-have / rate_)) + Duration(1);
}

std::optional<std::int64_t> PathRate::one_way_sample(std::uint32_t received_us, std::optional<Time> sent) {
  if (!received_us || !sent) return std::nullopt;
  const auto sent_us = static_cast<std::uint32_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(sent->time_since_epoch()).count());
  return static_cast<std::int64_t>(static_cast<std::uint32_t>(received_us - sent_us));
}

void PathRate::on_ack(Time now, std::optional<Duration> rtt, std::size_t bytes, std::size_t packets,
                      std::optional<std::int64_t> one_way) {
  // In the units data is paced in: on the wire, headers and all (a call's
  // small packets are half headers).
  round_bytes_ += bytes + packets * limits::kRatePacketOverhead;
  if (one_way) {
    // Relative to the path's first sample, as a signed 32-bit distance: the
    // clocks' offset cancels and the modulus never bites within ±35 minutes.
    const auto raw = static_cast<std::uint32_t>(*one_way);
    if (!one_way_origin_) one_way_origin_ = raw;
    const Duration d = std::chrono::microseconds(static_cast<std::int32_t>(raw - *one_way_origin_));
    // A jump beyond any queue (the peer's clock restarted): start over.
    const auto base = one_way_base_.value();
    if (base && (d - *base > limits::kGrayBaselineWindow || *base - d > limits::kGrayBaselineWindow)) {
      one_way_origin_ = raw;
      one_way_base_ = BaselineRtt(now);
      round_min_one_way_.reset();
    } else {
      one_way_base_.add(now, d);
      round_min_one_way_ = round_min_one_way_ ? std::min(*round_min_one_way_, d) : d;
      if (base) end_search(d - *base);
    }
  } else if (rtt && base_rtt()) {
    end_search(*rtt - *base_rtt());
  }
  if (rtt) {
    baseline_.add(now, *rtt);
    round_min_rtt_ = round_min_rtt_ ? std::min(*round_min_rtt_, *rtt) : *rtt;
    ++round_samples_;
    if (open_) {
      // Acknowledgements speak again: pace from what they say.
      open_ = false;
      blind_rounds_ = 0;
      refilled_ = now;
      tokens_ = 0;
    }
  }
  if (round_over(now)) end_round(now);
}

void PathRate::end_search(Duration queue) {
  // The search doubles the rate a round, blind for a round trip to what the
  // last doubling did, and a round's least delay is older still: on a GEO
  // uplink it doubled twice past the path (16 Mbit/s on 5) and left a
  // second of queue in its buffer. The first acknowledgement that met a
  // full target of queue ends it, back at the best the path delivered.
  if (!searching_ || queue <= queue_target()) return;
  searching_ = false;
  const double best = best_delivered();
  if (best > 0 && best < rate_) {
    rate_ = std::max(best, limits::kRateFloor / 8.0);
    ++counters_.decreases;
  }
}

void PathRate::end_round(Time now) {
  const Duration length = now - round_start_;
  const double delivered = static_cast<double>(round_bytes_) / std::max(seconds(length), 1e-6);
  const std::size_t sent = round_sent_;
  const auto min_rtt = round_min_rtt_;
  const auto min_one_way = round_min_one_way_;
  round_start_ = now;
  round_bytes_ = round_sent_ = 0;
  round_samples_ = 0;
  round_min_rtt_.reset();
  round_min_one_way_.reset();
  const double sent_rate = static_cast<double>(sent) / std::max(seconds(length), 1e-6);
  const double sent_before = last_sent_rate_;
  last_sent_rate_ = sent_rate;

  if (!min_rtt) {
    // Data left and nothing came back that says how it went.
    if (sent > 0 && !open_ && ++blind_rounds_ >= limits::kRateBlindRounds) {
      open_ = true;
      ++counters_.blind_opens;
    }
    return;
  }
  blind_rounds_ = 0;
  last_round_rtt_ = min_rtt;
  delivered_[round_index_++ % delivered_.size()] = delivered;
  if (delivered >= peak_delivered_ || now - peak_at_ > limits::kRateResumeWindow) {
    peak_delivered_ = delivered;
    peak_at_ = now;
  }
  const Duration queue = min_one_way && one_way_base_.value() ? *min_one_way - *one_way_base_.value()
                                                               : *min_rtt - base_rtt().value_or(*min_rtt);
  const std::optional<Duration> queue_before = last_queue_;
  last_queue_ = queue;
  // What the path carries. With a queue standing on it, the link was busy
  // all round: what it delivered is its capacity now (after a drop, the
  // best of earlier rounds would be a lie for as many long rounds). Without
  // one, the best of the last rounds (a round whose acknowledgements came
  // late or bunched says less than the path carried).
  const double capacity =
      queue > queue_target() ? delivered : best_delivered();
  // Steer the path's queue toward the target: a proportional step, a share
  // of the error per round trip, within [kRateStepMin, kRateStepMax] of
  // what it carries. Under the target it grows (up to doubling a round on an
  // empty path: how a new path is found out); over it, it drains.
  // The error is measured in baseline round trips: a long queue drains in
  // few rounds, however long they have become.
  const Duration base = base_rtt().value_or(*min_rtt);
  const double error = seconds(queue_target() - queue) / seconds(std::max<Duration>(base, limits::kRateRoundFloor));
  // A new path, no queue seen yet: nothing says where its capacity is, so
  // it is looked for as fast as the step allows (until the first queue).
  if (queue > queue_target() / 2) searching_ = false;
  double step = searching_ ? limits::kRateStepMax
                           : std::clamp(1.0 + limits::kRateGain * error, limits::kRateStepMin, limits::kRateStepMax);
  // The baseline is a windowed minimum: a queue kept standing at the target
  // for a whole window would become the baseline, and the next queue would
  // stand on top of it. So every kRateBaseRefresh without a round near the
  // baseline, one round drains the path (BBR's ProbeRTT, for a round trip).
  if (queue <= queue_target() / 4) base_seen_ = now;
  bool refresh = false;
  if (now - base_seen_ >= limits::kRateBaseRefresh) {
    step = limits::kRateStepMin;
    base_seen_ = now;
    refresh = true;
    ++counters_.base_refreshes;
  }
  double next = std::clamp(capacity * step, limits::kRateFloor / 8.0, limits::kRateCeiling / 8.0);
  // Only a queue on the path (half the target) lowers the rate, or a drain
  // round. Without one, what the acknowledgements say was delivered is what
  // there was to send: an application's own pace (a call, a download's
  // acknowledgements on the way up), a handover's resends, answers to what
  // went out before a move; never what the path carries.
  // And a sender that used less than kRateBusyShare of its rate, all of it
  // delivered, is not what filled the queue (a radio's jitter, someone
  // else's traffic): it is not paced below kRateStepMax times its own pace,
  // or its next burst would wait in tund. Unless the queue grew over the
  // round, or stands beyond kRateOwnQueueTargets targets: a TCP flow whose
  // window, not the pacer, sets its pace sends what the path delivers and a
  // little more each round, filling a deep buffer under a pacer that never
  // binds (bench/crowded wifi-deep: paced at 31 Mbit/s on a 20 Mbit/s link
  // while the queue grew to 400 ms).
  const bool growing = queue_before && queue > *queue_before;
  const bool deep = queue > queue_target() * limits::kRateOwnQueueTargets;
  const bool own = growing || deep;
  const bool busy = sent_rate >= limits::kRateBusyShare * rate_ || delivered < limits::kRateBusyShare * sent_rate;
  if (!busy && !own) next = std::max(next, sent_rate * limits::kRateStepMax);
  // What it delivered measures the path only if the sender pressed on it
  // (a queue that merely grew may be a radio's jitter under a call).
  if (queue > queue_target() / 2 && (busy || deep)) measured_at_ = now;
  // Searching, a round in which the sender used its rate while the path
  // delivered what the round before sent (no queue yet): the rate itself
  // grows by kRateSearchStep, as the slow start of the TCP inside does. The
  // step on what was delivered alone lags a round (a round's acknowledgements
  // are of what the round before sent) and grew kRateStepMax every two.
  if (searching_ && !refresh && sent_rate >= limits::kRateBusyShare * rate_ && sent_before > 0 &&
      delivered >= limits::kRateBusyShare * sent_before)
    next = std::max(next, std::min(rate_ * limits::kRateSearchStep, limits::kRateCeiling / 8.0));
  if (!refresh && queue <= queue_target() / 2 && next < rate_) return;
  // Until a round trip's acknowledgements are in, a round says little.
  if (round_index_ <= 1 && next < rate_) return;
  (next < rate_ ? counters_.decreases : counters_.increases) += 1;
  rate_ = next;
}

}  // namespace tund::session
