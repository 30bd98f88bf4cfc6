// The client's TOML config, read strictly (see daemon/config_check.hpp).
//
//   private_key_file = "client.key"          # relative to this file's directory
//   control_socket = "/run/tund/client.sock"
//   [tun]   name = "tun0", mtu = 1420
//   fwmark = 0x7475                          # on the tunnel's own sockets
//   [[hub]] name, endpoint = "ip:port" | "[ipv6]:port" | "name:port" (or endpoints = [...], a
//           cluster's members), public_key, routes = ["cidr", ...],
//           persistent_keepalive = seconds (0 = off),
//           max_vip_subnet = 16 (widest VIP subnet, as a prefix length, routed to this hub),
//           dns = ["10.4.0.53"], dns_domains = ["corp.example", "~lab.example"] (tund/dns_config.hpp)
//   [uplinks] prefer, avoid, metered (globs), max_rtt_ms, max_loss, hold_down_ms,
//             idle_after_ms, idle_keepalive_ms, idle_standby_probe_ms
//   [handover] resend_max_bytes, resend_max_packets, resend_max_age_ms
//   [performance] offload = true, crypto_threads = N
//   metrics_listen = "127.0.0.1:9586"         # Prometheus /metrics (optional)
//   kill_switch = false, kill_switch_allow = ["192.168.1.0/24"]
//   (a hub's routes = ["0.0.0.0/0", "::/0"]: full tunnel through policy routing)
//   [gateway] lan = ["192.168.50.0/24"], masquerade = true   (a LAN behind this client)
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "daemon/config_check.hpp"
#include "daemon/link_dns.hpp"
#include "session/resend_buffer.hpp"
#include "session/uplink_policy.hpp"

namespace tund::client {

struct HubSettings {
  std::string name;
  config::HostPort endpoint;  // an address, or a name resolved at run time (hub_resolver.hpp)
  // A cluster's members, in its [cluster] members order (endpoint is the
  // first); one element for a lone hub.
  std::vector<config::HostPort> endpoints;
  PublicKey public_key{};
  std::vector<config::Prefix> routes;
  std::vector<config::Prefix6> routes6;  // carried when the hub assigns an IPv6 VIP
  unsigned persistent_keepalive_s = 0;
  std::uint8_t min_vip_prefix = limits::kDefaultMinVipPrefix;
  bool ipv6_default = false;  // routes has "::/0": IPv6 goes through the tunnel, none may leave outside it
  bool ipv4_default = false;  // routes has "0.0.0.0/0": a full tunnel, which IPv6 must not bypass
  // DNS servers inside the tunnel and their search / routing domains, set on
  // the TUN while this hub's session is up (tund/dns_config.hpp).
  std::vector<Endpoint> dns;  // port 0
  std::vector<daemon::DnsDomain> dns_domains;
};

// Gateway mode: hosts on these LAN prefixes route through this client; their
// packets leave through the tunnel from the VIP (masqueraded), since a hub
// accepts nothing but the VIP as a client's source.
struct GatewaySettings {
  std::vector<config::Prefix> lan;
  std::vector<config::Prefix6> lan6;  // a LAN's IPv6, carried when the hub gives an IPv6 VIP
  bool masquerade = true;
};

struct ClientSettings {
  std::string config_path;
  PrivateKey private_key{};
  std::string control_socket = "/run/tund/client.sock";
  std::string tun_name = "tun0";
  unsigned mtu = 1420;
  std::vector<HubSettings> hubs;
  std::uint32_t fwmark = 0x7475;
  session::UplinkPolicyConfig uplinks;
  session::IdlePolicy idle;
  session::RedundancyPolicy redundant;  // [uplinks] redundant: sent on the two best uplinks
  session::ResendLimits resend;
  config::DataPathSettings data_path;
  std::optional<Endpoint> metrics_listen;
  GatewaySettings gateway;
  // Drop everything leaving other interfaces than the TUN, except the
  // daemon's own (marked) packets to its hubs, DHCP, and these ranges.
  bool kill_switch = false;
  std::vector<config::Prefix> kill_switch_allow;
  // A full IPv4 tunnel with no "::/0" drops IPv6 outside the TUN (a host
  // whose network has IPv6 would otherwise send half its traffic around the
  // tunnel unnoticed) unless this says IPv6 may go outside. The kill switch
  // blocks it regardless.
  bool ipv6_outside = false;
  // What the caller should log (the reader itself logs nothing).
  std::vector<std::string> warnings;
};

// The nftables table (family inet) of the kill switch and the IPv6 leak guard.
std::string guard_table_name(const std::string& tun);

// The nftables table (family ip) of a client on `tun`: gateway NAT and MSS clamping.
std::string client_table_name(const std::string& tun);

// Throws config::ConfigError with "file:line:column: reason". A file loaded
// as /etc/tund/NAME.toml is the unit instance tund@NAME (the instance name
// comes from the path: daemon/config_files.hpp), and unless the file sets
// them its TUN is NAME and its control socket /run/tund/NAME.sock, so that
// instances never clash. A NAME that cannot name an interface keeps tun0,
// with a warning. Any other path: tun0 and /run/tund/client.sock.
ClientSettings load_client_config(const std::string& path);
// The same with the instance given (nothing: no instance).
ClientSettings load_client_config(const std::string& path, const std::optional<std::string>& instance);
// From text in memory (the C API): `origin` names it in errors; no instance.
// A private_key_file is read relative to the working directory: give private_key.
ClientSettings load_client_config_text(const std::string& text, const std::string& origin);

}  // namespace tund::client
