#include "engine/client_engine.hpp"

#include <algorithm>
#include <stdexcept>

#include "crypto/primitives.hpp"
#include "session/ip_packet.hpp"
#include "session/rendezvous.hpp"

namespace tund::engine {

ClientEngine::ClientEngine(EngineConfig config, Rng& rng) : config_(std::move(config)), client_(config_.client, rng) {
  if (config_.hubs.empty()) throw std::invalid_argument("at least one hub is required");
  PublicKey own{};
  crypto::derive_public_key(config_.client.identity.priv, own);
  for (const auto& hub : config_.hubs) {
    if (hub.members.empty()) throw std::invalid_argument("hub " + hub.name + " has no endpoint");
    const auto slot = client_.add_hub(hub.public_key, hub.min_vip_prefix);
    client_.session(slot).set_persistent_keepalive(std::chrono::seconds(hub.persistent_keepalive_s));
    auto& st = hubs_.emplace_back(config_.policy);
    st.addresses.resize(hub.members.size());
    if (hub.members.size() > 1) {
      st.order = session::member_order(own, hub.members.size());
      client_.session(slot).set_silence(limits::kMemberSilence);
    }
    client_.set_routes(slot, hub.routes);
  }
}

const Uplink* ClientEngine::uplink(std::uint32_t id) const {
  const auto it = std::find_if(uplinks_.begin(), uplinks_.end(), [&](const Uplink& u) { return u.id == id; });
  return it == uplinks_.end() ? nullptr : &*it;
}

std::string ClientEngine::uplink_name(session::PathId path) const {
  const auto* u = uplink(path_uplink(path));
  return u && u->socket ? u->name : "";
}

bool ClientEngine::uplink_metered(const Uplink& u) const {
  return session::uplink_metered(config_.policy, u.name, u.system_metered);
}

const std::vector<Endpoint>& ClientEngine::member_addresses(std::size_t slot, std::size_t m) const {
  return hubs_[slot].addresses[m];
}

void ClientEngine::set_routes(std::size_t slot, std::vector<session::IpPrefix> routes) {
  config_.hubs[slot].routes = std::move(routes);
  client_.set_routes(slot, config_.hubs[slot].routes);
}

const Endpoint* ClientEngine::remote(std::size_t slot, session::PathId path) const {
  for (const auto& e : member_addresses(slot, member(slot)))
    if (e.family == path_family(path)) return &e;
  return nullptr;
}

std::optional<std::size_t> ClientEngine::route(Bytes inner) const {
  const auto p = session::parse_inner(inner);
  return p ? client_.routes().owner_of_destination(*p) : std::nullopt;
}

void ClientEngine::set_uplinks(std::vector<Uplink> uplinks, Time now) {
  uplinks_ = std::move(uplinks);
  std::vector<session::IpPrefix> local;
  for (const auto& u : uplinks_) local.insert(local.end(), u.prefixes.begin(), u.prefixes.end());
  client_.set_local_prefixes(std::move(local));
  reconcile_paths(now);
}

void ClientEngine::set_member_addresses(std::size_t slot, std::size_t m, std::vector<Endpoint> addresses, Time now) {
  if (slot >= hubs_.size() || m >= hubs_[slot].addresses.size()) return;
  hubs_[slot].addresses[m] = std::move(addresses);
  reconcile_paths(now);
}

void ClientEngine::start_sessions(Time now) {
  for (std::size_t slot = 0; slot < hubs_.size(); ++slot) {
    auto& s = client_.session(slot);
    if (s.state() == session::ClientSession::State::kIdle && hubs_[slot].has_address()) s.start(now);
  }
}

void ClientEngine::reconcile_paths(Time now) {
  // A session has a path (probed, measured) exactly for each usable uplink
  // and family the hub has an address in, with a socket; a path that stops
  // being usable starts afresh when it returns.
  for (std::size_t slot = 0; slot < client_.session_count(); ++slot) {
    auto& s = client_.session(slot);
    for (const auto& u : uplinks_) {
      for (const std::uint8_t family : {4, 6}) {
        const auto id = path_id(u.id, family);
        if (u.usable(family) && u.socket && remote(slot, id)) {
          s.add_path(id, now);
          s.set_path_metered(id, uplink_metered(u));
          // Its MTU is searched between what every path of the family
          // carries and what the interface (or the tunnel) ever sends.
          const std::size_t headers = family == 6 ? 40 + 8 : 20 + 8;
          const std::size_t largest = config_.tun_mtu + wire::transport::kDataOverhead;
          const std::size_t ceiling = u.mtu > headers ? std::min<std::size_t>(u.mtu - headers, largest) : largest;
          s.set_path_mtu_limits(id, family == 6 ? limits::kPmtuBase6 : limits::kPmtuBase4, ceiling, now);
        } else {
          s.remove_path(id);
        }
      }
    }
    std::vector<session::PathId> stale;
    for (session::PathId id : s.path_ids()) {
      const auto* u = uplink(path_uplink(id));
      if (!u || !u->socket) stale.push_back(id);
    }
    for (auto id : stale) s.remove_path(id);
  }
}

std::vector<session::UplinkCandidate> ClientEngine::make_candidates(std::size_t slot) const {
  std::vector<session::UplinkCandidate> out;
  const auto& s = client_.session(slot);
  // A family the hub has no address in is no path at all; a hub with no
  // address yet gets one candidate that says so.
  const bool hub_has_any = !member_addresses(slot, member(slot)).empty();
  for (const auto& u : uplinks_) {
    for (const std::uint8_t family : {6, 4}) {
      const Endpoint* to = remote(slot, path_id(u.id, family));
      if (!to && (hub_has_any || family == 6)) continue;
      session::UplinkCandidate c;
      c.name = u.name;
      c.family = family;
      c.id = path_id(u.id, family);
      c.usable = to && u.usable(family) && u.socket;
      c.system_metered = u.system_metered;
      const std::string fam = family == 6 ? "IPv6" : "IPv4";
      const bool has_address = family == 6 ? u.address6 : u.address4;
      const bool has_route = family == 6 ? u.route6 : u.route4;
      c.unusable_reason = !to ? "the hub has no address yet" : !u.up ? "link down"
                          : !has_address ? "no " + fam + " address" : !has_route ? "no " + fam + " default route"
                          : !u.socket ? "no socket" : "";
      if (const auto* st = s.path_stats(c.id)) {
        c.rtt = st->rtt;
        c.loss = st->loss;
        c.gray = st->gray;
        if (st->dead && c.usable) {
          // Sent on it and heard nothing back: walked out of range, or a black
          // hole. Unusable until a probe on it is answered again.
          c.usable = false;
          c.unusable_reason = "no answer for " +
                              std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(st->silent_for).count()) +
                              " ms";
        }
      }
      out.push_back(std::move(c));
    }
  }
  // Dead on every uplink means the hub is gone (restarting, say), not the
  // uplinks: keep them usable so the next handshake has a way out.
  const bool any_alive = std::any_of(out.begin(), out.end(), [](const auto& c) { return c.usable; });
  if (!any_alive) {
    for (auto& c : out) {
      const auto* st = s.path_stats(c.id);
      const auto* u = uplink(path_uplink(c.id));
      if (st && st->dead && u && u->socket && c.unusable_reason.rfind("no answer for", 0) == 0) {
        c.usable = true;
        c.unusable_reason.clear();
      }
    }
  }
  return out;
}

std::string ClientEngine::describe(session::PathId p) const {
  if (!p) return "(none)";
  const std::string name = uplink_name(p);
  return (name.empty() ? "a removed uplink" : name) + (path_family(p) == 6 ? " (IPv6)" : " (IPv4)");
}

void ClientEngine::set_policy(session::UplinkPolicyConfig policy) {
  config_.policy = std::move(policy);
  for (auto& st : hubs_) st.selector.set_config(config_.policy);
}

void ClientEngine::apply_policy(Time now, const std::string& why) {
  for (std::size_t slot = 0; slot < client_.session_count(); ++slot) {
    auto& s = client_.session(slot);
    auto& state = hubs_[slot];
    const auto current = s.active_path();
    state.candidates = make_candidates(slot);
    const auto& cands = state.candidates;
    const auto& choice = state.selector.update(cands, current ? std::optional<std::uint32_t>(current) : std::nullopt,
                                               pinned_, now);
    const session::PathId next = choice.active.value_or(0);
    if (next != current) s.set_active_path(next, now);
    // Bond mode: which paths carry data with the active one (none: failover).
    std::vector<session::ClientSession::BondMember> bond;
    for (const auto& [id, secondary] : choice.bond) bond.push_back({id, secondary});
    const auto& was = s.bonded();
    if (bond.size() != was.size() || !std::equal(bond.begin(), bond.end(), was.begin(), [](const auto& a, const auto& b) {
          return a.path == b.path && a.secondary == b.secondary;
        }))
      s.set_bond(bond, now);
    if (next == current) continue;
    std::string reason = why;
    for (std::size_t i = 0; i < cands.size() && i < choice.verdicts.size(); ++i) {
      if (cands[i].id == next) reason += ": " + choice.verdicts[i].reason;
      if (current && cands[i].id == current) reason += "; " + describe(current) + ": " + choice.verdicts[i].reason;
    }
    // By trigger: a person, the interface table, measurements (a dead or
    // worse path), or the end of a hold-down (moving back).
    const std::string trigger = why.rfind("switch", 0) == 0          ? "manual"
                                : why == "uplink table changed"      ? "uplink_change"
                                : why == "hold-down over"            ? "hold_down_over"
                                : why == "path measurements"         ? "path_quality"
                                                                     : "other";
    if (current) {
      ++handovers_.count;
      ++handovers_.by_trigger[trigger];
      handovers_.last_reason = reason;
      handovers_.last_from = uplink_name(current);
      handovers_.last_to = next ? uplink_name(next) : "(none)";
      handovers_.last_at = now;
    }
    push({EventKind::kPathChanged, slot, current, next, 0, 0, reason, trigger});
  }
}

void ClientEngine::follow_cluster(std::size_t slot, Time now) {
  auto& st = hubs_[slot];
  auto& s = client_.session(slot);
  if (st.addresses.size() < 2) return;
  std::string why;
  if (s.moves_asked() != st.seen_moves) {
    st.seen_moves = s.moves_asked();
    if (st.moving_since == kNever) why = "asked to move (the member drains)";
  }
  if (why.empty() && s.hub_silent(now) && (st.moving_since == kNever || now - st.moving_since >= limits::kMemberSilence))
    why = "silent";
  if (why.empty()) return;
  const std::size_t from = member(slot);
  st.at = (st.at + 1) % st.order.size();
  st.moving_since = now;
  ++st.member_moves;
  s.rehandshake(now);
  push({EventKind::kMemberMoved, slot, 0, 0, member(slot), from, why, ""});
}

void ClientEngine::note_edges(std::size_t slot, Time now) {
  auto& st = hubs_[slot];
  const auto& s = client_.session(slot);
  // Silent on every path: the hub may have moved; ask its name again.
  const bool silent = s.hub_silent(now);
  if (silent && !st.was_silent) push({EventKind::kResolve, slot, 0, 0, member(slot), 0, "", ""});
  st.was_silent = silent;
  if (s.last_handshake() != st.seen_handshake) {
    st.seen_handshake = s.last_handshake();
    st.moving_since = kNever;  // the member we moved to answered
    push({EventKind::kHandshake, slot, 0, 0, member(slot), 0, "", ""});
  }
  const bool up = s.established() && !silent;
  if (up == st.up) return;
  st.up = up;
  const std::string why =
      up ? "" : s.established() ? "no answer on any path for " +
                                      std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(s.silence()).count()) + " ms"
                                : "its keys expired";
  push({up ? EventKind::kUp : EventKind::kDown, slot, 0, s.active_path(), member(slot), 0, why, ""});
}

void ClientEngine::service(Time now) {
  bool revisit_due = false;
  for (const auto& st : hubs_) revisit_due = revisit_due || st.selector.last().revisit <= now;
  if (client_.next_deadline() <= now) client_.on_timer(now);
  // The policy runs when what it decides on changed (a measurement, a path
  // found dead or alive) or a hold-down ended, not on every timer (most are
  // acknowledgements).
  if (revisit_due || client_.path_epoch() != seen_path_epoch_) {
    seen_path_epoch_ = client_.path_epoch();
    apply_policy(now, revisit_due ? "hold-down over" : "path measurements");
  }
  for (std::size_t slot = 0; slot < hubs_.size(); ++slot) {
    // Before the caller polls, so the handshake goes to the new member.
    follow_cluster(slot, now);
    note_edges(slot, now);
  }
}

Time ClientEngine::next_deadline(Time now) const {
  Time deadline = client_.next_deadline();
  const Time soonest = now + std::chrono::milliseconds(1);
  for (const auto& st : hubs_) {
    if (st.selector.last().revisit != kNever) deadline = std::min(deadline, std::max(st.selector.last().revisit, soonest));
    if (st.moving_since != kNever) deadline = std::min(deadline, std::max(st.moving_since + limits::kMemberSilence, soonest));
  }
  return deadline;
}

std::optional<Transmit> ClientEngine::poll_transmit(std::size_t slot, MutableBytes out, Time now) {
  for (;;) {
    const auto tx = client_.session(slot).poll_transmit(out, now);
    if (!tx) return std::nullopt;
    // The hub may have lost that family's address since the path was added.
    if (const Endpoint* to = remote(slot, tx->path)) return Transmit{tx->len, tx->path, *to, tx->fragment};
  }
}

void ClientEngine::push(Event e) {
  if (events_.size() >= limits::kMaxEngineEvents) {
    events_.pop_front();
    ++events_dropped_;
  }
  events_.push_back(std::move(e));
}

bool ClientEngine::poll_event(Event& out) {
  if (events_.empty()) return false;
  out = std::move(events_.front());
  events_.pop_front();
  return true;
}

}  // namespace tund::engine
