// The client daemon, uplinks and policy: one socket per usable uplink (from
// the netlink table), the policy that picks each session's active path, and
// the manual switch.
#include "tund/client_daemon.hpp"

#include <algorithm>
#include <fstream>
#include <cstring>
#include <nlohmann/json.hpp>

#include "daemon/cli.hpp"
#include "daemon/clock.hpp"
#include "daemon/data_path_json.hpp"
#include "daemon/drops_json.hpp"
#include "daemon/json_reply.hpp"
#include "daemon/log.hpp"
#include "session/ip_packet.hpp"

namespace tund::client {

namespace t = wire::transport;
using session::ReceiveResult;
using session::SealResult;

std::string ClientDaemon::uplink_name(session::PathId path) const {
  const auto it = uplinks_.find(path_ifindex(path));
  return it == uplinks_.end() ? "" : it->second.name;
}

void ClientDaemon::on_table_change(Time now) {
  reconcile_sockets(now);
  apply_policy(now, "uplink table changed");
  after_event(now);
}

bool ClientDaemon::uplink_metered(const std::string& name) const {
  return session::uplink_metered(settings_.uplinks, name, system_metered_->metered(name));
}

const char* ClientDaemon::metered_source(const std::string& name) const {
  if (settings_.uplinks.metered_configured) return "config";
  return system_metered_->metered(name) ? "networkmanager" : "name";
}

void ClientDaemon::reconcile_sockets(Time now) {
  push_local_prefixes();
  const auto& table = monitor_->table();
  std::vector<std::string> names;
  for (const auto& u : table) names.push_back(u.name);
  system_metered_->watch(names);
  // Close sockets of interfaces that are gone, renamed or now avoided.
  for (auto it = uplinks_.begin(); it != uplinks_.end();) {
    const auto u = std::find_if(table.begin(), table.end(), [&](const auto& x) { return x.ifindex == it->first; });
    if (u != table.end() && u->name == it->second.name && !session::glob_match(settings_.uplinks.avoid, u->name)) {
      ++it;
      continue;
    }
    log::info("uplink " + it->second.name + " removed");
    it = uplinks_.erase(it);
  }
  // Open one for every other interface (even while down: it may come back).
  for (const auto& u : table) {
    if (uplinks_.count(u.ifindex) || session::glob_match(settings_.uplinks.avoid, u.name)) continue;
    daemon::UdpSocket::Options o;
    o.device = u.name;
    o.fwmark = settings_.fwmark;
    o.offload = settings_.data_path.offload;
    try {
      UplinkSocket us{u.name, std::make_unique<daemon::UdpSocket>(o), nullptr};
      const int idx = u.ifindex;
      us.watch = std::make_unique<daemon::FdWatch>(io_, us.socket->fd(), [this, idx] { on_uplink_readable(idx); });
      uplinks_.emplace(idx, std::move(us));
      log::info("uplink " + u.name + " added (" + netmon::to_string(u.kind) + ")");
    } catch (const std::exception& e) {
      log::warning("uplink " + u.name + ": cannot open a socket: " + e.what());
    }
  }
  // A session has a path (probed, measured) exactly for each usable uplink
  // and family the hub has an address in, with a socket; a path that stops
  // being usable starts afresh when it returns.
  for (std::size_t slot = 0; slot < client_->session_count(); ++slot) {
    auto& s = client_->session(slot);
    for (const auto& u : table) {
      for (const std::uint8_t family : {4, 6}) {
        const auto id = path_id(u.ifindex, family);
        if (u.usable(family) && uplinks_.count(u.ifindex) && remote(slot, id)) {
          s.add_path(id, now);
          s.set_path_metered(id, uplink_metered(u.name));
          // Its MTU is searched between what every path of the family
          // carries and what the interface (or the tunnel) ever sends.
          const std::size_t headers = family == 6 ? 40 + 8 : 20 + 8;
          const std::size_t largest = settings_.mtu + wire::transport::kDataOverhead;
          const std::size_t ceiling = u.mtu > headers ? std::min<std::size_t>(u.mtu - headers, largest) : largest;
          s.set_path_mtu_limits(id, family == 6 ? limits::kPmtuBase6 : limits::kPmtuBase4, ceiling, now);
        } else {
          s.remove_path(id);
        }
      }
    }
    std::vector<session::PathId> stale;
    for (session::PathId id : s.path_ids())
      if (!uplinks_.count(path_ifindex(id))) stale.push_back(id);
    for (auto id : stale) s.remove_path(id);
  }
}

std::vector<session::UplinkCandidate> ClientDaemon::candidates(std::size_t slot) const {
  std::vector<session::UplinkCandidate> out;
  const auto& s = client_->session(slot);
  for (const auto& u : monitor_->table()) {
    for (const std::uint8_t family : {6, 4}) {
      const Endpoint* to = remote(slot, path_id(u.ifindex, family));
      // A family the hub has no address in is no path at all; a hub with
      // no address yet gets one candidate that says so.
      const bool hub_has_any = !hub_state_[slot].resolver().addresses().empty();
      if (!to && (hub_has_any || family == 6)) continue;
      session::UplinkCandidate c;
      c.name = u.name;
      c.family = family;
      c.id = path_id(u.ifindex, family);
      c.usable = to && u.usable(family) && uplinks_.count(u.ifindex);
      c.system_metered = system_metered_->metered(u.name);
      const std::string fam = family == 6 ? "IPv6" : "IPv4";
      const bool has_address = family == 6 ? !u.ipv6.empty() : !u.ipv4.empty();
      const bool has_route = family == 6 ? u.has_default_route6 : u.has_default_route;
      c.unusable_reason = !to ? "the hub has no address yet" : !u.up ? "link down"
                          : !has_address ? "no " + fam + " address" : !has_route ? "no " + fam + " default route"
                          : !uplinks_.count(u.ifindex) ? "no socket" : "";
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
      if (st && st->dead && uplinks_.count(path_ifindex(c.id)) && c.unusable_reason.rfind("no answer for", 0) == 0) {
        c.usable = true;
        c.unusable_reason.clear();
      }
    }
  }
  return out;
}

void ClientDaemon::apply_policy(Time now, const std::string& why) {
  for (std::size_t slot = 0; slot < client_->session_count(); ++slot) {
    auto& s = client_->session(slot);
    auto& state = hub_state_[slot];
    const auto current = s.active_path();
    state.candidates = candidates(slot);
    const auto& cands = state.candidates;
    const auto& choice = state.selector.update(cands, current ? std::optional<std::uint32_t>(current) : std::nullopt,
                                               pinned_, now);
    const session::PathId next = choice.active.value_or(0);
    if (next == current) continue;
    s.set_active_path(next, now);
    const auto describe = [this](session::PathId p) {
      if (!p) return std::string("(none)");
      const std::string name = uplink_name(p);
      return (name.empty() ? "a removed uplink" : name) + (path_family(p) == 6 ? " (IPv6)" : " (IPv4)");
    };
    const std::string from = current ? uplink_name(current) : "(none)";
    const std::string to = next ? uplink_name(next) : "(none)";
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
      ++handovers_by_reason_[trigger];
      handovers_.last_reason = reason;
      handovers_.last_from = from;
      handovers_.last_to = to;
      handovers_.last_at = daemon::to_unix_seconds(now);
    }
    const auto& hub = settings_.hubs[slot].name;
    network_log_.event(log::kUplinkSwitch, log::Level::kNotice,
                       "hub " + hub + ": uplink " + describe(current) + " -> " + describe(next) + " (" + reason + ")",
                       {{"TUND_HUB", hub}, {"TUND_UPLINK_FROM", from}, {"TUND_UPLINK_TO", to}, {"TUND_TRIGGER", trigger}});
  }
}

std::string ClientDaemon::handle_switch(const std::string& target) {
  using nlohmann::json;
  const Time now = daemon::now();
  if (target == "auto") {
    pinned_.reset();
  } else {
    const auto& table = monitor_->table();
    const auto u = std::find_if(table.begin(), table.end(), [&](const auto& x) { return x.name == target; });
    if (u == table.end()) return daemon::to_reply(json{{"error", "unknown interface '" + target + "'"}});
    if (session::glob_match(settings_.uplinks.avoid, target))
      return daemon::to_reply(json{{"error", "interface '" + target + "' is avoided by the [uplinks] policy"}});
    if (!u->usable())
      return daemon::to_reply(json{{"error", "interface '" + target + "' is not usable (" + u->unusable_reason() + ")"}});
    pinned_ = target;
  }
  apply_policy(now, target == "auto" ? "switch auto" : "switch " + target);
  after_event(now);
  return daemon::to_reply(json{{"ok", true}, {"active_uplink", uplink_name(client_->session(0).active_path())}});
}

}  // namespace tund::client
