#include "tund/client_daemon.hpp"

#include <unistd.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "daemon/clock.hpp"
#include "daemon/log.hpp"
#include "session/ip_packet.hpp"

namespace tund::client {

namespace t = wire::transport;
using session::ReceiveResult;
using session::SealResult;

ClientDaemon::ClientDaemon(asio::io_context& io, ClientSettings settings)
    : settings_(std::move(settings)),
      timer_(io, [this] { after_event(daemon::now()); }),
      control_buf_(daemon::kBufferSize) {
  session::ClientConfig cc;
  cc.identity.priv = settings_.private_key;
  if (!cc.identity.complete()) throw std::runtime_error("the private key gives no usable public key");
  cc.wall_offset = daemon::wall_offset();
  client_ = std::make_unique<session::Client>(cc, rng_);

  tun_ = std::make_unique<daemon::TunDevice>(settings_.tun_name, settings_.mtu);
  udp_ = std::make_unique<daemon::UdpSocket>(daemon::UdpSocket::Options{});
  control_ = std::make_unique<daemon::ControlServer>(
      io, settings_.control_socket, [this](const std::string& r) { return handle_control(r); });

  const Time now = daemon::now();
  for (const auto& hub : settings_.hubs) {
    const auto slot = client_->add_hub(hub.public_key);
    client_->session(slot).set_persistent_keepalive(std::chrono::seconds(hub.persistent_keepalive_s));
    client_->session(slot).start(now);
    hub_state_.push_back({});
    for (const auto& r : hub.routes) routes_.push_back({r, slot});
  }
  std::stable_sort(routes_.begin(), routes_.end(),
                   [](const Route& a, const Route& b) { return a.prefix.len > b.prefix.len; });
  log::notice("tund: " + tun_->name() + " up (mtu " + std::to_string(tun_->mtu()) + "), " +
              std::to_string(settings_.hubs.size()) + " hub(s), control socket " + settings_.control_socket);
  after_event(now);
  tun_watch_ = std::make_unique<daemon::FdWatch>(io, tun_->fd(), [this] { on_tun_readable(); });
  udp_watch_ = std::make_unique<daemon::FdWatch>(io, udp_->fd(), [this] { on_udp_readable(); });
}

ClientDaemon::~ClientDaemon() { netlink_.remove_all(); }

std::optional<std::size_t> ClientDaemon::route_for(std::uint32_t dst) const {
  for (const auto& r : routes_)
    if (r.prefix.contains(dst)) return r.slot;
  // The hub's VIP subnet (server-side VIPs) goes to the hub that assigned it.
  for (std::size_t i = 0; i < client_->session_count(); ++i) {
    const auto& v = client_->session(i).vip();
    if (v.vip && config::Prefix{v.vip, v.prefix_len}.contains(dst)) return i;
  }
  return std::nullopt;
}

void ClientDaemon::on_tun_readable() {
  const Time now = daemon::now();
  auto& b = tx_batch_;
  b.count = 0;
  for (std::size_t reads = 0; reads < daemon::kBatch; ++reads) {
    const MutableBytes buf = b.buffer(b.count);
    const long n = tun_->read_packet(buf.subspan(t::kHeaderSize, daemon::kBufferSize - t::kOverhead));
    if (n <= 0) break;
    const auto inner = session::parse_inner(Bytes(buf.data() + t::kHeaderSize, static_cast<std::size_t>(n)));
    const auto slot = inner && inner->version == 4 ? route_for(inner->dst4) : std::nullopt;
    if (!slot) {
      ++no_route_;
      continue;
    }
    const auto r = client_->session(*slot).seal(buf, static_cast<std::size_t>(n), now);
    if (r.kind != SealResult::Kind::kSend) continue;
    b.length(b.count) = r.len;
    b.peer(b.count) = settings_.hubs[*slot].endpoint;
    ++b.count;
  }
  if (b.count) udp_->send(b);
  after_event(now);
}

void ClientDaemon::on_udp_readable() {
  const Time now = daemon::now();
  udp_->receive(rx_batch_);
  for (std::size_t i = 0; i < rx_batch_.count; ++i) {
    const MutableBytes d(rx_batch_.data(i), rx_batch_.length(i));
    const auto r = client_->receive(d, 0, now);
    if (r.kind == ReceiveResult::Kind::kDeliver && !tun_->write_packet(Bytes(d.data() + r.offset, r.len)))
      ++tun_write_errors_;
  }
  after_event(now);
}

void ClientDaemon::after_event(Time now) {
  if (client_->next_deadline() <= now) client_->on_timer(now);
  for (std::size_t slot = 0; slot < client_->session_count(); ++slot) {
    auto& s = client_->session(slot);
    while (auto tx = s.poll_transmit(control_buf_, now))
      udp_->send_one(Bytes(control_buf_.data(), tx->len), settings_.hubs[slot].endpoint);
    if (s.last_handshake() != hub_state_[slot].seen_handshake) {
      hub_state_[slot].seen_handshake = s.last_handshake();
      on_handshake(slot);
    }
  }
  timer_.arm(client_->next_deadline());
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
  const config::Prefix subnet{vip & (s.vip().prefix_len ? ~0u << (32 - s.vip().prefix_len) : 0), s.vip().prefix_len};
  if (subnet.len > 0 && subnet.len < 32)
    if (auto e = netlink_.add_route(tun_->ifindex(), subnet.addr, subnet.len, vip); !e.empty()) errors.push_back(e);
  for (const auto& r : hub.routes)
    if (auto e = netlink_.add_route(tun_->ifindex(), r.addr, r.len, vip); !e.empty()) errors.push_back(e);
  for (const auto& e : errors) log::error("hub " + hub.name + ": " + e);
  st.installed_vip = vip;
  log::notice("hub " + hub.name + ": connected to " + hub.endpoint.to_string() + ", vip " +
              config::ipv4_to_string(vip) + "/" + std::to_string(s.vip().prefix_len) + ", " +
              std::to_string(hub.routes.size()) + " route(s) via " + tun_->name());
}

bool ClientDaemon::all_connected() const {
  for (std::size_t i = 0; i < client_->session_count(); ++i)
    if (!client_->session(i).established()) return false;
  return true;
}

std::string ClientDaemon::status_json() const {
  using nlohmann::json;
  json hubs = json::array();
  for (std::size_t i = 0; i < client_->session_count(); ++i) {
    const auto& s = client_->session(i);
    const auto& h = settings_.hubs[i];
    json routes = json::array();
    for (const auto& r : h.routes) routes.push_back(r.to_string());
    hubs.push_back({{"name", h.name},
                    {"endpoint", h.endpoint.to_string()},
                    {"public_key", crypto::key_to_base64(h.public_key)},
                    {"state", s.established() ? "connected" : s.state() == session::ClientSession::State::kIdle ? "idle" : "connecting"},
                    {"vip", s.vip().vip ? config::ipv4_to_string(s.vip().vip) : ""},
                    {"routes", routes},
                    {"rx_bytes", s.stats().rx_bytes},
                    {"tx_bytes", s.stats().tx_bytes},
                    {"handshakes", s.stats().handshakes},
                    {"last_handshake", s.last_handshake() ? daemon::to_unix_seconds(*s.last_handshake()) : 0}});
  }
  json drops = json::object();
  for (std::size_t r = 0; r < kDropReasonCount; ++r)
    if (client_->drops().by_reason[r]) drops[std::string(to_string(DropReason(r)))] = client_->drops().by_reason[r];
  if (no_route_) drops["no_route"] = no_route_;
  if (tun_write_errors_) drops["tun_write_error"] = tun_write_errors_;
  const auto& first = client_->session(0).vip();
  return json{{"state", all_connected() ? "connected" : "connecting"},
              {"interface", tun_->name()},
              {"vip", first.vip ? config::ipv4_to_string(first.vip) : ""},
              {"active_uplink", ""},
              {"handovers", 0},
              {"hubs", hubs},
              {"uplinks", json::array()},
              {"drops", drops}}
      .dump();
}

std::string ClientDaemon::handle_control(const std::string& request) {
  if (request == "status") return status_json();
  return nlohmann::json{{"error", "unknown request '" + request.substr(0, 64) + "'"}}.dump();
}

}  // namespace tund::client
