// The client daemon: moves packets between tun0 and the hubs' UDP endpoints
// through the sans-I/O session::Client, configures tun0's addresses and routes
// as sessions come up, and answers the control socket.
//
//   tun0 readable ─▶ read batch ─▶ route by destination to a hub ─▶ seal ─▶ sendmmsg
//   UDP readable  ─▶ recvmmsg   ─▶ Client::receive ─▶ write inner packets to tun0
//   timer         ─▶ Client::on_timer ─▶ poll_transmit ─▶ send
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "daemon/asio.hpp"
#include "daemon/control_socket.hpp"
#include "daemon/event_sources.hpp"
#include "daemon/netlink_config.hpp"
#include "daemon/tun_device.hpp"
#include "daemon/udp_socket.hpp"
#include "crypto/primitives.hpp"
#include "session/client.hpp"
#include "tund/client_config.hpp"

namespace tund::client {

class ClientDaemon {
 public:
  // Opens the TUN, sockets and control socket; throws on failure (startup).
  ClientDaemon(asio::io_context& io, ClientSettings settings);
  ~ClientDaemon();

  bool all_connected() const;
  std::string status_json() const;

 private:
  struct Route {
    config::Prefix prefix;
    std::size_t slot;
  };
  struct HubState {
    std::optional<Time> seen_handshake;
    std::uint32_t installed_vip = 0;
  };

  void on_tun_readable();
  void on_udp_readable();
  void after_event(Time now);
  void on_handshake(std::size_t slot);
  std::optional<std::size_t> route_for(std::uint32_t dst) const;
  std::string handle_control(const std::string& request);

  ClientSettings settings_;
  crypto::SodiumRng rng_;
  std::unique_ptr<session::Client> client_;
  std::unique_ptr<daemon::TunDevice> tun_;
  std::unique_ptr<daemon::UdpSocket> udp_;
  daemon::NetlinkConfig netlink_;
  std::unique_ptr<daemon::ControlServer> control_;
  std::unique_ptr<daemon::FdWatch> tun_watch_;
  std::unique_ptr<daemon::FdWatch> udp_watch_;
  daemon::DeadlineTimer timer_;

  daemon::DatagramBatch tx_batch_;
  daemon::DatagramBatch rx_batch_;
  std::vector<std::uint8_t> control_buf_;
  std::vector<Route> routes_;  // longest prefix first
  std::vector<HubState> hub_state_;
  std::uint64_t tun_write_errors_ = 0;
  std::uint64_t no_route_ = 0;
};

}  // namespace tund::client
