// ClientSession, each path's MTU (pmtu.hpp): padded probes in rounds, the
// answers, and a kPathMtu frame telling the hub what the active path carries
// (so it clamps and answers too-big packets toward the client the same way).
#include <algorithm>

#include "session/client.hpp"

namespace tund::session {

namespace t = wire::transport;

void ClientSession::set_path_mtu_limits(PathId id, std::size_t base, std::size_t ceiling, Time now) {
  Path* p = find_path(id);
  if (!p || (p->pmtu.ceiling() == ceiling && (p->pmtu.found() || p->pmtu.searching()))) return;
  p->pmtu.set_limits(base, ceiling);
  p->pmtu.restart(now);
}

const PmtuSearch* ClientSession::path_mtu(PathId id) const {
  for (const auto& p : paths_)
    if (p.id == id) return &p.pmtu;
  return nullptr;
}

std::size_t ClientSession::inner_mtu() const {
  const PmtuSearch* m = path_mtu(active_path_);
  return m && m->mtu() > t::kDataOverhead ? m->mtu() - t::kDataOverhead : 0;
}

std::size_t ClientSession::clamp_mtu() const {
  std::size_t mtu = inner_mtu();
  if (!mtu) return 0;
  for (const auto& p : paths_)
    if (p.pmtu.found() && p.pmtu.mtu() > t::kDataOverhead) mtu = std::min(mtu, p.pmtu.mtu() - t::kDataOverhead);
  return mtu;
}

void ClientSession::run_pmtu(Time now) {
  if (!channel_.can_send(now)) return;
  for (auto& p : paths_) {
    p.pmtu.on_timer(now);
    // Raise: look for more now and then, while traffic flows.
    if (p.pmtu.found() && !p.pmtu.searching() && now - p.pmtu.last_done() >= limits::kPmtuRaiseInterval && !idle(now))
      p.pmtu.restart(now);
    // Confirm what the active path carries while traffic flows on it.
    if (p.id == active_path_ && !idle(now) && p.pmtu.wants_check(now)) {
      p.pmtu.begin_check(now);
      send_probe(p, now, p.pmtu.mtu());
    }
    // Rounds wait for the path's first RTT sample (its first probe's answer,
    // one round trip): a round then lasts about one RTT and a margin (loss
    // decides, so not too short); a path that never answers is never searched.
    if (!p.pmtu.wants_round(now) || !p.stats.rtt || !p.stats.rttvar) continue;
    const Duration timeout = std::clamp<Duration>(2 * *p.stats.rtt + 4 * *p.stats.rttvar, limits::kPmtuRoundTimeoutFloor,
                                                  limits::kPmtuRoundTimeoutCeiling);
    PmtuSearch::Sizes sizes;
    const std::size_t n = p.pmtu.begin_round(now, timeout, sizes);
    for (std::size_t i = 0; i < n; ++i) send_probe(p, now, sizes[i]);
  }
  // The hub clamps toward us by what the active path carries: tell it when
  // that is known and changes (a new path, a finished search, a handshake).
  const PmtuSearch* active = path_mtu(active_path_);
  if (active && active->found() && active->mtu() != announced_mtu_) {
    announced_mtu_ = active->mtu();
    ControlFrame f;
    f.kind = wire::ControlKind::kPathMtu;
    f.path_mtu = static_cast<std::uint16_t>(std::min<std::size_t>(announced_mtu_, 0xffff));
    queue_control(f, active_path_);
  }
}

Time ClientSession::pmtu_deadline() const {
  Time t = kNever;
  for (const auto& p : paths_) t = std::min(t, p.pmtu.next_event());
  const PmtuSearch* active = path_mtu(active_path_);
  if (active && active->found() && active->mtu() != announced_mtu_) t = Time::min();
  return t;
}

}  // namespace tund::session
