// The client daemon, OS network configuration: the VIP and routes on tun0
// after a handshake, full tunnel (policy routing), the kill switch and IPv6
// leak guard, gateway NAT.
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
// marked UDP to its hubs, DHCP and kill_switch_allow; with a "::/0" route (or
// kill_switch), every IPv6 packet but neighbour discovery. A route an attacker
// injects (a rogue DHCP server's, TunnelVision) cannot get around it: the
// filter looks at the packet, not at the routing table.
void ClientDaemon::install_leak_guard() {
  bool v6 = settings_.kill_switch;
  for (const auto& h : settings_.hubs) v6 = v6 || h.ipv6_default;
  if (!settings_.kill_switch && !v6) return;
  const std::string tun = "\"" + tun_->name() + "\"";
  std::string hubs, ports, allow;
  for (const auto& h : settings_.hubs) {
    hubs += (hubs.empty() ? "" : ", ") + h.endpoint.to_string();
    ports += (ports.empty() ? "" : ", ") + std::to_string(h.endpoint.port);
  }
  for (const auto& p : settings_.kill_switch_allow) allow += (allow.empty() ? "" : ", ") + p.to_string();
  std::string out = "    oifname { \"lo\", " + tun + " } accept\n";
  std::string fwd = "    oifname " + tun + " accept\n    iifname " + tun + " accept\n";
  // The tunnel's own datagrams, of either family: they carry the bypass mark,
  // which only the daemon's sockets set (SO_MARK needs CAP_NET_ADMIN). The
  // hubs' addresses are not listed: a hub named in DNS may move.
  out += "    meta mark " + std::to_string(settings_.fwmark) + " udp dport { " + ports + " } accept\n";
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
  if (auto e = nft_.install_table("inet", client::guard_table_name(tun_->name()), rules); !e.empty())
    throw std::runtime_error("nftables: " + e);
  log::notice(std::string(settings_.kill_switch ? "kill switch on" : "IPv6 leak guard on") + ": nothing leaves outside " +
              tun_->name() + (settings_.kill_switch ? " but the tunnel to " + hubs : " over IPv6"));
}

void ClientDaemon::install_gateway() {
  const auto& gw = settings_.gateway;
  if (gw.lan.empty()) return;
  std::string lan;
  for (const auto& p : gw.lan) lan += (lan.empty() ? "" : ", ") + p.to_string();
  const std::string tun = "\"" + tun_->name() + "\"";
  std::string rules;
  if (gw.masquerade)
    rules += "  chain postrouting {\n    type nat hook postrouting priority 100; policy accept;\n    oifname " + tun +
             " ip saddr { " + lan + " } masquerade\n  }\n";
  // LAN hosts think in 1500-byte packets; the tunnel carries fewer. Clamping
  // the MSS of forwarded SYNs to the route's MTU spares them a PMTU black hole.
  rules += "  chain forward {\n    type filter hook forward priority -150; policy accept;\n    oifname " + tun +
           " tcp flags syn / syn,rst tcp option maxseg size set rt mtu\n    iifname " + tun +
           " tcp flags syn / syn,rst tcp option maxseg size set rt mtu\n  }\n";
  if (auto e = nft_.install_table("ip", client::client_table_name(tun_->name()), rules); !e.empty())
    throw std::runtime_error("nftables: " + e);
  std::ifstream f("/proc/sys/net/ipv4/ip_forward");
  int v = 0;
  if (!(f >> v) || v != 1)
    log::warning("gateway: net.ipv4.ip_forward is 0: the LAN (" + lan + ") will not be routed into " + tun_->name());
  log::notice("gateway: LAN " + lan + (gw.masquerade ? " masqueraded to the VIP" : "") + " through " + tun_->name());
}

void ClientDaemon::on_handshake(std::size_t slot) {
  const auto& s = client_->session(slot);
  const auto& hub = settings_.hubs[slot];
  auto& st = hub_state_[slot];
  const std::uint32_t vip = s.vip().vip;
  if (vip == st.installed_vip) return;  // a rekey: nothing to configure
  if (st.installed_vip)
    log::warning("hub " + hub.name + ": VIP changed from " + config::ipv4_to_string(st.installed_vip));
  // The VIP as a /32 plus explicit routes, so two hubs may hand out
  // overlapping subnets without a connected route fighting over them.
  std::vector<std::string> errors;
  if (auto e = netlink_.add_address(tun_->ifindex(), vip, 32); !e.empty()) errors.push_back(e);
  // The core decided what of the assignment it routes (session/vip_check.hpp).
  if (const auto& r = s.assigned_route()) {
    const std::uint32_t net = load_be32(r->addr.data());
    if (auto e = netlink_.add_route(tun_->ifindex(), net, r->len, vip); !e.empty()) errors.push_back(e);
  } else if (s.vip().prefix_len < 32) {
    log::warning("hub " + hub.name + ": VIP subnet /" + std::to_string(s.vip().prefix_len) +
                 " not routed (wider than max_vip_subnet, or overlapping an uplink or another hub's routes)");
  }
  for (const auto& r : hub.routes) {
    if (r.len == 0) {
      install_full_tunnel(vip, errors);
      continue;
    }
    if (auto e = netlink_.add_route(tun_->ifindex(), r.addr, r.len, vip); !e.empty()) errors.push_back(e);
  }
  // IPv6 inside, when the hub assigned an IPv6 VIP: the same, per family.
  if (s.vip().has_v6()) {
    if (auto e = netlink_.add_address6(tun_->ifindex(), s.vip().vip6, 128); !e.empty()) errors.push_back(e);
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
  st.installed_vip = vip;
  network_log_.write(log::Level::kNotice, "hub " + hub.name + ": connected to " + hub.endpoint.to_string() + " via " +
              uplink_name(s.active_path()) + ", vip " + config::ipv4_to_string(vip) + "/" +
              std::to_string(s.vip().prefix_len) + ", " + std::to_string(hub.routes.size()) + " route(s) via " +
              tun_->name());
}

}  // namespace tund::client
