// The client daemon: moves packets between tun0 and the hubs through the
// sans-I/O session::Client, one UDP socket per uplink, and decides which
// uplink each session uses.
//
//   tun0 readable   ─▶ read batch ─▶ route to a hub ─▶ seal ─▶ sendmmsg on the session's active uplink
//   uplink readable ─▶ recvmmsg ─▶ Client::receive(path = ifindex) ─▶ write inner packets to tun0
//   timer           ─▶ Client::on_timer (handshakes, keepalives, probes) ─▶ poll_transmit ─▶ send
//   netlink change  ─▶ reconcile uplink sockets and paths ─▶ policy ─▶ set_active_path
//
// Each uplink socket is bound to its interface (SO_BINDTODEVICE) and carries
// the bypass fwmark, so the tunnel's own packets leave through that interface
// whatever the routing table says and can never loop into tun0.
#pragma once

#include <array>
#include <map>
#include <nlohmann/json.hpp>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "crypto/primitives.hpp"
#include "daemon/asio.hpp"
#include "daemon/control_socket.hpp"
#include "daemon/event_sources.hpp"
#include "daemon/heap_trim.hpp"
#include "daemon/link_dns_setter.hpp"
#include "daemon/netlink_config.hpp"
#include "daemon/nftables.hpp"
#include "daemon/data_path.hpp"
#include "daemon/log.hpp"
#include "daemon/metrics.hpp"
#include "daemon/sd_notify.hpp"
#include "daemon/tun_device.hpp"
#include "daemon/tun_io.hpp"
#include "daemon/udp_socket.hpp"
#include "netmon/link_monitor.hpp"
#include "netmon/system_metered.hpp"
#include "engine/client_engine.hpp"
#include "session/client.hpp"
#include "session/inner_mtu.hpp"
#include "session/uplink_policy.hpp"
#include "tund/client_config.hpp"
#include "tund/hub_resolver.hpp"

namespace tund::client {

// A session's path is one uplink in one address family (engine/client_engine.hpp);
// the daemon's uplink id is the ifindex.
using engine::kIpv6PathBit;
using engine::path_family;
using engine::path_id;
inline int path_ifindex(session::PathId p) { return static_cast<int>(engine::path_uplink(p)); }

class ClientDaemon {
 public:
  // Opens the TUN, sockets and control socket; throws on failure (startup).
  ClientDaemon(asio::io_context& io, ClientSettings settings);
  ~ClientDaemon();

  bool all_connected() const;
  std::string status_json() const;
  // The core's drop counters and the daemon's own, by reason (status and metrics).
  nlohmann::json drop_counts() const;
  // SIGHUP: applies the uplink policy and each hub's routes at once, without
  // touching live sessions; what only a restart can change is named in the log.
  void reload(ClientSettings fresh);
  void reload_failed();
  // An explicit stop (SIGTERM, SIGINT): the one exit that lifts the kill
  // switch. A crash, a failed start or anything else leaves it up.
  void stopping() { explicit_stop_ = true; }

 private:
  // What only the daemon keeps per hub; the session, its policy and the
  // cluster member it follows are the engine's.
  struct HubState {
    // The VIPs configured on the TUN for this hub, once connected.
    std::optional<crypto::VipAssignment> installed;
    // One per endpoint (a cluster's members, in config order).
    std::vector<std::unique_ptr<HubResolver>> resolvers;
  };
  struct UplinkSocket {
    std::string name;
    std::unique_ptr<daemon::UdpSocket> socket;
    std::unique_ptr<daemon::FdWatch> watch;
  };
  void on_tun_readable();
  void on_uplink_readable(int ifindex);
  void on_table_change(Time now);
  // Metered or not: the configured globs, NetworkManager, the default globs.
  bool uplink_metered(const std::string& name) const;
  const char* metered_source(const std::string& name) const;
  // The hubs' configured routes and the uplinks' own subnets, into the core's table.
  void push_routes();
  void push_local_prefixes();
  void reconcile_sockets(Time now);
  void apply_policy(Time now, const std::string& why) { engine_->apply_policy(now, why); }
  // The engine's events: logs, the TUN's addresses, name lookups.
  void handle_events();
  // A hub member's addresses changed (its resolver).
  void on_hub_addresses(std::size_t slot, std::size_t member);
  // What the engine knows of the uplinks: the netlink table and our sockets.
  std::vector<engine::Uplink> engine_uplinks() const;
  void after_event(Time now);
  void on_handshake(std::size_t slot);
  // Logs the session's connected / lost events (engine::EventKind::kUp, kDown).
  void log_session_edge(const engine::Event& e);
  // Seals what the batch holds (in parallel) and sends it, uplink by uplink.
  void flush_tx();
  // Seals send slot i (an inner packet read from the TUN, or one the pacer
  // released) toward hub `slot` and addresses it, with the policy's copy;
  // one too big for the path goes to on_too_big(i, inner_mtu).
  template <class OnTooBig>
  void seal_slot(std::size_t i, std::optional<std::size_t> slot, Time now, bool released, OnTooBig&& on_too_big);
  // The packets each session's pacer lets go now, into the send batch.
  void release_paced(std::size_t slot, Time now);
  std::string uplink_name(session::PathId path) const { return engine_->uplink_name(path); }
  // Where datagrams of `slot` on `path` go: the hub's address of that path's family.
  const Endpoint* remote(std::size_t slot, session::PathId path) const { return engine_->remote(slot, path); }
  // A session's state as the status JSON and the metrics name it: one of these.
  static constexpr const char* kStateNames[] = {"connected", "connecting", "idle"};
  static const char* state_name(const session::ClientSession& s);
  static std::string vip6_text(const crypto::VipAssignment& a);
  static std::string vip_text(const crypto::VipAssignment& a);  // "10.77.0.2, fd77::2"
  std::string handle_control(const std::string& request, bool privileged);
  std::string status_line() const;
  std::string render_metrics() const;
  void install_gateway();
  void install_leak_guard();
  // The TUN's DNS from the hubs whose session is up (tund/dns_config.hpp).
  void apply_dns();
  nlohmann::json dns_json() const;
  void release_kill_switch();
  void install_full_tunnel(std::uint32_t vip, std::vector<std::string>& errors);
  void install_full_tunnel6(std::vector<std::string>& errors);
  nlohmann::json data_path_json() const;
  std::string handle_switch(const std::string& target);

  asio::io_context& io_;
  ClientSettings settings_;
  crypto::SodiumRng rng_;
  std::unique_ptr<engine::ClientEngine> engine_;
  session::Client* client_ = nullptr;  // the engine's
  std::unique_ptr<daemon::TunDevice> tun_;
  daemon::NetlinkConfig netlink_;
  bool explicit_stop_ = false;
  daemon::Nftables nft_;
  bool full_tunnel_rules_ = false;
  bool full_tunnel_rules6_ = false;
  // Handovers and (re)connections come at the network's pace: rate-limited.
  log::RateLimited network_log_{limits::kLogBurst, limits::kLogWindow};
  std::unique_ptr<netmon::LinkMonitor> monitor_;
  std::unique_ptr<netmon::SystemMetered> system_metered_;
  std::map<int, UplinkSocket> uplinks_;  // by ifindex = session path id
  std::unique_ptr<daemon::ControlServer> control_;
  std::unique_ptr<daemon::FdWatch> tun_watch_;
  daemon::DeadlineTimer timer_;
  daemon::HeapTrimmer heap_trim_{io_};

  std::unique_ptr<daemon::DataPath> dp_;
  daemon::SdNotify notify_;
  std::unique_ptr<daemon::MetricsServer> metrics_;
  // The switching exchanges' durations.
  std::vector<std::uint64_t> seen_switches_;
  std::array<std::uint64_t, limits::kHandoverHistogramSize> exchange_buckets_{};  // per limits::kHandoverHistogramBuckets
  std::uint64_t exchange_count_ = 0;
  double exchange_sum_s_ = 0;
  std::uint64_t status_signature_ = 0;
  // Hub names looked up by the daemon itself (kill switch, full tunnel); the
  // hubs' resolvers use it, so it outlives them.
  std::unique_ptr<HubLookupStub> stub_;
  std::unique_ptr<daemon::LinkDnsSetter> dns_;  // when a hub has dns
  std::vector<HubState> hub_state_;
  std::uint64_t no_route_ = 0;
  std::uint64_t no_uplink_ = 0;
};

}  // namespace tund::client
