#include "hub/hub_daemon.hpp"

#include <unistd.h>

#include <nlohmann/json.hpp>

#include "daemon/cli.hpp"
#include "daemon/clock.hpp"
#include "daemon/forwarding.hpp"
#include "daemon/json_reply.hpp"
#include "daemon/log.hpp"
#include "session/inner_mtu.hpp"
#include "session/ip_packet.hpp"

namespace tund::hub {

namespace t = wire::transport;
using session::ReceiveResult;
using session::SealResult;

std::string nat_table_name(const std::string& tun) {
  std::string n = "tund_hub_";
  for (char c : tun) n += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  return n;
}

std::vector<int> unforwarded_families(const HubSettings& s, const std::string& proc_sys) {
  std::vector<int> off;
  if (s.tun_address && !daemon::forwarding_on(4, proc_sys)) off.push_back(4);
  if (s.tun_address6 && !daemon::forwarding_on(6, proc_sys)) off.push_back(6);
  return off;
}

HubDaemon::HubDaemon(asio::io_context& io, HubSettings settings)
    : io_(io),
      settings_(std::move(settings)),
      timer_(io, [this] { after_event(daemon::now()); }),
      reply_buf_(daemon::kBufferSize) {
  // The VIPs survive a restart only if the hub can keep them: refuse to run
  // without a writable state directory rather than hand out different ones
  // (a cluster member's are in etcd).
  if (auto e = settings_.cluster ? std::string() : write_leases(settings_); !e.empty())
    throw std::runtime_error("state directory " + settings_.state_directory + ": " + e);
  session::HubConfig hc;
  hc.identity.priv = settings_.private_key;
  if (!hc.identity.complete()) throw std::runtime_error("the private key gives no usable public key");
  hc.resend = settings_.resend;
  hc.resend_total_bytes = settings_.resend_total_bytes;
  hc.staged_total_bytes = settings_.staged_total_bytes;
  hc.under_load_initiations_per_second = settings_.under_load_handshakes;
  hc.allow_aes = settings_.data_path.allow_aes;
  hc.pacing = settings_.data_path.pacing;
  hc.redundant = settings_.redundant;
  hub_ = std::make_unique<session::Hub>(hc, rng_);
  if (settings_.cluster) start_cluster(io);
  for (const auto& c : settings_.clients) add_client(c);

  tun_ = std::make_unique<daemon::TunDevice>(settings_.tun_name, settings_.mtu, settings_.data_path.offload);
  dp_ = std::make_unique<daemon::DataPath>(*tun_, settings_.mtu, settings_.data_path);
  if (const auto& a4 = settings_.tun_address) {
    if (auto e = netlink_.add_address(tun_->ifindex(), a4->addr, a4->len); !e.empty()) throw std::runtime_error(e);
  }
  if (const auto& a6 = settings_.tun_address6) {
    if (auto e = netlink_.add_address6(tun_->ifindex(), a6->addr, a6->len); !e.empty()) throw std::runtime_error(e);
  }
  for (const auto& l : settings_.listen) {
    daemon::UdpSocket::Options uo;
    uo.bind = l;
    uo.offload = settings_.data_path.offload;
    try {
      sockets_.push_back(std::make_unique<daemon::UdpSocket>(uo));
    } catch (const std::system_error& e) {
      throw std::runtime_error("listen " + l.to_string() + ": " + e.what());
    }
  }
  if (wants_nat(4)) {
    if (auto e = nft_.install_table("ip", nat_table_name(tun_->name()), nat_rules()); !e.empty())
      throw std::runtime_error("nftables: " + e);
  }
  if (wants_nat(6)) {
    if (auto e = nft_.install_table("ip6", nat_table_name(tun_->name()), nat_rules6()); !e.empty())
      throw std::runtime_error("nftables: " + e);
  }
  if (cluster_) cluster_->start(tun_->ifindex());
  for (int family : unforwarded_families(settings_))
    log::warning(daemon::forwarding_sysctl(family) + " is 0: IPv" + std::to_string(family) + " traffic between " +
                 tun_->name() + " and other interfaces will not be routed");
  control_ = std::make_unique<daemon::ControlServer>(
      io, settings_.control_socket, [this](const std::string& r, bool privileged) { return handle_control(r, privileged); });
  if (settings_.metrics_listen)
    metrics_ = std::make_unique<daemon::MetricsServer>(io, *settings_.metrics_listen, [this] { return render_metrics(); });
  log::notice("tund-hub: listening on " + listen_text() + ", " + tun_->name() + " " + tun_address_text() + ", " + std::to_string(settings_.clients.size()) +
              " client(s), control socket " + settings_.control_socket + ", offloads " + tun_->offloads_string() +
              (sockets_.front()->gro() ? "+udp-gro" : "") + ", " + std::to_string(dp_->pool.workers()) + " crypto thread(s)");
  tun_watch_ = std::make_unique<daemon::FdWatch>(io, tun_->fd(), [this] { on_tun_readable(); });
  for (std::size_t i = 0; i < sockets_.size(); ++i)
    udp_watches_.push_back(std::make_unique<daemon::FdWatch>(io, sockets_[i]->fd(), [this, i] { on_udp_readable(i); }));
  notify_.ready(status_line());
}

void HubDaemon::reload_failed() { notify_.ready(status_line()); }

std::string HubDaemon::reload(HubSettings fresh) {
  notify_.send("RELOADING=1");
  std::vector<std::string> needs_restart;
  if (!(fresh.listen == settings_.listen)) needs_restart.push_back("listen");
  if (fresh.tun_name != settings_.tun_name || !(fresh.tun_address == settings_.tun_address) ||
      fresh.tun_address6 != settings_.tun_address6 || fresh.mtu != settings_.mtu)
    needs_restart.push_back("[tun]");
  if (fresh.private_key != settings_.private_key) needs_restart.push_back("private_key_file");
  if (fresh.control_socket != settings_.control_socket) needs_restart.push_back("control_socket");
  if (fresh.metrics_listen != settings_.metrics_listen) needs_restart.push_back("metrics_listen");
  if (fresh.state_directory != settings_.state_directory) needs_restart.push_back("state_directory");
  if (fresh.cluster != settings_.cluster) needs_restart.push_back("[cluster]");
  std::size_t added = 0, removed = 0;
  if (needs_restart.empty()) {
    // Clients: gone ones lose their session; new ones may connect at once.
    // A client whose VIP changed keeps the old one until its next start.
    for (const auto& old : settings_.clients) {
      const bool kept = std::any_of(fresh.clients.begin(), fresh.clients.end(),
                                    [&](const ClientSettings& c) { return c.public_key == old.public_key; });
      if (!kept) {
        hub_->remove_client(old.public_key);
        ++removed;
      }
    }
    std::vector<ClientSettings> from_etcd;
    for (auto& c : fresh.clients) {
      const auto old = std::find_if(settings_.clients.begin(), settings_.clients.end(),
                                    [&](const ClientSettings& o) { return o.public_key == c.public_key; });
      if (old != settings_.clients.end()) {
        c.vip = old->vip;
        c.vip6 = old->vip6;
        continue;
      }
      ++added;
      if (cluster_) from_etcd.push_back(c);
      else add_client(c);
    }
    if (!from_etcd.empty()) add_cluster_clients(std::move(from_etcd));
    settings_.clients = fresh.clients;
    settings_.masquerade = fresh.masquerade;
    settings_.exposes = fresh.exposes;
    settings_.redundant = fresh.redundant;
    hub_->set_redundancy(settings_.redundant);
    settings_.masquerade6 = fresh.masquerade6;
    if (!cluster_)
      if (auto e = write_leases(settings_); !e.empty()) log::warning("state directory: " + e);
    install_nat();
  }
  std::string note = "reloaded: " + std::to_string(added) + " client(s) added, " + std::to_string(removed) +
                     " removed, NAT and expose rules replaced";
  if (!needs_restart.empty()) {
    std::string list;
    for (const auto& n : needs_restart) list += (list.empty() ? "" : ", ") + n;
    note = "reload: " + list + " changed: nothing applied until the next start";
  }
  log::notice(note);
  after_event(daemon::now());
  notify_.ready(status_line());
  return note;
}

void HubDaemon::install_nat() {
  const std::string table = nat_table_name(tun_->name());
  if (wants_nat(4)) {
    if (auto e = nft_.install_table("ip", table, nat_rules()); !e.empty()) log::error("nftables: " + e);
  } else {
    nft_.delete_table_if_present("ip", table);
  }
  if (wants_nat(6)) {
    if (auto e = nft_.install_table("ip6", table, nat_rules6()); !e.empty()) log::error("nftables: " + e);
  } else {
    nft_.delete_table_if_present("ip6", table);
  }
}

std::string HubDaemon::status_line() const {
  return "listening on " + listen_text() + ", " + std::to_string(hub_->session_count()) + " of " +
         std::to_string(settings_.clients.size()) + " client(s) connected";
}

HubDaemon::~HubDaemon() {
  nft_.remove_all();
  netlink_.remove_all();
}

crypto::VipAssignment HubDaemon::assignment(const ClientSettings& c) const {
  crypto::VipAssignment a;
  a.mtu = static_cast<std::uint16_t>(settings_.mtu);
  if (const auto& a4 = settings_.tun_address) {
    a.vip = c.vip;
    a.prefix_len = a4->len;
    a.gateway = a4->addr;
  }
  if (settings_.tun_address6) {
    a.vip6 = c.vip6;
    a.prefix6_len = settings_.tun_address6->len;
  }
  return a;
}

std::string HubDaemon::nat_rules6() const {
  config::Prefix6 subnet = *settings_.tun_address6;
  for (unsigned bit = subnet.len; bit < 128; ++bit) subnet.addr[bit / 8] &= static_cast<std::uint8_t>(~(0x80u >> (bit % 8)));
  std::string r = "  chain postrouting {\n    type nat hook postrouting priority 100; policy accept;\n";
  for (const auto& m : settings_.masquerade6)
    r += "    ip6 saddr " + subnet.to_string() + " ip6 daddr " + m.to_string() + " masquerade\n";
  r += "  }\n";
  std::string dnat;
  for (const auto& x : settings_.exposes) {
    if (x.listen.family != 6) continue;
    const std::string match = x.listen.unspecified() ? "fib daddr type local" : "ip6 daddr " + x.listen.address_string();
    dnat += "    " + match + " " + x.protocol + " dport " + std::to_string(x.listen.port) + " dnat to [" +
            vip6_text(settings_.clients[x.client]) + "]:" + std::to_string(x.port) + "\n";
  }
  r += "  chain prerouting {\n    type nat hook prerouting priority -100; policy accept;\n" + dnat + "  }\n";
  r += "  chain output {\n    type nat hook output priority -100; policy accept;\n" + dnat + "  }\n";
  return r;
}

bool HubDaemon::wants_nat(int family) const {
  const bool masquerades = family == 4 ? !settings_.masquerade.empty() : !settings_.masquerade6.empty();
  return masquerades ||
         std::any_of(settings_.exposes.begin(), settings_.exposes.end(),
                     [family](const ExposeSettings& x) { return x.listen.family == family; });
}

std::string HubDaemon::nat_rules() const {
  const config::Prefix subnet{settings_.tun_address->addr & prefix_mask_v4(settings_.tun_address->len),
                              settings_.tun_address->len};
  std::string r;
  r += "  chain postrouting {\n    type nat hook postrouting priority 100; policy accept;\n";
  for (const auto& m : settings_.masquerade)
    r += "    ip saddr " + subnet.to_string() + " ip daddr " + m.to_string() + " masquerade\n";
  r += "  }\n";
  std::string dnat;
  for (const auto& x : settings_.exposes) {
    if (x.listen.family != 4) continue;  // nat_rules6
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

std::string HubDaemon::vip_text(const ClientSettings& c) const {
  return settings_.tun_address ? config::ipv4_to_string(c.vip) : "";
}

std::string HubDaemon::tun_address_text() const {
  std::string out;
  if (settings_.tun_address) out = settings_.tun_address->to_string();
  if (settings_.tun_address6) out += (out.empty() ? "" : ", ") + settings_.tun_address6->to_string();
  return out;
}

std::string HubDaemon::vip6_text(const ClientSettings& c) const {
  if (!settings_.tun_address6) return "";
  config::Prefix6 p{c.vip6, 128};
  return p.address_string();
}

std::string HubDaemon::listen_text() const {
  std::string out;
  for (const auto& l : settings_.listen) out += (out.empty() ? "" : ", ") + l.to_string();
  return out;
}

int HubDaemon::socket_for(const Endpoint& to) const {
  for (std::size_t i = 0; i < sockets_.size(); ++i)
    if (sockets_[i]->can_reach(to)) return static_cast<int>(i);
  return -1;
}

void HubDaemon::flush_tx() {
  auto& b = dp_->tx;
  dp_->seal_batch();
  // Runs of slots for one socket go out in one sendmmsg.
  for (std::size_t i = 0; i < b.count;) {
    std::size_t j = i;
    while (j < b.count && (b.entry(j).socket == b.entry(i).socket || !b.entry(j).len)) ++j;
    const int sock = b.entry(i).socket;
    if (sock >= 0 && static_cast<std::size_t>(sock) < sockets_.size()) {
      sockets_[static_cast<std::size_t>(sock)]->send(b, i, j);
    } else {
      for (std::size_t k = i; k < j; ++k) no_socket_ += b.entry(k).len ? 1 : 0;
    }
    i = j;
  }
  b.clear();
}

template <class Seal, class OnTooBig>
void HubDaemon::seal_slot(std::size_t i, Time now, Seal&& seal, OnTooBig&& on_too_big) {
  auto& b = dp_->tx;
  auto& e = b.entry(i);
  crypto::SealJob job;
  const std::size_t inner_len = e.len;
  const auto sealed = seal(MutableBytes(b.slot(i), b.stride()), inner_len, &job);
  if (sealed.kind == SealResult::Kind::kTooBig) return on_too_big(i, sealed.len);
  if (sealed.kind != SealResult::Kind::kSend) {
    e.len = 0;
    return;
  }
  e.len = sealed.len;
  e.to = sealed.to;
  e.socket = socket_for(sealed.to);
  e.fragment = sealed.fragment;
  b.jobs.push_back(job);
  // The operator's redundancy policy: a copy to the client's standby address.
  if (sealed.copy)
    dp_->copy_slot(i, inner_len, [&](std::size_t c, std::size_t n) {
      crypto::SealJob copy_job;
      const auto copy = hub_->seal_redundant_copy(MutableBytes(b.slot(c), b.stride()), n, now, &copy_job);
      if (copy.kind != SealResult::Kind::kSend) return false;
      b.entry(c) = {copy.len, copy.to, socket_for(copy.to), copy.fragment};
      b.jobs.push_back(copy_job);
      return true;
    });
}

void HubDaemon::on_tun_readable() {
  const Time now = daemon::now();
  auto& b = dp_->tx;
  dp_->reader.read_batch(b, [this] { flush_tx(); }, [&](std::size_t first, std::size_t count) {
    const auto inner = session::parse_inner(Bytes(b.slot(first) + t::kDataOffset, b.entry(first).len));
    if (!inner) {
      for (std::size_t i = first; i < first + count; ++i) b.entry(i).len = 0;
      not_ip_ += count;
      return;
    }
    const auto to_destination = [&](MutableBytes buf, std::size_t len, crypto::SealJob* job) {
      return hub_->seal_to_destination(*inner, buf, len, now, job);
    };
    // Too big for the client's path: fragments, or ICMP back to the server that sent it.
    dp_->seal_segments(first, count, now,
                       [&](std::size_t i, auto&& on_too_big) { seal_slot(i, now, to_destination, on_too_big); });
  });
  flush_tx();
  dp_->writer.flush();
  after_event(now);
}

void HubDaemon::on_udp_readable(std::size_t socket) {
  const Time now = daemon::now();
  auto& rx = dp_->rx;
  auto& udp = *sockets_[socket];
  udp.receive(rx);
  dp_->open_batch([&](Bytes d) { return hub_->keypair_for(d, now); },
                  [&](MutableBytes d, std::size_t i, const crypto::OpenJob* job) {
                    const auto r = hub_->receive(d, rx.peer(i), now, reply_buf_, job);
                    if (r.kind == ReceiveResult::Kind::kDeliver) {
                      dp_->writer.add(Bytes(d.data() + r.offset, r.len));
                    } else if (r.kind == ReceiveResult::Kind::kReply) {
                      udp.send_one(Bytes(reply_buf_.data(), r.len), rx.peer(i));
                    }
                    hub_->release_ordered(now, [&](Bytes inner) { dp_->writer.add(inner); });
                  });
  dp_->writer.flush();
  after_event(now);
}

void HubDaemon::after_event(Time now) {
  if (hub_->next_deadline() <= now) hub_->on_timer(now);
  // A spread flow's packets whose wait for earlier ones ran out.
  hub_->release_ordered(now, [&](Bytes inner) { dp_->writer.add(inner); });
  dp_->writer.flush();
  for (const auto id : hub_->take_session_changes()) {  // drained always: kept bounded
    const auto* s = hub_->session(id);
    log_session_change(id, s);
    if (!cluster_) continue;
    if (s) cluster_->session_started(hub_->client_key(id));
    else cluster_->session_ended(hub_->client_key(id));
  }
  // Acks, probes, resends and staged packets of many sessions: one sendmmsg.
  auto& b = dp_->tx;
  for (;;) {
    if (b.free() == 0) flush_tx();
    const auto tx = hub_->poll_transmit(MutableBytes(b.slot(b.count), b.stride()), now);
    if (!tx) break;
    b.entry(b.count) = {tx->len, tx->to, socket_for(tx->to), tx->fragment};
    ++b.count;
  }
  // Data the clients' pacers held back, as each one's turn comes.
  session::ClientId who = 0;
  for (;;) {
    if (b.free() < 2) flush_tx();  // room for the policy's copy
    const std::size_t c = b.count;
    const auto n = hub_->release_paced(MutableBytes(b.slot(c) + t::kDataOffset, b.stride() - t::kDataOverhead), now, who);
    if (!n) break;
    b.entry(c).len = *n;
    ++b.count;
    const auto to_client = [&](MutableBytes buf, std::size_t len, crypto::SealJob* job) {
      return hub_->seal_released(who, buf, len, now, job);
    };
    dp_->seal_segments(c, 1, now, [&](std::size_t i, auto&& on_too_big) { seal_slot(i, now, to_client, on_too_big); });
  }
  flush_tx();
  timer_.arm(hub_->next_deadline());
  if (hub_->session_count() != notified_sessions_) {
    notified_sessions_ = hub_->session_count();
    notify_.status(status_line());
  }
}

void HubDaemon::add_client(const ClientSettings& c) {
  const auto id = hub_->add_client(c.public_key, assignment(c));
  if (id >= client_names_.size()) client_names_.resize(id + 1);
  client_names_[id] = c.name;
}

void HubDaemon::log_session_change(session::ClientId id, const session::HubSession* s) {
  const std::string& name = client_names_[id];
  if (!s) {
    session_log_.event(log::kClientSessionEnded, log::Level::kNotice, "client " + name + ": session ended",
                       {{"TUND_CLIENT", name}});
    return;
  }
  const std::string endpoint = s->endpoint().to_string();
  const std::string cipher = crypto::to_string(s->suite());
  session_log_.event(log::kClientSessionStarted, log::Level::kNotice,
                     "client " + name + ": session established from " + endpoint + " (" + cipher + ")",
                     {{"TUND_CLIENT", name}, {"TUND_ENDPOINT", endpoint}, {"TUND_CIPHER", cipher}});
}

std::string HubDaemon::handle_control(const std::string& request, bool privileged) {
  if (request == "status") return status_json();
  if (request == "reload") {
    // What SIGHUP does, with an answer (tund-hub add-client waits for it).
    // It changes who may connect: root only.
    if (!privileged) return daemon::to_reply(nlohmann::json{{"error", "reload needs root"}});
    try {
      return daemon::to_reply(nlohmann::json{{"ok", true}, {"note", reload(load_hub_config(settings_.config_path))}});
    } catch (const config::ConfigError& e) {
      log::error(std::string("tund-hub: reload refused, config unchanged: ") + e.what());
      reload_failed();
      return daemon::to_reply(nlohmann::json{{"error", std::string("reload refused, config unchanged: ") + e.what()}});
    }
  }
  if (request == "drain") {
    if (!privileged) return daemon::to_reply(nlohmann::json{{"error", "drain needs root"}});
    return start_drain();
  }
  return daemon::unknown_request_reply(request);
}

}  // namespace tund::hub
