// ClientSession, its paths: one per uplink, each probed under the session
// keys (RTT, loss), the active path's liveness (dead after the liveness
// timeout, hub silence across all), the idle pace of probing, and the
// switching exchange a new active path starts. Split from client.cpp, which
// keeps handshakes, sealing, receiving and timers.
#include <algorithm>

#include "session/client.hpp"

namespace tund::session {

ClientSession::Path* ClientSession::find_path(PathId id) {
  for (auto& p : paths_)
    if (p.id == id) return &p;
  return nullptr;
}

bool ClientSession::has_path(PathId id) const {
  return std::any_of(paths_.begin(), paths_.end(), [id](const Path& p) { return p.id == id; });
}

std::vector<PathId> ClientSession::path_ids() const {
  std::vector<PathId> ids;
  for (const auto& p : paths_) ids.push_back(p.id);
  return ids;
}

const PathStats* ClientSession::path_stats(PathId id) const {
  for (const auto& p : paths_)
    if (p.id == id) return &p.stats;
  return nullptr;
}

void ClientSession::add_path(PathId id, Time now) {
  if (has_path(id)) return;
  Path p;
  p.id = id;
  p.next_probe = now;  // measure a new path at once
  paths_.push_back(p);
  ++path_epoch_;
}

void ClientSession::set_path_metered(PathId id, bool metered) {
  if (Path* p = find_path(id)) p->metered = metered;
}

void ClientSession::remove_path(PathId id) {
  if (std::erase_if(paths_, [id](const Path& p) { return p.id == id; })) ++path_epoch_;
  std::erase_if(outstanding_, [id](const Outstanding& o) { return o.path == id; });
  std::erase_if(control_queue_, [id](const QueuedControl& q) { return q.path == id; });
}

void ClientSession::set_active_path(PathId id, Time now) {
  if (id == active_path_) return;
  // Planned: the path we leave still carries (not found dead, not suspected,
  // answering within the suspicion timeout), so the move is make before break.
  const Path* old = find_path(active_path_);
  const bool planned = old && !old->stats.dead && !old->stats.gray && suspected_at_ == kNever &&
                       (awaiting_since_ == kNever || now - awaiting_since_ < suspicion_timeout());
  end_suspicion();
  const bool handover = active_path_ != 0;
  active_path_ = id;
  awaiting_since_ = kNever;
  const Path* now_active = find_path(id);
  health_.reset(now, now_active ? now_active->stats.rtt : std::nullopt);
  // An unknown path is paced from low, not handed the backlog at once; one
  // used lately resumes from what it was (paced_sender.hpp).
  pacer_.use_path(id, now, now_active ? now_active->stats.rtt : std::nullopt);
  if (const auto rtt = active_rtt()) stream_.set_round_trip(*rtt, owner_.config_.resend.max_age);
  if (Path* p = find_path(id)) {
    p->next_probe = now;  // measure it at once
    // And its MTU again, unless that is fresh: what it carries may have
    // changed while it waited.
    if (p->pmtu.found() && !p->pmtu.searching() && now - p->pmtu.last_done() >= limits::kPmtuResearchAfter)
      p->pmtu.restart(now);
  }
  if (!handover || !channel_.can_send(now)) return;
  // The switching exchange: our receive state, on the new path. The hub
  // follows this packet, answers with its own receive state, and each side
  // resends what the other lacks.
  ControlFrame f;
  f.kind = wire::ControlKind::kAck;
  f.ack.flags = wire::control::kAckFlagSwitch | (planned ? wire::control::kAckFlagPlanned : 0);
  std::erase_if(control_queue_, [](const QueuedControl& q) { return q.frame.kind == wire::ControlKind::kAck; });
  control_queue_.insert(control_queue_.begin(), {f, id});
  stream_.begin_switch(now, planned);
}

std::optional<Duration> ClientSession::active_rtt() const {
  // The probes' smoothed round trip, or the data's when a queue has grown
  // since the last probe (the data's is measured a hundred times as often).
  std::optional<Duration> rtt;
  for (const auto& p : paths_)
    if (p.id == active_path_) rtt = p.stats.rtt;
  if (const auto data = health_.rtt(); data && (!rtt || *data > *rtt)) rtt = data;
  return rtt;
}

Duration ClientSession::dead_timeout() const {
  if (const auto rtt = active_rtt())
    return std::clamp<Duration>(*rtt * limits::kDeadRttFactor, limits::kDeadFloor, limits::kDeadCeiling);
  // Not measured yet: the terrestrial bound (a satellite path is measured by
  // its first probe, long before it could be judged dead).
  return limits::kDeadUnmeasured;
}

Duration ClientSession::probe_timeout(const Path& p) const {
  if (!p.stats.rtt || !p.stats.rttvar) return limits::kProbeTimeout;
  return std::clamp<Duration>(2 * *p.stats.rtt + 4 * *p.stats.rttvar, limits::kProbeTimeout, limits::kProbeTimeoutCeiling);
}

void ClientSession::record_outcome(Path& p, bool answered) {
  p.outcomes[p.outcome_next] = answered;
  p.outcome_next = (p.outcome_next + 1) % p.outcomes.size();
  p.outcome_count = std::min(p.outcome_count + 1, p.outcomes.size());
  ++path_epoch_;
  if (p.stats.gray) on_gray_probe(p, answered);
  if (p.outcome_count < limits::kMinLossSamples) return;  // one early loss is not a rate
  std::size_t lost = 0;
  for (std::size_t i = 0; i < p.outcome_count; ++i) lost += !p.outcomes[i];
  p.stats.loss = static_cast<double>(lost) / static_cast<double>(p.outcome_count);
}

void ClientSession::queue_probes(Time now) {
  // A probe unanswered within kProbeTimeout counts as lost, unless the path
  // delivered something else meanwhile: on a busy path a probe can be dropped
  // in a full socket buffer while the path itself is fine.
  for (auto it = outstanding_.begin(); it != outstanding_.end();) {
    const Path* on = find_path(it->path);
    if (now - it->sent < (on ? probe_timeout(*on) : limits::kProbeTimeout)) {
      ++it;
      continue;
    }
    // A lost MTU probe says the size is too big, not that the path loses;
    // one at the size found is a failed confirmation.
    if (Path* p = find_path(it->path); p && !it->mtu_size) record_outcome(*p, p->stats.last_received > it->sent);
    else if (p && it->mtu_size == p->pmtu.mtu()) p->pmtu.on_check(false, now);
    it = outstanding_.erase(it);
  }
  const bool can_send = channel_.can_send(now);
  const bool busy = !idle(now);
  for (auto& p : paths_) {
    // A bonded uplink is probed at the busy pace as soon as data flows, not
    // at the idle pace it was left at: its probes tell the hub it is in the
    // bond (kProbeFlagBonded), and a download's flows may send nothing else
    // on it.
    if (busy && p.id != active_path_ && p.last_probe != Time::min() && bonded_path(p.id))
      p.next_probe = std::min(p.next_probe, p.last_probe + probe_interval(p));
    if (now < p.next_probe) continue;
    // A probe scheduled at the busy pace waits for the idle one.
    if (const Time due = probe_due(p, now); due > now) {
      p.next_probe = due;
      continue;
    }
    p.next_probe = now + probe_interval(p);
    p.last_probe = now;
    if (can_send) send_probe(p, now);  // no key: try at the next interval
  }
  run_pmtu(now);
}

void ClientSession::send_probe(Path& p, Time now, std::size_t mtu_size) {
  ControlFrame f;
  f.kind = wire::ControlKind::kPathProbe;
  f.probe.probe_id = next_probe_id_++;
  if (bonded_path(p.id)) f.probe.flags = wire::control::kProbeFlagBonded;  // the hub may use it for its flows
  owner_.rng_.fill(f.probe.challenge);
  // A path MTU probe is padded to its datagram size (the reply echoes it).
  const std::size_t unpadded = wire::transport::kOverhead + wire::control::kProbeSize;
  if (mtu_size) f.probe.padding = static_cast<std::uint16_t>(mtu_size > unpadded ? mtu_size - unpadded : 0);
  if (outstanding_.size() >= (4 + limits::kPmtuProbesPerRound) * paths_.size() + 4) outstanding_.erase(outstanding_.begin());
  outstanding_.push_back({f.probe.probe_id, p.id, now, f.probe.challenge, mtu_size});
  if (!mtu_size) ++p.stats.probes_sent;
  queue_control(f, p.id);
}

Duration ClientSession::suspicion_timeout() const {
  for (const auto& p : paths_)
    if (p.id == active_path_ && p.stats.rtt && p.stats.rttvar)
      return std::max<Duration>(2 * *p.stats.rtt + 4 * *p.stats.rttvar, limits::kSuspicionFloor);
  return dead_timeout() / 2;
}

Time ClientSession::suspicion_due() const {
  // Only data makes a suspicion (an idle session's probes wait for the dead
  // verdict), one at a time, never while a sudden switch holds new data (a
  // planned one may find its new path silent and copy back to the old).
  if (awaiting_since_ == kNever || suspected_at_ != kNever || stream_.holds_new_data() ||
      stream_.resend_buffer().packets() == 0 || paths_.size() < 2)
    return kNever;
  return awaiting_since_ + suspicion_timeout();
}

ClientSession::Path* ClientSession::best_standby() { return find_path(copy_path(active_path_, false)); }

PathId ClientSession::copy_path(PathId via, bool bonded_only) {
  const Path* best = nullptr;
  for (const auto& p : paths_)
    if (p.id != via && !p.stats.dead && !p.stats.gray && p.stats.rtt && (!bonded_only || bonded_path(p.id)) &&
        (!best || *p.stats.rtt < *best->stats.rtt))
      best = &p;
  return best ? best->id : 0;
}

void ClientSession::begin_suspicion(Time now) {
  Path* best = best_standby();
  suspected_at_ = now;  // also when there is no standby: one attempt per silence
  if (!best) return;
  ++handover_.suspicions;
  dup_path_ = best->id;
  dup_bytes_ = 0;
  // A probe there (answered there, whatever the hub's return path), and
  // copies of everything unacknowledged; new data is copied as it is sealed.
  send_probe(*best, now);
  stream_.schedule_unacked(now);
}

void ClientSession::end_suspicion() {
  if (dup_path_) stream_.cancel_resend();  // copies not yet sent are not needed
  dup_path_ = 0;
  suspected_at_ = kNever;
}

void ClientSession::on_path_answered(PathId path, Time now) {
  if (path == active_path_) {
    awaiting_since_ = kNever;
    if (suspected_at_ != kNever) end_suspicion();  // only slow: stop copying
    return;
  }
  if (!dup_path_ || path != dup_path_) return;
  // The standby answered while the active path stays silent: leave it now,
  // not at the liveness timeout. The policy moves to the standby (alive,
  // validated by this answer) and the switching exchange resends the rest.
  ++handover_.suspicion_switches;
  end_suspicion();
  if (Path* p = find_path(active_path_)) {
    p->stats.dead = true;
    p->stats.silent_for = awaiting_since_ == kNever ? Duration{0} : now - awaiting_since_;
    ++path_epoch_;
  }
  awaiting_since_ = kNever;
}

Duration ClientSession::probe_interval(const Path& p) const {
  if (p.id == active_path_) return limits::kProbeIntervalActive;
  // A gray path is watched closely (unless metered) so it is trusted again
  // as soon as it deserves.
  if (p.stats.gray && !p.metered && p.stats.rtt)
    return std::clamp<Duration>(*p.stats.rtt * 8, limits::kGrayProbeFloor, limits::kProbeIntervalStandby);
  return limits::kProbeIntervalStandby;
}

void ClientSession::judge_gray(Time now) {
  Path* active = find_path(active_path_);
  if (!active || active->stats.gray || active->stats.dead) return;
  const Path* standby = best_standby();
  if (!standby) return;  // nowhere better to go: a verdict would change nothing
  // In a bond the active path delivers only its flows' share: judged as if
  // it carried everything, its own flows' queue and losses read as collapse
  // (both uplinks went gray in turn and the bond dissolved mid-transfer).
  const char* why = health_.judge(now, *standby->stats.rtt, bonding());
  if (!why) return;
  active->stats.gray = why;
  ++active->stats.gray_verdicts;
  ++handover_.gray_verdicts;
  // Dampening: a path that fails again soon after it was trusted again must
  // answer twice as many probes in a row this time.
  active->gray_recover = active->gray_at != Time::min() && now - active->gray_at < limits::kGrayDampen
                             ? std::min(active->gray_recover * 2, limits::kGrayRecoverMax)
                             : limits::kGrayRecoverProbes;
  active->gray_at = now;
  active->gray_streak = 0;
  ++path_epoch_;
}

void ClientSession::on_gray_probe(Path& p, bool answered) {
  p.gray_streak = answered ? p.gray_streak + 1 : 0;
  if (p.gray_streak < p.gray_recover) return;
  p.stats.gray = nullptr;
  p.gray_streak = 0;
}

void ClientSession::on_sent(Time now, bool data, bool answered) {
  last_sent_ = now;
  // Liveness counts only what the hub answers: data (it acks), probes and the
  // switch exchange (see poll_transmit). Keepalives and acks get no answer.
  if (answered && awaiting_since_ == kNever) {
    awaiting_since_ = now;
    liveness_probed_ = false;
  }
  if (answered && expecting_since_ == kNever) expecting_since_ = now;
  keepalive_due_ = kNever;
  if (data && unanswered_since_ == kNever) unanswered_since_ = now;
}

void ClientSession::on_authenticated_receive() {
  unanswered_since_ = kNever;
  expecting_since_ = kNever;
  silent_ = false;
}

bool ClientSession::hub_silent(Time now) const {
  return state_ != State::kIdle && expecting_since_ != kNever && now - expecting_since_ >= silence();
}

Duration ClientSession::silence() const {
  Duration slowest{0};
  for (const auto& p : paths_)
    if (p.stats.rtt) slowest = std::max(slowest, *p.stats.rtt);
  return std::max(silence_, slowest * limits::kSilenceRtts);
}

bool ClientSession::idle(Time now) const {
  return state_ != State::kIdle && now - last_inner_ >= owner_.config_.idle.after;
}

void ClientSession::note_inner(Time now) {
  if (idle(now)) {
    // Resuming: measure the active path at once (its liveness is what a new
    // transfer needs) and the standbys at their normal pace again.
    for (auto& p : paths_)
      p.next_probe = p.id == active_path_ ? now : std::min(p.next_probe, now + limits::kProbeIntervalStandby);
    ++idle_periods_;
  }
  last_inner_ = now;
}

Time ClientSession::probe_due(const Path& p, Time now) const {
  if (!idle(now)) return p.next_probe;
  // Idle: the active path as often as NAT bindings need, counted from the
  // last thing sent on it (a rekey counts); unmetered standbys rarely;
  // metered ones not at all, unless the active path is in doubt (found
  // dead), when every standby is measured at once.
  const auto& idle_policy = owner_.config_.idle;
  if (p.id == active_path_) return last_sent_ == Time::min() ? now : last_sent_ + idle_policy.keepalive;
  const Path* cur = nullptr;
  for (const auto& q : paths_)
    if (q.id == active_path_) cur = &q;
  if (!cur || cur->stats.dead) return p.next_probe;
  if (p.metered || idle_policy.standby_probe.count() == 0) return kNever;
  return p.last_probe == Time::min() ? now : p.last_probe + idle_policy.standby_probe;
}

}  // namespace tund::session
