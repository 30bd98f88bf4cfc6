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

std::vector<engine::Uplink> ClientDaemon::engine_uplinks() const {
  std::vector<engine::Uplink> out;
  for (const auto& u : monitor_->table()) {
    engine::Uplink e;
    e.id = static_cast<std::uint32_t>(u.ifindex);
    e.name = u.name;
    e.up = u.up;
    e.address4 = !u.ipv4.empty();
    e.address6 = !u.ipv6.empty();
    e.route4 = u.has_default_route;
    e.route6 = u.has_default_route6;
    e.socket = uplinks_.count(u.ifindex) > 0;
    e.mtu = u.mtu;
    e.system_metered = system_metered_->metered(u.name);
    for (const auto& a : u.addresses)
      if (const auto p = config::parse_prefix(a, true)) e.prefixes.push_back(session::IpPrefix::v4(p->addr, p->len));
      else if (const auto p6 = config::parse_prefix6(a, true)) e.prefixes.push_back(session::IpPrefix::v6(p6->addr.data(), p6->len));
    out.push_back(std::move(e));
  }
  return out;
}

void ClientDaemon::reconcile_sockets(Time now) {
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
  // The engine keeps a path exactly for each usable uplink and family with a socket.
  engine_->set_uplinks(engine_uplinks(), now);
}

std::string ClientDaemon::handle_switch(const std::string& target) {
  using nlohmann::json;
  const Time now = daemon::now();
  if (target == "auto") {
    engine_->set_pinned(std::nullopt);
  } else {
    const auto& table = monitor_->table();
    const auto u = std::find_if(table.begin(), table.end(), [&](const auto& x) { return x.name == target; });
    if (u == table.end()) return daemon::to_reply(json{{"error", "unknown interface '" + target + "'"}});
    if (session::glob_match(settings_.uplinks.avoid, target))
      return daemon::to_reply(json{{"error", "interface '" + target + "' is avoided by the [uplinks] policy"}});
    if (!u->usable())
      return daemon::to_reply(json{{"error", "interface '" + target + "' is not usable (" + u->unusable_reason() + ")"}});
    engine_->set_pinned(target);
  }
  apply_policy(now, target == "auto" ? "switch auto" : "switch " + target);
  after_event(now);
  return daemon::to_reply(json{{"ok", true}, {"active_uplink", uplink_name(client_->session(0).active_path())}});
}

}  // namespace tund::client
