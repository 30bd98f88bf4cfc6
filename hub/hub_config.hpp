// The hub's TOML config, read strictly (see daemon/config_check.hpp).
//
//   private_key_file, listen = "0.0.0.0:51900" | "[::]:51900" (both families) | [list], control_socket
//   [tun]      name = "hub0", address = "10.77.0.1/24" | ["10.77.0.1/24", "fd77::1/64"] | "fd77::1/64",
//              mtu = 1420
//   [[client]] name, public_key, vip (optional: else from the pool, stable per config order),
//              vip6 (optional: else the IPv6 prefix with the pool address's host part)
//   clients_directory = "clients.d"  (more [[client]] tables, one NAME.toml each,
//              as `tund-hub add-client` writes them; relative to the config's directory)
//   [nat]      masquerade = ["10.4.0.0/24", "fd04::/64"]
//   [[expose]] listen = "10.4.0.1:8080", to = "phone:80", protocol = "tcp" | "udp"
//   [handover] resend_max_bytes, resend_max_packets, resend_max_age_ms (per session), resend_total_bytes
//   [performance] offload = true, crypto_threads = N
//   state_directory = "/var/lib/tund"  (VIP leases, kept across restarts)
//   metrics_listen = "127.0.0.1:9586"  (Prometheus /metrics, optional)
//   [limits]   under_load_handshakes = 4096   (initiations/s above which cookies are demanded),
//              staged_total_bytes = 33554432   (all sessions' packets waiting for a key or path)
//   [cluster]  name = "edge", member = "hub-a", members = ["hub-a", "hub-b"] (the clients'
//              endpoints order), etcd = ["127.0.0.1:2379"], table = 29814 (routes for BIRD),
//              etcd_ca = "ca.pem" (TLS), etcd_cert + etcd_key (a client certificate),
//              etcd_user + etcd_password_file (etcd's user authentication); files
//              relative to the config's directory, keys and passwords mode 600
#pragma once

#include <map>
#include <string>
#include <vector>

#include "daemon/config_check.hpp"
#include "daemon/etcd_security.hpp"
#include "session/resend_buffer.hpp"

namespace tund::hub {

struct ClientSettings {
  std::string name;
  PublicKey public_key{};
  // The client's IPv4 VIP; with IPv6 alone inside, the pool address its IPv6
  // VIP is derived from (see vip_pool below), never sent or shown.
  std::uint32_t vip = 0;
  std::array<std::uint8_t, 16> vip6{};  // all zero: none (no IPv6 prefix on the hub)
  std::string source;  // the file its [[client]] table is in
};

struct ExposeSettings {
  Endpoint listen;
  std::size_t client = 0;  // index into clients
  std::uint16_t port = 0;
  std::string protocol = "tcp";
};

// One member of a hub cluster (hub/cluster_agent.hpp): VIPs and session
// ownership in etcd, VIP routes in `table` for BIRD to announce.
struct ClusterSettings {
  std::string name;
  std::string member;
  std::vector<std::string> members;
  std::size_t index = 0;  // this member's position in members
  std::vector<std::string> etcd;
  daemon::etcd::Security etcd_security;  // TLS and user; files read and checked at load
  std::uint32_t table = limits::kClusterRouteTable;
  bool operator==(const ClusterSettings&) const = default;
};

struct HubSettings {
  std::string config_path;
  PrivateKey private_key{};
  std::vector<Endpoint> listen;  // one socket each
  std::string control_socket = "/run/tund/hub.sock";
  std::string tun_name = "hub0";
  std::optional<config::Prefix> tun_address = config::Prefix{0x0a4d0001, 24};  // IPv4 inside, unless IPv6 alone
  std::optional<config::Prefix6> tun_address6;  // IPv6 inside, when given
  // What VIPs are allocated from (vip_pool.hpp) and leases record: the IPv4
  // prefix; with IPv6 alone, the IPv6 prefix's host part (its last 16 bits at
  // most, i.e. up to 65,534 clients) written as an IPv4 prefix.
  config::Prefix vip_pool{0x0a4d0001, 24};
  unsigned mtu = 1420;
  std::vector<ClientSettings> clients;
  std::vector<config::Prefix> masquerade;
  std::vector<config::Prefix6> masquerade6;
  std::vector<ExposeSettings> exposes;
  session::ResendLimits resend;
  std::size_t resend_total_bytes = 256u << 20;
  session::RedundancyPolicy redundant;  // [handover] redundant: copies to the client's standby address
  config::DataPathSettings data_path;
  std::optional<Endpoint> metrics_listen;
  std::uint32_t under_load_handshakes = limits::kUnderLoadInitiationsPerSecond;
  std::size_t staged_total_bytes = limits::kHubStagedTotalBytes;
  std::string state_directory = "/var/lib/tund";  // VIP leases (systemd's StateDirectory=tund)
  std::string clients_directory;                  // drop-in [[client]] files; absolute
  std::optional<ClusterSettings> cluster;         // VIPs from etcd, not the leases file
};

std::string lease_file(const HubSettings& s);
// VIP leases kept across restarts: <state_directory>/leases-<tun>, one
// "<client public key> <vip>" line per client (its IPv6 VIP with IPv6 alone
// inside); read as pool addresses.
std::map<PublicKey, std::uint32_t> read_leases(const HubSettings& s);
// Writes every client's VIP (atomically: a temporary file, then rename).
// Returns the error text, empty on success.
std::string write_leases(const HubSettings& s);

HubSettings load_hub_config(const std::string& path);

// A client's IPv6 VIP when its config gives none: the IPv6 prefix with the
// host part of its pool address (10.77.0.2 in 10.77.0.0/24 -> fd77::2).
std::array<std::uint8_t, 16> derived_vip6(const config::Prefix6& net6, const config::Prefix& pool, std::uint32_t vip);
// The pool for a hub with IPv6 alone inside: the hub's own host number in
// the IPv6 prefix's last bits (fd77::1/64 -> 0.0.0.1/16).
config::Prefix ipv6_only_pool(const config::Prefix6& net6);

// The drop-in file `tund-hub add-client NAME` writes and `remove-client` removes.
std::string client_file(const HubSettings& s, const std::string& name);

}  // namespace tund::hub
