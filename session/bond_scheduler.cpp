#include "session/bond_scheduler.hpp"

#include <algorithm>
#include <cmath>

#include "session/flow_fields.hpp"

namespace tund::session {

namespace {
using Seconds = std::chrono::duration<double>;
constexpr std::size_t kNone = limits::kAckPathShares;

Duration from_seconds(double s) { return std::chrono::duration_cast<Duration>(Seconds(s)); }
}  // namespace

bool BondScheduler::alike(const BondPath& a, const BondPath& b) {
  if (!a.base_rtt || !b.base_rtt) return false;
  const Duration spread = *a.base_rtt > *b.base_rtt ? *a.base_rtt - *b.base_rtt : *b.base_rtt - *a.base_rtt;
  // A path not measured yet says nothing of what it carries: its rate is
  // where its pacer started or how far its search has doubled on little
  // data (an idle bonded path read 46-50 Mbit/s beside a measured 20, and
  // one download at lab start stayed on one of two alike links: bench/bond,
  // 2 runs of 6). It is taken to be like the other, its round trip the one
  // hint of what it is.
  if (!a.measured || !b.measured) {
    const auto unmeasured_spread =
        std::max<Duration>(std::chrono::duration_cast<Duration>(std::max(*a.base_rtt, *b.base_rtt) *
                                                                limits::kBondUnmeasuredRttShare),
                           limits::kBondUnmeasuredRttSlack);
    return spread <= unmeasured_spread;
  }
  const double ca = std::max(a.rate_bps, a.capacity_bps), cb = std::max(b.rate_bps, b.capacity_bps);
  if (ca <= 0 || cb <= 0) return false;
  const double ratio = std::max(ca, cb) / std::min(ca, cb);
  return ratio <= limits::kBondAlikeCapacityRatio && spread <= limits::kBondAlikeRttDifference;
}

bool BondScheduler::share_gains(double flow, double here, std::size_t here_flows, double there,
                                std::size_t there_flows) {
  if (here <= 0 || there <= 0 || here_flows < 2) return false;
  const double share_here = here / static_cast<double>(here_flows);
  if (!contends(flow, here, here_flows) || flow * limits::kBondMoveFactor > here) return false;
  return there / static_cast<double>(there_flows + 1) > limits::kBondMoveFactor * share_here;
}

void BondScheduler::set_paths(const std::vector<BondPath>& paths, Time now) {
  std::array<Path, limits::kAckPathShares> next{};
  std::array<PathCount, limits::kAckPathShares> next_counts{};
  std::size_t n = 0;
  for (const auto& p : paths) {
    if (n == next.size() || !p.id) break;
    const std::size_t was = index(p.id);
    next[n] = was == kNone ? Path{p, 0, now} : paths_[was];
    next[n].info = p;
    next_counts[n] = was == kNone ? PathCount{p.id} : counts_[was];
    ++n;
  }
  paths_ = next;
  counts_ = next_counts;
  path_count_ = n;
  best_rate_ = 0;
  any_measured_ = false;
  longest_base_.reset();
  for (std::size_t i = 0; i < n; ++i) {
    best_rate_ = std::max(best_rate_, paths_[i].info.rate_bps / 8);
    any_measured_ = any_measured_ || paths_[i].info.measured;
    if (const auto base = paths_[i].info.base_rtt) longest_base_ = std::max(longest_base_.value_or(*base), *base);
  }
  // Each path's partner: of the paths alike to it, the fastest (a path not
  // measured yet is alike by its round trip alone: alike(); its pacer starts
  // it low and learns).
  for (std::size_t i = 0; i < n; ++i) {
    paths_[i].partner = kNone;
    for (std::size_t j = 0; j < n; ++j)
      if (j != i && alike(paths_[i].info, paths_[j].info) &&
          (paths_[i].partner == kNone || rate_of(paths_[j]) > rate_of(paths_[paths_[i].partner])))
        paths_[i].partner = j;
  }
}

std::size_t BondScheduler::index(std::uint32_t id) const {
  for (std::size_t i = 0; i < path_count_; ++i)
    if (paths_[i].info.id == id) return i;
  return kNone;
}

BondScheduler::Path* BondScheduler::find(std::uint32_t id) {
  const std::size_t i = index(id);
  return i == kNone ? nullptr : &paths_[i];
}

double BondScheduler::rate_of(const Path& p) const {
  const double own = std::max(p.info.rate_bps > 0 ? p.info.rate_bps : limits::kRateInitial, limits::kRateFloor) / 8;
  return p.info.measured ? own : std::max(own, best_rate_);
}

Duration BondScheduler::queue_left(const Path& p, Time now) const {
  const Duration since = !p.info.queue_at || now < *p.info.queue_at ? Duration{0} : now - *p.info.queue_at;
  return std::max(p.info.queue - since, Duration{0});
}

Duration BondScheduler::delivery(Path& p, Time now) {
  // The backlog: what we gave the path that no acknowledgement spoke of yet,
  // also drained at its rate between acknowledgements. It foresees the
  // queue a burst of placements builds before the path's acknowledgements
  // show it; drained twice it errs low, never accumulating (an estimated
  // rate under what the path carries would make it grow without end: the
  // upload of bond_test.sh left 5 MB of it), and the measured queue
  // corrects it a round trip later.
  if (now > p.drained) {
    p.backlog = std::max(0.0, p.backlog - rate_of(p) * Seconds(now - p.drained).count());
    p.drained = now;
  }
  // Until some path is measured every rate is what it was given (at first
  // kRateInitial), and a backlog would read as seconds: a first flow's
  // initial window would make its path look full and send every other flow
  // elsewhere. Then only flows weigh (cost()). Once one is, an unmeasured
  // path's backlog drains at the best rate (rate_of()), like the others'.
  const Duration backlog = any_measured_ ? from_seconds(p.backlog / rate_of(p)) : Duration{0};
  return std::max(backlog, queue_left(p, now)) + p.info.base_rtt.value_or(Duration{0}) / 2;
}

Duration BondScheduler::cost(Path& p, std::size_t i, Time now) {
  const std::size_t flows = counts_[i].flows + 1;
  // Nothing measured yet: the rates are guesses (kRateInitial would make
  // each flow weigh 100 ms), the round trips are not (a path with none yet
  // is taken to be as far as the farthest).
  if (!any_measured_ && longest_base_) {
    const Duration base = p.info.base_rtt.value_or(*longest_base_);
    return delivery(p, now) + static_cast<Duration::rep>(flows) * (base / 2);
  }
  return delivery(p, now) + from_seconds(static_cast<double>(flows * limits::kBondFlowWeight) / rate_of(p));
}

bool BondScheduler::full(Path& p, Time now) {
  const Duration target = std::max<Duration>(p.info.queue_target, limits::kQueueTargetFloor);
  return queue_left(p, now) > target || delivery(p, now) - p.info.base_rtt.value_or(Duration{0}) / 2 > target;
}

std::size_t BondScheduler::best(Time now, std::size_t except) {
  // Secondary paths only when every primary one is full (or there is none).
  bool primary_room = false;
  for (std::size_t i = 0; i < path_count_; ++i)
    if (i != except && !paths_[i].info.secondary && !full(paths_[i], now)) primary_room = true;
  std::size_t pick = kNone;
  Duration pick_cost{};
  for (std::size_t i = 0; i < path_count_; ++i) {
    if (i == except || (primary_room && paths_[i].info.secondary)) continue;
    const Duration c = cost(paths_[i], i, now);
    if (pick == kNone || c < pick_cost) {
      pick = i;
      pick_cost = c;
    }
  }
  return pick;
}

void BondScheduler::recount(Time now) {
  if (counted_ != Time::min() && now - counted_ < limits::kBondRecountInterval) return;
  counted_ = now;
  for (auto& c : counts_) c.flows = 0;
  for (const auto& e : flows_.entries()) {
    if (!flows_.live(e, now) || now - e.last_seen > limits::kBondFlowActive) continue;
    if (const std::size_t i = index(e.value.path); i != kNone) ++counts_[i].flows;
  }
  for (std::size_t i = 0; i < path_count_; ++i) counts_[i].full = full(paths_[i], now);
}

BondScheduler::Placement BondScheduler::place(Bytes inner, std::size_t len, std::uint32_t fallback, Time now) {
  last_ = nullptr;
  if (path_count_ == 0) return {fallback};
  FlowFields fields;
  if (!read_flow_fields(inner, fields)) {
    charge(fallback, len, now);
    return {fallback};
  }
  recount(now);
  bool fresh = false, evicted = false;
  Flow& f = flows_.touch(flow_hash(fields, seed_), now, fresh, evicted).value;
  counters_.evicted += evicted;
  f.sent.count(len, now);
  std::size_t at = fresh ? kNone : index(f.path);
  if (at == kNone) {
    // A new flow, or one whose path left the bond: placed as new.
    at = best(now, kNone);
    if (at == kNone) return {fallback};
    ++(fresh ? counters_.placed : counters_.followed);
    f.placed_at = now;
    ++counts_[at].flows;
  } else if (now - f.placed_at >= limits::kBondFlowHold &&
             (last_move_ == Time::min() || now - last_move_ >= limits::kBondMoveInterval) && full(paths_[at], now)) {
    // Full: another path that would deliver it clearly sooner takes it.
    const std::size_t alt = best(now, at);
    if (alt != kNone && f.sent.rate <= rate_of(paths_[alt])) {
      const Duration here = delivery(paths_[at], now);
      const Duration there = cost(paths_[alt], alt, now);
      const bool sooner = Seconds(there).count() * limits::kBondMoveFactor + Seconds(limits::kBondMoveMargin).count() <
                          Seconds(here).count();
      if (sooner || (!full(paths_[alt], now) && share_gains(f.sent.rate, rate_of(paths_[at]), counts_[at].flows,
                                                             rate_of(paths_[alt]), counts_[alt].flows))) {
        if (counts_[at].flows) --counts_[at].flows;
        ++counts_[alt].flows;
        at = alt;
        f.placed_at = last_move_ = now;
        ++counters_.moved;
      }
    }
  }
  f.path = paths_[at].info.id;
  ++f.packets;
  f.bytes += len;
  charge(f.path, len, now);
  last_ = &f;
  Placement placed{f.path, partner_of(f.path, now)};
  placed.copies = path_count_ >= 2 && copies(fields.proto, f.sent, now);
  placed.contends = !placed.copies && contends(f.sent.current(now), rate_of(paths_[at]), counts_[at].flows);
  placed.ordered = f.spilled_at != Time::min() && now - f.spilled_at < limits::kBondFlowActive;
  return placed;
}

void BondScheduler::spill(const Placement& placed, std::size_t len, Time now) {
  const std::size_t from = index(placed.path), to = index(placed.partner);
  if (!last_ || from == kNone || to == kNone) return;
  paths_[from].backlog = std::max(0.0, paths_[from].backlog - static_cast<double>(len + limits::kRatePacketOverhead));
  --counts_[from].packets;
  counts_[from].bytes -= len;
  charge(placed.partner, len, now);
  last_->spilled_at = now;
  ++counters_.spilled;
}

void FlowRate::count(std::size_t len, Time now) {
  if (window_at == Time{}) {
    window_at = now;
  } else if (now - window_at >= limits::kBondFlowActive) {
    // A window gone by (several: the flow was quiet, its rate is 0).
    const Duration span = now - window_at;
    rate = span < 2 * limits::kBondFlowActive ? static_cast<double>(window_bytes) / Seconds(span).count() : 0;
    window_at = now;
    window_bytes = 0;
  }
  window_bytes += len;
}

double FlowRate::current(Time now) const {
  if (window_at == Time{}) return 0;
  const Duration span = std::max<Duration>(now - window_at, limits::kBondFlowRateMinSpan);
  return std::max(rate, static_cast<double>(window_bytes) / Seconds(span).count());
}

void BondScheduler::on_ack(std::uint32_t id, std::size_t packets, std::size_t bytes) {
  if (Path* p = find(id))
    p->backlog = std::max(0.0, p->backlog - static_cast<double>(bytes + packets * limits::kRatePacketOverhead));
}

void BondScheduler::charge(std::uint32_t id, std::size_t len, Time now) {
  const std::size_t i = index(id);
  if (i == kNone) return;
  delivery(paths_[i], now);  // drains to now first
  paths_[i].backlog += static_cast<double>(len + limits::kRatePacketOverhead);
  ++counts_[i].packets;
  counts_[i].bytes += len;
}

std::size_t BondScheduler::active_flows(Time now) const {
  std::size_t n = 0;
  for (const auto& e : flows_.entries()) n += flows_.live(e, now);
  return n;
}

std::vector<BondScheduler::FlowView> BondScheduler::flows(std::size_t max, Time now) const {
  std::vector<FlowView> out;
  for (const auto& e : flows_.entries())
    if (flows_.live(e, now)) out.push_back({e.hash, e.value.path, e.value.packets, e.value.bytes, e.last_seen});
  std::sort(out.begin(), out.end(), [](const FlowView& a, const FlowView& b) { return a.bytes > b.bytes; });
  if (out.size() > max) out.resize(max);
  return out;
}

}  // namespace tund::session
