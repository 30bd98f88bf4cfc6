// The hub daemon: moves packets between its UDP socket and its TUN device
// through the sans-I/O session::Hub, installs NAT and expose rules, and
// answers the control socket.
//
//   UDP readable ─▶ recvmmsg ─▶ Hub::receive (VIP check) ─▶ write to hub0 | reply
//   hub0 readable ─▶ read batch ─▶ Hub::seal_to_vip(destination) ─▶ sendmmsg
//   timer ─▶ Hub::on_timer ─▶ poll_transmit ─▶ send
#pragma once

#include <memory>
#include <string>
#include <nlohmann/json.hpp>

#include "crypto/primitives.hpp"
#include "daemon/asio.hpp"
#include "daemon/control_socket.hpp"
#include "daemon/event_sources.hpp"
#include "daemon/heap_trim.hpp"
#include "daemon/log.hpp"
#include "daemon/netlink_config.hpp"
#include "daemon/nftables.hpp"
#include "daemon/data_path.hpp"
#include "daemon/metrics.hpp"
#include "daemon/sd_notify.hpp"
#include "daemon/tun_device.hpp"
#include "daemon/tun_io.hpp"
#include "daemon/udp_socket.hpp"
#include "hub/cluster_agent.hpp"
#include "hub/hub_config.hpp"
#include "session/hub.hpp"
#include "session/inner_mtu.hpp"

namespace tund::hub {

// The nftables table (family ip) holding the NAT and expose rules of a hub on `tun`.
std::string nat_table_name(const std::string& tun);

// The families the hub carries inside the tunnel (those of its VIP prefixes,
// [tun] address) that the kernel does not forward, read under proc_sys: the
// hub warns about each at start, since in that family its clients and the
// networks behind it would not reach each other.
std::vector<int> unforwarded_families(const HubSettings& s, const std::string& proc_sys = "/proc/sys");

class HubDaemon {
 public:
  HubDaemon(asio::io_context& io, HubSettings settings);  // throws on startup failure
  ~HubDaemon();

  std::string status_json() const;
  // The core's drop counters and the daemon's own, by reason (status and metrics).
  nlohmann::json drop_counts() const;
  // SIGHUP: adds and removes clients, and replaces the NAT and expose rules,
  // without touching other live sessions; what only a restart can change is
  // named in the log.
  // Applies what can change while running; returns what it did (also logged).
  std::string reload(HubSettings fresh);
  void reload_failed();

 private:
  void on_tun_readable();
  void on_udp_readable(std::size_t socket);
  // The socket datagrams to `to` leave by: the first that reaches its
  // family (-1: none, counted as no_socket).
  int socket_for(const Endpoint& to) const;
  std::string listen_text() const;
  void flush_tx();
  // Seals send slot i with seal(buf, inner_len, job) (toward the inner
  // packet's destination, or the client whose pacer released it) and
  // addresses it, with the policy's copy; one too big for the client's path
  // goes to on_too_big(i, inner_mtu).
  template <class Seal, class OnTooBig>
  void seal_slot(std::size_t i, Time now, Seal&& seal, OnTooBig&& on_too_big);
  std::string status_line() const;
  std::string render_metrics() const;
  void after_event(Time now);
  std::string nat_rules() const;
  std::string nat_rules6() const;
  bool wants_nat(int family) const;  // masquerade or an [[expose]] in that family (4 or 6)
  // What a client is assigned in the handshake: its VIPs and the hub's subnets.
  crypto::VipAssignment assignment(const ClientSettings& c) const;
  std::string vip_text(const ClientSettings& c) const;   // "" without IPv4 inside
  std::string vip6_text(const ClientSettings& c) const;  // "" without IPv6 inside
  std::string tun_address_text() const;
  std::string handle_control(const std::string& request, bool privileged);
  void install_nat();
  // Every client goes to the core through here, so its name is known by id.
  void add_client(const ClientSettings& c);
  // A client's session began (s) or ended (nullptr): a journal event.
  void log_session_change(session::ClientId id, const session::HubSession* s);
  // A cluster member: its clients' VIPs from etcd (startup), session changes
  // to the agent, a takeover or a lost lease ending sessions here.
  void start_cluster(asio::io_context& io);
  void set_vips(ClientSettings& c, std::uint32_t pool_addr) const;
  void add_cluster_clients(std::vector<ClientSettings> added);
  // `tund-hub drain`: ask every client to move, take no one new, exit when
  // none is left (or at limits::kDrainDeadline).
  std::string start_drain();
  void drain_tick();

  asio::io_context& io_;
  HubSettings settings_;
  crypto::SodiumRng rng_;
  std::unique_ptr<session::Hub> hub_;
  std::unique_ptr<daemon::TunDevice> tun_;
  std::vector<std::unique_ptr<daemon::UdpSocket>> sockets_;  // one per `listen` address
  daemon::NetlinkConfig netlink_;
  daemon::Nftables nft_;
  std::unique_ptr<daemon::ControlServer> control_;
  std::unique_ptr<daemon::FdWatch> tun_watch_;
  std::vector<std::unique_ptr<daemon::FdWatch>> udp_watches_;
  daemon::DeadlineTimer timer_;
  daemon::HeapTrimmer heap_trim_{io_};
  std::unique_ptr<ClusterAgent> cluster_;
  std::unique_ptr<asio::steady_timer> drain_timer_;
  std::chrono::steady_clock::time_point drain_until_{};

  std::unique_ptr<daemon::DataPath> dp_;
  daemon::SdNotify notify_;
  std::unique_ptr<daemon::MetricsServer> metrics_;
  std::size_t notified_sessions_ = 0;
  std::vector<std::string> client_names_;  // by session::ClientId
  // Sessions begin and end at the clients' pace: rate-limited.
  log::RateLimited session_log_{limits::kLogBurst, limits::kLogWindow};
  std::vector<std::uint8_t> reply_buf_;
  std::uint64_t not_ip_ = 0;
  std::uint64_t no_socket_ = 0;
};

}  // namespace tund::hub
