// The client daemon, OS network configuration: the VIP and routes on tun0
// after a handshake, full tunnel (policy routing), the kill switch and IPv6
// leak guard, gateway NAT.
#include "tund/client_daemon.hpp"

#include <algorithm>
#include <set>
#include <cstring>
#include <nlohmann/json.hpp>

#include "daemon/cli.hpp"
#include "daemon/clock.hpp"
#include "daemon/data_path_json.hpp"
#include "daemon/drops_json.hpp"
#include "daemon/forwarding.hpp"
#include "daemon/json_reply.hpp"
#include "daemon/log.hpp"
#include "session/ip_packet.hpp"
#include "tund/dns_config.hpp"

namespace tund::client {

namespace t = wire::transport;
using session::ReceiveResult;
using session::SealResult;

// Full tunnel, as wg-quick and Tailscale do it: the default route via the TUN
// lives in its own table (numbered as the fwmark), consulted by every packet
// that does not carry the tunnel's own mark; the main table still answers
// first for anything more specific than a default (the uplinks' own subnets).
// The tunnel's sockets are marked, so their UDP never loops into the TUN.
void ClientDaemon::install_full_tunnel(std::uint32_t vip, std::vector<std::string>& errors) {
  const std::uint32_t table = settings_.fwmark;
  if (auto e = netlink_.add_route(tun_->ifindex(), 0, 0, vip, table); !e.empty()) errors.push_back(e);
  if (full_tunnel_rules_) return;
  daemon::NetlinkConfig::Rule main_first;
  main_first.priority = limits::kRulePriority;
  main_first.table = limits::kMainRoutingTable;
  main_first.suppress_prefixlen = 0;
  daemon::NetlinkConfig::Rule unmarked;
  unmarked.priority = limits::kRulePriority + 1;
  unmarked.table = table;
  unmarked.fwmark = settings_.fwmark;
  unmarked.invert = true;
  for (const auto& r : {main_first, unmarked})
    if (auto e = netlink_.add_rule(r); !e.empty()) errors.push_back(e);
  full_tunnel_rules_ = true;
  log::notice("full tunnel: default route via " + tun_->name() + " in table " + std::to_string(table) +
              ", rules at priority " + std::to_string(limits::kRulePriority));
}

// The same for IPv6 (a "::/0" route): its own table and rules, same numbers.
void ClientDaemon::install_full_tunnel6(std::vector<std::string>& errors) {
  const std::uint32_t table = settings_.fwmark;
  if (auto e = netlink_.add_route6(tun_->ifindex(), {}, 0, table); !e.empty()) errors.push_back(e);
  if (full_tunnel_rules6_) return;
  daemon::NetlinkConfig::Rule main_first;
  main_first.family = AF_INET6;
  main_first.priority = limits::kRulePriority;
  main_first.table = limits::kMainRoutingTable;
  main_first.suppress_prefixlen = 0;
  daemon::NetlinkConfig::Rule unmarked = main_first;
  unmarked.priority = limits::kRulePriority + 1;
  unmarked.table = table;
  unmarked.suppress_prefixlen = -1;
  unmarked.fwmark = settings_.fwmark;
  unmarked.invert = true;
  for (const auto& r : {main_first, unmarked})
    if (auto e = netlink_.add_rule(r); !e.empty()) errors.push_back(e);
  full_tunnel_rules6_ = true;
}

// The kill switch and the IPv6 leak guard: an inet table dropping what would
// leave outside the TUN. With kill_switch, every IPv4 packet but the daemon's
// marked UDP to its hubs, DHCP and kill_switch_allow; with a "::/0" route, a
// full IPv4 tunnel (unless ipv6_outside) or kill_switch, every IPv6 packet
// but neighbour discovery. A route an attacker
// injects (a rogue DHCP server's, TunnelVision) cannot get around it: the
// filter looks at the packet, not at the routing table.
void ClientDaemon::install_leak_guard() {
  bool v6 = settings_.kill_switch;
  for (const auto& h : settings_.hubs) v6 = v6 || h.ipv6_default || (h.ipv4_default && !settings_.ipv6_outside);
  if (!settings_.kill_switch && !v6) return;
  const std::string tun = "\"" + tun_->name() + "\"";
  std::string hubs, ports, allow;
  std::set<std::uint16_t> port_set;
  for (const auto& h : settings_.hubs)
    for (const auto& e : h.endpoints) port_set.insert(e.port);
  for (const auto p : port_set) ports += (ports.empty() ? "" : ", ") + std::to_string(p);
  for (const auto& h : settings_.hubs) hubs += (hubs.empty() ? "" : ", ") + h.endpoint.to_string();
  for (const auto& p : settings_.kill_switch_allow) allow += (allow.empty() ? "" : ", ") + p.to_string();
  std::string out = "    oifname { \"lo\", " + tun + " } accept\n";
  std::string fwd = "    oifname " + tun + " accept\n    iifname " + tun + " accept\n";
  // The tunnel's own datagrams, of either family: they carry the bypass mark,
  // which only the daemon's sockets set (SO_MARK needs CAP_NET_ADMIN). The
  // hubs' addresses are not listed: a hub named in DNS may move.
  out += "    meta mark " + std::to_string(settings_.fwmark) + " udp dport { " + ports + " } accept\n";
  // The daemon's own lookups of hub names (tund/hub_resolver.hpp), marked
  // too. Any server's port 53, not a list: the network's servers change
  // with the network (a new Wi-Fi's DHCP), as a hub's address may, and the
  // mark already says the packet is the daemon's. Applications' DNS has no
  // mark: it leaves through the TUN or not at all.
  out += "    meta mark " + std::to_string(settings_.fwmark) + " udp dport 53 accept\n";
  if (settings_.kill_switch) {
    out += "    udp sport 68 udp dport 67 accept\n";
    if (!allow.empty()) {
      out += "    ip daddr { " + allow + " } accept\n";
      fwd += "    ip daddr { " + allow + " } accept\n";
    }
    out += "    meta nfproto ipv4 counter drop comment \"kill switch\"\n";
    fwd += "    meta nfproto ipv4 counter drop comment \"kill switch\"\n";
  }
  if (v6) {
    out += "    icmpv6 type { nd-router-solicit, nd-neighbor-solicit, nd-neighbor-advert } accept\n"
           "    meta nfproto ipv6 counter drop comment \"no IPv6 outside the tunnel\"\n";
    fwd += "    meta nfproto ipv6 counter drop comment \"no IPv6 outside the tunnel\"\n";
  }
  const std::string rules = "  chain output {\n    type filter hook output priority 0; policy accept;\n" + out +
                            "  }\n  chain forward {\n    type filter hook forward priority 0; policy accept;\n" + fwd +
                            "  }\n";
  // The kill switch fails closed: not owned, so neither a crash nor a failed
  // start removes it (release_kill_switch, `tund down`). The IPv6 leak guard
  // alone goes with the daemon.
  if (auto e = nft_.install_table("inet", client::guard_table_name(tun_->name()), rules, !settings_.kill_switch); !e.empty())
    throw std::runtime_error("nftables: " + e);
  log::notice(std::string(settings_.kill_switch ? "kill switch on" : "IPv6 leak guard on") + ": nothing leaves outside " +
              tun_->name() + (settings_.kill_switch ? " but the tunnel to " + hubs : " over IPv6"));
}

void ClientDaemon::release_kill_switch() {
  if (!settings_.kill_switch) return;
  const auto table = client::guard_table_name(tun_->name());
  if (explicit_stop_) {
    nft_.delete_table_if_present("inet", table);
    log::notice("kill switch off: stopped");
  } else {
    log::warning("kill switch kept: nothing leaves outside " + tun_->name() + " until tund starts again or `tund down` lifts it");
  }
}

// Gateway mode: one inet table for both families. The LAN's IPv6 is
// masqueraded to the IPv6 VIP as its IPv4 is to the IPv4 VIP (the hub admits
// only VIP sources).
void ClientDaemon::install_gateway() {
  const auto& gw = settings_.gateway;
  if (gw.lan.empty() && gw.lan6.empty()) return;
  std::string lan, lan6;
  for (const auto& p : gw.lan) lan += (lan.empty() ? "" : ", ") + p.to_string();
  for (const auto& p : gw.lan6) lan6 += (lan6.empty() ? "" : ", ") + p.to_string();
  const std::string tun = "\"" + tun_->name() + "\"";
  std::string rules;
  if (gw.masquerade) {
    rules += "  chain postrouting {\n    type nat hook postrouting priority 100; policy accept;\n";
    if (!lan.empty()) rules += "    oifname " + tun + " ip saddr { " + lan + " } masquerade\n";
    if (!lan6.empty()) rules += "    oifname " + tun + " ip6 saddr { " + lan6 + " } masquerade\n";
    rules += "  }\n";
  }
  // LAN hosts think in 1500-byte packets; the tunnel carries fewer. Clamping
  // the MSS of forwarded SYNs to the route's MTU spares them a PMTU black hole.
  rules += "  chain forward {\n    type filter hook forward priority -150; policy accept;\n    oifname " + tun +
           " tcp flags syn / syn,rst tcp option maxseg size set rt mtu\n    iifname " + tun +
           " tcp flags syn / syn,rst tcp option maxseg size set rt mtu\n  }\n";
  if (auto e = nft_.install_table("inet", client::client_table_name(tun_->name()), rules); !e.empty())
    throw std::runtime_error("nftables: " + e);
  const std::string all = lan + (!lan.empty() && !lan6.empty() ? ", " : "") + lan6;
  for (const auto& [family, prefixes] : {std::pair{4, lan}, std::pair{6, lan6}})
    if (!prefixes.empty() && !daemon::forwarding_on(family))
      log::warning("gateway: " + daemon::forwarding_sysctl(family) + " is 0: the LAN (" + prefixes +
                   ") will not be routed into " + tun_->name());
  log::notice("gateway: LAN " + all + (gw.masquerade ? " masqueraded to the VIPs" : "") + " through " + tun_->name());
}

void ClientDaemon::on_handshake(std::size_t slot) {
  const auto& s = client_->session(slot);
  const auto& hub = settings_.hubs[slot];
  auto& st = hub_state_[slot];
  const auto& a = s.vip();
  if (st.installed && a.vip == st.installed->vip && a.vip6 == st.installed->vip6) return;  // a rekey
  if (st.installed) log::warning("hub " + hub.name + ": VIP changed from " + vip_text(*st.installed));
  std::vector<std::string> errors;
  // The VIP as a /32 plus explicit routes, so two hubs may hand out
  // overlapping subnets without a connected route fighting over them.
  if (a.has_v4()) {
    if (auto e = netlink_.add_address(tun_->ifindex(), a.vip, 32); !e.empty()) errors.push_back(e);
    // The core decided what of the assignment it routes (session/vip_check.hpp).
    if (const auto& r = s.assigned_route()) {
      const std::uint32_t net = load_be32(r->addr.data());
      if (auto e = netlink_.add_route(tun_->ifindex(), net, r->len, a.vip); !e.empty()) errors.push_back(e);
    } else if (a.prefix_len < 32) {
      log::warning("hub " + hub.name + ": VIP subnet /" + std::to_string(a.prefix_len) +
                   " not routed (wider than max_vip_subnet, or overlapping an uplink or another hub's routes)");
    }
    for (const auto& r : hub.routes) {
      if (r.len == 0) {
        install_full_tunnel(a.vip, errors);
        continue;
      }
      if (auto e = netlink_.add_route(tun_->ifindex(), r.addr, r.len, a.vip); !e.empty()) errors.push_back(e);
    }
  } else if (!hub.routes.empty()) {
    log::warning("hub " + hub.name + ": IPv4 routes configured but the hub assigned no IPv4 VIP: not routed");
  }
  // IPv6 inside, when the hub assigned an IPv6 VIP: the same, per family.
  if (a.has_v6()) {
    if (auto e = netlink_.add_address6(tun_->ifindex(), a.vip6, 128); !e.empty()) errors.push_back(e);
    if (const auto& r6 = s.assigned_route6())
      if (auto e = netlink_.add_route6(tun_->ifindex(), r6->addr, r6->len); !e.empty()) errors.push_back(e);
    for (const auto& r : hub.routes6) {
      if (r.len == 0) {
        install_full_tunnel6(errors);
        continue;
      }
      if (auto e = netlink_.add_route6(tun_->ifindex(), r.addr, r.len); !e.empty()) errors.push_back(e);
    }
  } else if (!hub.routes6.empty()) {
    log::warning("hub " + hub.name + ": IPv6 routes configured but the hub assigned no IPv6 VIP: not routed");
  }
  for (const auto& e : errors) log::error("hub " + hub.name + ": " + e);
  st.installed = a;
  apply_dns();
}

// After a hub's handshake (its servers are reachable now) and at a reload.
// A session that goes quiet keeps its servers on the TUN: taking them off
// would send names outside while the tunnel recovers.
void ClientDaemon::apply_dns() {
  if (!dns_) return;
  std::vector<bool> up;
  for (const auto& st : hub_state_) up.push_back(st.installed.has_value());
  dns_->apply(tun_->ifindex(), link_dns(settings_.hubs, up));
}

void ClientDaemon::log_session_edge(const engine::Event& e) {
  const auto& hub = settings_.hubs[e.slot];
  const auto& s = client_->session(e.slot);
  const std::string uplink = uplink_name(s.active_path());
  if (e.kind == engine::EventKind::kUp) {
    const std::string member = hub.endpoints[e.member].to_string();
    const std::string vip = vip_text(s.vip());
    network_log_.event(log::kSessionConnected, log::Level::kNotice,
                       "hub " + hub.name + ": connected to " + member + " via " + uplink + ", vip " + vip + ", " +
                           std::to_string(hub.routes.size() + hub.routes6.size()) + " route(s) via " + tun_->name(),
                       {{"TUND_HUB", hub.name}, {"TUND_HUB_ENDPOINT", member}, {"TUND_UPLINK", uplink}, {"TUND_VIP", vip}});
    return;
  }
  network_log_.event(log::kSessionLost, log::Level::kNotice, "hub " + hub.name + ": session lost (" + e.text + "), handshaking again",
                     {{"TUND_HUB", hub.name}, {"TUND_UPLINK", uplink}});
}

}  // namespace tund::client
