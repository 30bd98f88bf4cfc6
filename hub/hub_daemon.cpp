#include "hub/hub_daemon.hpp"

#include <unistd.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "daemon/clock.hpp"
#include "daemon/drops_json.hpp"
#include "daemon/log.hpp"
#include "session/ip_packet.hpp"

namespace tund::hub {

namespace t = wire::transport;
using session::ReceiveResult;
using session::SealResult;

namespace {
std::string table_name(const std::string& tun) {
  std::string n = "tund_hub_";
  for (char c : tun) n += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  return n;
}

bool forwarding_enabled() {
  std::ifstream f("/proc/sys/net/ipv4/ip_forward");
  int v = 0;
  return f >> v && v == 1;
}
}  // namespace

HubDaemon::HubDaemon(asio::io_context& io, HubSettings settings)
    : settings_(std::move(settings)),
      timer_(io, [this] { after_event(daemon::now()); }),
      reply_buf_(daemon::kBufferSize) {
  session::HubConfig hc;
  hc.identity.priv = settings_.private_key;
  if (!hc.identity.complete()) throw std::runtime_error("the private key gives no usable public key");
  hc.resend = settings_.resend;
  hc.resend_total_bytes = settings_.resend_total_bytes;
  hub_ = std::make_unique<session::Hub>(hc, rng_);
  for (const auto& c : settings_.clients)
    hub_->add_client(c.public_key, crypto::VipAssignment{c.vip, settings_.tun_address.len,
                                                        static_cast<std::uint16_t>(settings_.mtu),
                                                        settings_.tun_address.addr});

  tun_ = std::make_unique<daemon::TunDevice>(settings_.tun_name, settings_.mtu);
  if (auto e = netlink_.add_address(tun_->ifindex(), settings_.tun_address.addr, settings_.tun_address.len); !e.empty())
    throw std::runtime_error(e);
  daemon::UdpSocket::Options uo;
  uo.bind = settings_.listen;
  udp_ = std::make_unique<daemon::UdpSocket>(uo);
  if (!settings_.masquerade.empty() || !settings_.exposes.empty()) {
    if (auto e = nft_.install_table("ip", table_name(tun_->name()), nat_rules()); !e.empty())
      throw std::runtime_error("nftables: " + e);
  }
  if (!forwarding_enabled())
    log::warning("net.ipv4.ip_forward is 0: traffic between " + tun_->name() +
                 " and other interfaces will not be routed");
  control_ = std::make_unique<daemon::ControlServer>(
      io, settings_.control_socket, [this](const std::string& r) { return handle_control(r); });
  log::notice("tund-hub: listening on " + settings_.listen.to_string() + ", " + tun_->name() + " " +
              settings_.tun_address.to_string() + ", " + std::to_string(settings_.clients.size()) +
              " client(s), control socket " + settings_.control_socket);
  tun_watch_ = std::make_unique<daemon::FdWatch>(io, tun_->fd(), [this] { on_tun_readable(); });
  udp_watch_ = std::make_unique<daemon::FdWatch>(io, udp_->fd(), [this] { on_udp_readable(); });
}

HubDaemon::~HubDaemon() {
  nft_.remove_all();
  netlink_.remove_all();
}

std::string HubDaemon::nat_rules() const {
  const config::Prefix subnet{settings_.tun_address.addr & (~0u << (32 - settings_.tun_address.len)),
                              settings_.tun_address.len};
  std::string r;
  r += "  chain postrouting {\n    type nat hook postrouting priority 100; policy accept;\n";
  for (const auto& m : settings_.masquerade)
    r += "    ip saddr " + subnet.to_string() + " ip daddr " + m.to_string() + " masquerade\n";
  r += "  }\n";
  std::string dnat;
  for (const auto& x : settings_.exposes) {
    const std::uint32_t listen_ip = load_be32(x.listen.addr.data());
    const std::string match = listen_ip ? "ip daddr " + config::ipv4_to_string(listen_ip) : "fib daddr type local";
    dnat += "    " + match + " " + x.protocol + " dport " + std::to_string(x.listen.port) + " dnat to " +
            config::ipv4_to_string(settings_.clients[x.client].vip) + ":" + std::to_string(x.port) + "\n";
  }
  // prerouting: from other hosts; output: from the hub itself.
  r += "  chain prerouting {\n    type nat hook prerouting priority -100; policy accept;\n" + dnat + "  }\n";
  r += "  chain output {\n    type nat hook output priority -100; policy accept;\n" + dnat + "  }\n";
  return r;
}

void HubDaemon::on_tun_readable() {
  const Time now = daemon::now();
  auto& b = tx_batch_;
  b.count = 0;
  for (std::size_t reads = 0; reads < daemon::kBatch; ++reads) {
    const MutableBytes buf = b.buffer(b.count);
    const long n = tun_->read_packet(buf.subspan(t::kDataOffset, daemon::kBufferSize - t::kDataOverhead));
    if (n <= 0) break;
    const auto inner = session::parse_inner(Bytes(buf.data() + t::kDataOffset, static_cast<std::size_t>(n)));
    if (!inner || inner->version != 4) {
      ++not_ipv4_;
      continue;
    }
    const auto r = hub_->seal_to_vip(inner->dst4, buf, static_cast<std::size_t>(n), now);
    if (r.kind != SealResult::Kind::kSend) continue;
    b.length(b.count) = r.len;
    b.peer(b.count) = r.to;
    ++b.count;
  }
  if (b.count) udp_->send(b);
  after_event(now);
}

void HubDaemon::on_udp_readable() {
  const Time now = daemon::now();
  udp_->receive(rx_batch_);
  for (std::size_t i = 0; i < rx_batch_.count; ++i) {
    const MutableBytes d(rx_batch_.data(i), rx_batch_.length(i));
    const auto r = hub_->receive(d, rx_batch_.peer(i), now, reply_buf_);
    if (r.kind == ReceiveResult::Kind::kDeliver) {
      if (!tun_->write_packet(Bytes(d.data() + r.offset, r.len))) ++tun_write_errors_;
    } else if (r.kind == ReceiveResult::Kind::kReply) {
      udp_->send_one(Bytes(reply_buf_.data(), r.len), rx_batch_.peer(i));
    }
  }
  after_event(now);
}

void HubDaemon::after_event(Time now) {
  if (hub_->next_deadline() <= now) hub_->on_timer(now);
  while (auto tx = hub_->poll_transmit(reply_buf_, now)) udp_->send_one(Bytes(reply_buf_.data(), tx->len), tx->to);
  timer_.arm(hub_->next_deadline());
}

std::string HubDaemon::status_json() const {
  using nlohmann::json;
  json sessions = json::array();
  json clients = json::array();
  for (std::size_t i = 0; i < settings_.clients.size(); ++i) {
    const auto& c = settings_.clients[i];
    const auto id = hub_->find_client(c.public_key);
    const auto* s = id ? hub_->session(*id) : nullptr;
    clients.push_back({{"name", c.name}, {"vip", config::ipv4_to_string(c.vip)}, {"connected", s != nullptr}});
    if (!s) continue;
    sessions.push_back({{"name", c.name},
                        {"public_key", crypto::key_to_base64(c.public_key)},
                        {"vip", config::ipv4_to_string(c.vip)},
                        {"endpoint", s->endpoint().to_string()},
                        {"rx_bytes", s->stats().rx_bytes},
                        {"tx_bytes", s->stats().tx_bytes},
                        {"handshakes", s->stats().handshakes},
                        {"last_handshake", s->last_handshake() ? daemon::to_unix_seconds(*s->last_handshake()) : 0}});
  }
  json drops = daemon::drops_json(hub_->drops());
  if (not_ipv4_) drops["not_ipv4"] = not_ipv4_;
  if (tun_write_errors_) drops["tun_write_error"] = tun_write_errors_;
  return json{{"state", "running"},
              {"interface", tun_->name()},
              {"address", settings_.tun_address.to_string()},
              {"listen", settings_.listen.to_string()},
              {"public_key", crypto::key_to_base64(hub_->public_key())},
              {"under_load", hub_->under_load(daemon::now())},
              {"resend_buffer_bytes", hub_->resend_bytes()},
              {"sessions", sessions},
              {"clients", clients},
              {"drops", drops}}
      .dump();
}

std::string HubDaemon::handle_control(const std::string& request) {
  if (request == "status") return status_json();
  return nlohmann::json{{"error", "unknown request '" + request.substr(0, 64) + "'"}}.dump();
}

}  // namespace tund::hub
