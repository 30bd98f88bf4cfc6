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

ClientDaemon::ClientDaemon(asio::io_context& io, ClientSettings settings)
    : io_(io),
      settings_(std::move(settings)),
      timer_(io, [this] { after_event(daemon::now()); }),
      control_buf_(daemon::kBufferSize) {
  session::ClientConfig cc;
  cc.identity.priv = settings_.private_key;
  if (!cc.identity.complete()) throw std::runtime_error("the private key gives no usable public key");
  cc.wall_offset = daemon::wall_offset();
  cc.resend = settings_.resend;
  if (!settings_.data_path.allow_aes) cc.capabilities &= ~wire::initiation_payload::kCapAes256Gcm;
  client_ = std::make_unique<session::Client>(cc, rng_);
  tun_ = std::make_unique<daemon::TunDevice>(settings_.tun_name, settings_.mtu, settings_.data_path.offload);
  dp_ = std::make_unique<daemon::DataPath>(*tun_, settings_.mtu, settings_.data_path);
  install_gateway();
  install_leak_guard();

  const Time now = daemon::now();
  for (const auto& hub : settings_.hubs) {
    const auto slot = client_->add_hub(hub.public_key, hub.min_vip_prefix);
    client_->session(slot).set_persistent_keepalive(std::chrono::seconds(hub.persistent_keepalive_s));
    hub_state_.push_back({{}, 0, session::UplinkSelector(settings_.uplinks)});
  }
  push_routes();

  // The tunnel's own TUN devices are never uplinks.
  monitor_ = std::make_unique<netmon::LinkMonitor>(io, std::vector<std::string>{tun_->name(), "tun*"},
                                                   [this](const netmon::UplinkTable&) { on_table_change(daemon::now()); });
  reconcile_sockets(now);
  apply_policy(now, "start");
  for (std::size_t slot = 0; slot < client_->session_count(); ++slot) client_->session(slot).start(now);

  control_ = std::make_unique<daemon::ControlServer>(
      io, settings_.control_socket, [this](const std::string& r, bool privileged) { return handle_control(r, privileged); });
  if (settings_.metrics_listen)
    metrics_ = std::make_unique<daemon::MetricsServer>(io, *settings_.metrics_listen, [this] { return render_metrics(); });
  seen_switches_.assign(client_->session_count(), 0);
  tun_watch_ = std::make_unique<daemon::FdWatch>(io, tun_->fd(), [this] { on_tun_readable(); });
  log::notice("tund: " + tun_->name() + " up (mtu " + std::to_string(tun_->mtu()) + ", offloads " +
              tun_->offloads_string() + ", " + std::to_string(dp_->pool.workers()) + " crypto thread(s)), " +
              std::to_string(settings_.hubs.size()) + " hub(s), " + std::to_string(uplinks_.size()) +
              " uplink(s), control socket " + settings_.control_socket);
  after_event(now);
  // Ready once the TUN and the uplink sockets are up: sessions come up (and
  // come and go) while the unit runs, and STATUS= tells which.
  notify_.ready(status_line());
}

ClientDaemon::~ClientDaemon() {
  nft_.remove_all();
  netlink_.remove_all();
}

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
    hubs += (hubs.empty() ? "" : ", ") + config::ipv4_to_string(load_be32(h.endpoint.addr.data()));
    ports += (ports.empty() ? "" : ", ") + std::to_string(h.endpoint.port);
  }
  for (const auto& p : settings_.kill_switch_allow) allow += (allow.empty() ? "" : ", ") + p.to_string();
  std::string out = "    oifname { \"lo\", " + tun + " } accept\n";
  std::string fwd = "    oifname " + tun + " accept\n    iifname " + tun + " accept\n";
  if (settings_.kill_switch) {
    out += "    meta mark " + std::to_string(settings_.fwmark) + " ip daddr { " + hubs + " } udp dport { " + ports +
           " } accept\n    udp sport 68 udp dport 67 accept\n";
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

std::string ClientDaemon::uplink_name(int ifindex) const {
  const auto it = uplinks_.find(ifindex);
  return it == uplinks_.end() ? "" : it->second.name;
}

// --- Uplinks -------------------------------------------------------------------------

void ClientDaemon::on_table_change(Time now) {
  reconcile_sockets(now);
  apply_policy(now, "uplink table changed");
  after_event(now);
}

void ClientDaemon::reconcile_sockets(Time now) {
  push_local_prefixes();
  const auto& table = monitor_->table();
  // Close sockets of interfaces that are gone, renamed or now avoided.
  for (auto it = uplinks_.begin(); it != uplinks_.end();) {
    const auto u = std::find_if(table.begin(), table.end(), [&](const auto& x) { return x.ifindex == it->first; });
    if (u != table.end() && u->name == it->second.name && !session::glob_match(settings_.uplinks.avoid, u->name)) {
      ++it;
      continue;
    }
    log::info("uplink " + it->second.name + " removed");
    it = uplinks_.erase(it);
  }
  // Open one for every other interface (even while down: it may come back).
  for (const auto& u : table) {
    if (uplinks_.count(u.ifindex) || session::glob_match(settings_.uplinks.avoid, u.name)) continue;
    daemon::UdpSocket::Options o;
    o.device = u.name;
    o.fwmark = settings_.fwmark;
    o.offload = settings_.data_path.offload;
    try {
      UplinkSocket us{u.name, std::make_unique<daemon::UdpSocket>(o), nullptr};
      const int idx = u.ifindex;
      us.watch = std::make_unique<daemon::FdWatch>(io_, us.socket->fd(), [this, idx] { on_uplink_readable(idx); });
      uplinks_.emplace(idx, std::move(us));
      log::info("uplink " + u.name + " added (" + netmon::to_string(u.kind) + ")");
    } catch (const std::exception& e) {
      log::warning("uplink " + u.name + ": cannot open a socket: " + e.what());
    }
  }
  // A session has a path (probed, measured) exactly for each usable uplink
  // with a socket; a path that stops being usable starts afresh when it returns.
  for (std::size_t slot = 0; slot < client_->session_count(); ++slot) {
    auto& s = client_->session(slot);
    for (const auto& u : table) {
      const auto id = static_cast<session::PathId>(u.ifindex);
      if (u.usable() && uplinks_.count(u.ifindex)) s.add_path(id, now);
      else s.remove_path(id);
    }
    std::vector<session::PathId> stale;
    for (session::PathId id : s.path_ids())
      if (!uplinks_.count(static_cast<int>(id))) stale.push_back(id);
    for (auto id : stale) s.remove_path(id);
  }
}

std::vector<session::UplinkCandidate> ClientDaemon::candidates(std::size_t slot) const {
  std::vector<session::UplinkCandidate> out;
  const auto& s = client_->session(slot);
  for (const auto& u : monitor_->table()) {
    session::UplinkCandidate c;
    c.name = u.name;
    c.id = static_cast<std::uint32_t>(u.ifindex);
    c.usable = u.usable() && uplinks_.count(u.ifindex);
    c.unusable_reason = !u.up ? "link down" : u.ipv4.empty() ? "no IPv4 address"
                        : !u.has_default_route ? "no default route" : !uplinks_.count(u.ifindex) ? "no socket" : "";
    if (const auto* st = s.path_stats(c.id)) {
      c.rtt = st->rtt;
      c.loss = st->loss;
      if (st->dead && c.usable) {
        // Sent on it and heard nothing back: walked out of range, or a black
        // hole. Unusable until a probe on it is answered again.
        c.usable = false;
        c.unusable_reason = "no answer within " +
                            std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(s.dead_timeout()).count()) +
                            " ms";
      }
    }
    out.push_back(std::move(c));
  }
  // Dead on every uplink means the hub is gone (restarting, say), not the
  // uplinks: keep them usable so the next handshake has a way out.
  const bool any_alive = std::any_of(out.begin(), out.end(), [](const auto& c) { return c.usable; });
  if (!any_alive) {
    for (auto& c : out) {
      const auto* st = s.path_stats(c.id);
      if (st && st->dead && uplinks_.count(static_cast<int>(c.id)) &&
          c.unusable_reason.rfind("no answer within", 0) == 0) {
        c.usable = true;
        c.unusable_reason.clear();
      }
    }
  }
  return out;
}

void ClientDaemon::apply_policy(Time now, const std::string& why) {
  for (std::size_t slot = 0; slot < client_->session_count(); ++slot) {
    auto& s = client_->session(slot);
    const auto current = s.active_path();
    const auto& choice = hub_state_[slot].selector.update(
        candidates(slot), current ? std::optional<std::uint32_t>(current) : std::nullopt, pinned_, now);
    const session::PathId next = choice.active.value_or(0);
    if (next == current) continue;
    s.set_active_path(next, now);
    const std::string from = current ? uplink_name(static_cast<int>(current)) : "(none)";
    const std::string to = next ? uplink_name(static_cast<int>(next)) : "(none)";
    std::string reason = why;
    for (std::size_t i = 0; i < monitor_->table().size() && i < choice.verdicts.size(); ++i) {
      if (monitor_->table()[i].ifindex == static_cast<int>(next)) reason += ": " + choice.verdicts[i].reason;
      if (current && monitor_->table()[i].ifindex == static_cast<int>(current))
        reason += "; " + from + ": " + choice.verdicts[i].reason;
    }
    if (current) {
      ++handovers_.count;
      // By trigger: a person, the interface table, measurements (a dead or
      // worse path), or the end of a hold-down (moving back).
      const std::string trigger = why.rfind("switch", 0) == 0          ? "manual"
                                  : why == "uplink table changed"      ? "uplink_change"
                                  : why == "hold-down over"            ? "hold_down_over"
                                  : why == "path measurements"         ? "path_quality"
                                                                       : "other";
      ++handovers_by_reason_[trigger];
      handovers_.last_reason = reason;
      handovers_.last_from = from;
      handovers_.last_to = to;
      handovers_.last_at = daemon::to_unix_seconds(now);
    }
    network_log_.write(log::Level::kNotice,
                       "hub " + settings_.hubs[slot].name + ": uplink " + from + " -> " + to + " (" + reason + ")");
  }
}

std::string ClientDaemon::handle_switch(const std::string& target) {
  using nlohmann::json;
  const Time now = daemon::now();
  if (target == "auto") {
    pinned_.reset();
  } else {
    const auto& table = monitor_->table();
    const auto u = std::find_if(table.begin(), table.end(), [&](const auto& x) { return x.name == target; });
    if (u == table.end()) return daemon::to_reply(json{{"error", "unknown interface '" + target + "'"}});
    if (session::glob_match(settings_.uplinks.avoid, target))
      return daemon::to_reply(json{{"error", "interface '" + target + "' is avoided by the [uplinks] policy"}});
    if (!u->usable())
      return daemon::to_reply(json{{"error", "interface '" + target + "' is not usable (" +
                                (!u->up ? "link down" : u->ipv4.empty() ? "no IPv4 address" : "no default route") + ")"}});
    pinned_ = target;
  }
  apply_policy(now, target == "auto" ? "switch auto" : "switch " + target);
  after_event(now);
  return daemon::to_reply(json{{"ok", true}, {"active_uplink", uplink_name(static_cast<int>(client_->session(0).active_path()))}});
}

// --- Packets --------------------------------------------------------------------------

void ClientDaemon::push_routes() {
  for (std::size_t slot = 0; slot < settings_.hubs.size(); ++slot) {
    std::vector<session::IpPrefix> prefixes;
    for (const auto& r : settings_.hubs[slot].routes) prefixes.push_back(session::IpPrefix::v4(r.addr, r.len));
    client_->set_routes(slot, prefixes);
  }
}

void ClientDaemon::push_local_prefixes() {
  std::vector<session::IpPrefix> local;
  for (const auto& u : monitor_->table())
    for (const auto& a : u.addresses)
      if (const auto p = config::parse_prefix(a, true)) local.push_back(session::IpPrefix::v4(p->addr, p->len));
  client_->set_local_prefixes(std::move(local));
}

void ClientDaemon::flush_tx() {
  auto& b = dp_->tx;
  dp_->seal_batch();
  // Runs of slots for one uplink go out in one sendmmsg.
  for (std::size_t i = 0; i < b.count;) {
    std::size_t j = i;
    while (j < b.count && (b.entry(j).socket == b.entry(i).socket || !b.entry(j).len)) ++j;
    const auto it = uplinks_.find(b.entry(i).socket);
    if (it != uplinks_.end()) {
      it->second.socket->send(b, i, j);
    } else {
      for (std::size_t k = i; k < j; ++k) no_uplink_ += b.entry(k).len ? 1 : 0;
    }
    i = j;
  }
  b.clear();
}

void ClientDaemon::on_tun_readable() {
  const Time now = daemon::now();
  auto& b = dp_->tx;
  dp_->reader.read_batch(b, [this] { flush_tx(); }, [&](std::size_t first, std::size_t count) {
    // Every segment of a super-packet has the same addresses: route once.
    const auto inner = session::parse_inner(Bytes(b.slot(first) + t::kDataOffset, b.entry(first).len));
    const auto slot = !inner                ? std::nullopt
                      : inner->version == 4 ? client_->routes().lookup_v4(inner->dst4)
                                            : client_->routes().lookup(6, inner->dst6);
    auto* s = slot ? &client_->session(*slot) : nullptr;
    const Endpoint* hub = slot ? &settings_.hubs[*slot].endpoint : nullptr;
    for (std::size_t i = first; i < first + count; ++i) {
      auto& e = b.entry(i);
      if (!s || !hub) {
        ++no_route_;
        e.len = 0;
        continue;
      }
      crypto::SealJob job;
      const auto sealed = s->seal(MutableBytes(b.slot(i), b.stride()), e.len, now, &job);
      if (sealed.kind != SealResult::Kind::kSend) {
        e.len = 0;
        continue;
      }
      e.len = sealed.len;
      e.to = *hub;
      e.socket = static_cast<int>(s->active_path());
      b.jobs.push_back(job);
    }
  });
  flush_tx();
  after_event(now);
}

void ClientDaemon::on_uplink_readable(int ifindex) {
  const auto it = uplinks_.find(ifindex);
  if (it == uplinks_.end()) return;
  const Time now = daemon::now();
  it->second.socket->receive(dp_->rx);
  dp_->open_batch([&](Bytes d) { return client_->keypair_for(d, now); },
                  [&](MutableBytes d, std::size_t, const crypto::OpenJob* job) {
                    const auto r = client_->receive(d, static_cast<session::PathId>(ifindex), now, job);
                    if (r.kind == ReceiveResult::Kind::kDeliver) dp_->writer.add(Bytes(d.data() + r.offset, r.len));
                  });
  dp_->writer.flush();
  after_event(now);
}

void ClientDaemon::after_event(Time now) {
  bool revisit_due = false;
  for (const auto& st : hub_state_) revisit_due = revisit_due || st.selector.last().revisit <= now;
  if (client_->next_deadline() <= now || revisit_due) {
    client_->on_timer(now);
    apply_policy(now, revisit_due ? "hold-down over" : "path measurements");
  }
  Time deadline = client_->next_deadline();
  for (std::size_t slot = 0; slot < client_->session_count(); ++slot) {
    auto& s = client_->session(slot);
    while (auto tx = s.poll_transmit(control_buf_, now)) {
      const auto it = uplinks_.find(static_cast<int>(tx->path));
      if (it == uplinks_.end()) {
        ++no_uplink_;
        continue;
      }
      it->second.socket->send_one(Bytes(control_buf_.data(), tx->len), settings_.hubs[slot].endpoint);
    }
    if (s.last_handshake() != hub_state_[slot].seen_handshake) {
      hub_state_[slot].seen_handshake = s.last_handshake();
      on_handshake(slot);
    }
    const Time revisit = hub_state_[slot].selector.last().revisit;
    if (revisit != kNever) deadline = std::min(deadline, std::max(revisit, now + std::chrono::milliseconds(1)));
  }
  timer_.arm(deadline);
  for (std::size_t slot = 0; slot < client_->session_count() && slot < seen_switches_.size(); ++slot) {
    const auto& h = client_->session(slot).handover_stats();
    if (h.switches == seen_switches_[slot]) continue;
    seen_switches_[slot] = h.switches;
    const double s = std::chrono::duration<double>(h.last_duration).count();
    for (std::size_t b = 0; b < exchange_buckets_.size(); ++b)
      if (s <= limits::kHandoverHistogramBuckets[b]) ++exchange_buckets_[b];
    ++exchange_count_;
    exchange_sum_s_ += s;
  }
  if (notify_.enabled()) {
    // Rebuild the line only when what it shows changed (no work per packet).
    std::uint64_t signature = 0;
    for (std::size_t slot = 0; slot < client_->session_count(); ++slot) {
      const auto& s = client_->session(slot);
      signature = signature * 1000003 + (s.established() ? 1 : 2) * 65536 + s.active_path() + s.vip().vip;
    }
    if (signature != status_signature_) {
      status_signature_ = signature;
      notify_.status(status_line());
    }
  }
}

void ClientDaemon::reload_failed() { notify_.ready(status_line()); }

void ClientDaemon::reload(ClientSettings fresh) {
  notify_.send("RELOADING=1");
  const Time now = daemon::now();
  std::vector<std::string> needs_restart;
  if (fresh.tun_name != settings_.tun_name || fresh.mtu != settings_.mtu) needs_restart.push_back("[tun]");
  if (fresh.private_key != settings_.private_key) needs_restart.push_back("private_key_file");
  if (fresh.control_socket != settings_.control_socket) needs_restart.push_back("control_socket");
  if (fresh.fwmark != settings_.fwmark) needs_restart.push_back("fwmark");
  if (fresh.metrics_listen != settings_.metrics_listen) needs_restart.push_back("metrics_listen");
  if (fresh.gateway.lan != settings_.gateway.lan || fresh.gateway.masquerade != settings_.gateway.masquerade)
    needs_restart.push_back("[gateway]");
  bool same_hubs = fresh.hubs.size() == settings_.hubs.size();
  for (std::size_t i = 0; same_hubs && i < fresh.hubs.size(); ++i)
    same_hubs = fresh.hubs[i].name == settings_.hubs[i].name && fresh.hubs[i].endpoint == settings_.hubs[i].endpoint &&
                fresh.hubs[i].public_key == settings_.hubs[i].public_key;
  if (!same_hubs) needs_restart.push_back("the [[hub]] list (names, endpoints, keys)");

  // The uplink policy, at once.
  settings_.uplinks = fresh.uplinks;
  for (auto& st : hub_state_) st.selector.set_config(settings_.uplinks);
  // Each hub's routes: new ones installed (if its session is up), gone ones removed.
  std::size_t added = 0, removed = 0;
  if (same_hubs) {
    for (std::size_t slot = 0; slot < settings_.hubs.size(); ++slot) {
      auto& hub = settings_.hubs[slot];
      const auto& next = fresh.hubs[slot].routes;
      const std::uint32_t vip = hub_state_[slot].installed_vip;
      for (const auto& r : hub.routes)
        if (std::find(next.begin(), next.end(), r) == next.end() && vip) {
          if (auto e = netlink_.remove_route(tun_->ifindex(), r.addr, r.len); !e.empty()) log::warning(e);
          ++removed;
        }
      for (const auto& r : next)
        if (std::find(hub.routes.begin(), hub.routes.end(), r) == hub.routes.end() && vip) {
          if (auto e = netlink_.add_route(tun_->ifindex(), r.addr, r.len, vip); !e.empty()) log::warning(e);
          ++added;
        }
      hub.routes = next;
      hub.persistent_keepalive_s = fresh.hubs[slot].persistent_keepalive_s;
      client_->session(slot).set_persistent_keepalive(std::chrono::seconds(hub.persistent_keepalive_s));
    }
    push_routes();
  }
  reconcile_sockets(now);
  apply_policy(now, "reload");
  after_event(now);
  std::string note = "reloaded: uplink policy applied, " + std::to_string(added) + " route(s) added, " +
                     std::to_string(removed) + " removed";
  if (!needs_restart.empty()) {
    std::string list;
    for (const auto& n : needs_restart) list += (list.empty() ? "" : ", ") + n;
    note += "; changed but applied only at the next start: " + list;
  }
  log::notice(note);
  notify_.ready(status_line());
}

std::string ClientDaemon::status_line() const {
  std::string line;
  for (std::size_t slot = 0; slot < client_->session_count(); ++slot) {
    const auto& s = client_->session(slot);
    if (!line.empty()) line += "; ";
    line += settings_.hubs[slot].name + ": ";
    if (s.established())
      line += "connected via " + uplink_name(static_cast<int>(s.active_path())) + ", vip " +
              config::ipv4_to_string(s.vip().vip);
    else
      line += "connecting";
  }
  return line;
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
  for (const auto& e : errors) log::error("hub " + hub.name + ": " + e);
  st.installed_vip = vip;
  network_log_.write(log::Level::kNotice, "hub " + hub.name + ": connected to " + hub.endpoint.to_string() + " via " +
              uplink_name(static_cast<int>(s.active_path())) + ", vip " + config::ipv4_to_string(vip) + "/" +
              std::to_string(s.vip().prefix_len) + ", " + std::to_string(hub.routes.size()) + " route(s) via " +
              tun_->name());
}

// --- Status -------------------------------------------------------------------------------

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
                    {"uplink", uplink_name(static_cast<int>(s.active_path()))},
                    {"routes", routes},
                    {"rx_bytes", s.stats().rx_bytes},
                    {"tx_bytes", s.stats().tx_bytes},
                    {"handshakes", s.stats().handshakes},
                    {"cipher", crypto::to_string(s.suite())},
                    {"last_handshake", s.last_handshake() ? daemon::to_unix_seconds(*s.last_handshake()) : 0}});
  }
  // The uplink table as session 0 (the first hub) sees it.
  json uplinks = json::array();
  const auto& table = monitor_->table();
  const auto& verdicts = hub_state_[0].selector.last().verdicts;
  for (std::size_t i = 0; i < table.size(); ++i) {
    const auto& u = table[i];
    const auto* st = client_->session(0).path_stats(static_cast<session::PathId>(u.ifindex));
    json addresses = json::array();
    for (const auto& a : u.addresses) addresses.push_back(a);
    const bool has_verdict = i < verdicts.size();
    uplinks.push_back({{"name", u.name},
                       {"ifindex", u.ifindex},
                       {"up", u.up},
                       {"kind", netmon::to_string(u.kind)},
                       {"addresses", addresses},
                       {"default_route", u.has_default_route},
                       {"gateway", u.gateway},
                       {"metered", session::glob_match(settings_.uplinks.metered, u.name)},
                       {"rtt_ms", st && st->rtt ? json(std::chrono::duration<double, std::milli>(*st->rtt).count()) : json(nullptr)},
                       {"loss", st && st->loss ? json(*st->loss) : json(nullptr)},
                       {"role", has_verdict ? session::to_string(verdicts[i].role) : "unusable"},
                       {"reason", has_verdict ? verdicts[i].reason : ""}});
  }
  const json drops = drop_counts();
  const auto& first = client_->session(0).vip();
  std::uint64_t resent = 0, switches = 0;
  Duration last_duration{0};
  for (std::size_t i = 0; i < client_->session_count(); ++i) {
    const auto& h = client_->session(i).handover_stats();
    resent += h.resent_packets;
    switches += h.switches;
    if (i == 0) last_duration = h.last_duration;
  }
  return daemon::to_reply(json{{"state", all_connected() ? "connected" : "connecting"},
              {"interface", tun_->name()},
              {"vip", first.vip ? config::ipv4_to_string(first.vip) : ""},
              {"active_uplink", uplink_name(static_cast<int>(client_->session(0).active_path()))},
              {"pinned", pinned_ ? *pinned_ : ""},
              {"handovers", handovers_.count},
              {"last_handover", {{"reason", handovers_.last_reason}, {"from", handovers_.last_from},
                                 {"to", handovers_.last_to}, {"at", handovers_.last_at},
                                 {"duration_us", std::chrono::duration_cast<std::chrono::microseconds>(last_duration).count()}}},
              {"switch_exchanges", switches},
              {"resent_packets", resent},
              {"hubs", hubs},
              {"uplinks", uplinks},
              {"data_path", data_path_json()},
              {"drops", drops}});
}

nlohmann::json ClientDaemon::data_path_json() const {
  bool gso = !uplinks_.empty(), gro = !uplinks_.empty();
  for (const auto& [idx, u] : uplinks_) {
    gso = gso && u.socket->gso();
    gro = gro && u.socket->gro();
  }
  return daemon::data_path_json(*tun_, dp_->writer, dp_->pool, gso, gro);
}

std::string ClientDaemon::render_metrics() const {
  daemon::MetricsText m;
  m.family("tund_up", "gauge", "1 while the daemon runs.");
  m.sample("tund_up", 1);
  m.family("tund_session_info", "gauge", "One per hub session: its endpoint, uplink, VIP, cipher and state.");
  for (std::size_t i = 0; i < client_->session_count(); ++i) {
    const auto& s = client_->session(i);
    m.sample("tund_session_info",
             {{"hub", settings_.hubs[i].name},
              {"endpoint", settings_.hubs[i].endpoint.to_string()},
              {"uplink", uplink_name(static_cast<int>(s.active_path()))},
              {"vip", s.vip().vip ? config::ipv4_to_string(s.vip().vip) : ""},
              {"cipher", crypto::to_string(s.suite())},
              {"state", s.established() ? "connected" : "connecting"}},
             1);
  }
  const auto per_session = [&](const char* name, const char* type, const char* help, auto value) {
    m.family(name, type, help);
    for (std::size_t i = 0; i < client_->session_count(); ++i)
      m.sample(name, {{"hub", settings_.hubs[i].name}}, static_cast<double>(value(client_->session(i))));
  };
  per_session("tund_session_rx_bytes_total", "counter", "Outer bytes received from the hub.",
              [](const session::ClientSession& s) { return s.stats().rx_bytes; });
  per_session("tund_session_tx_bytes_total", "counter", "Outer bytes sent to the hub.",
              [](const session::ClientSession& s) { return s.stats().tx_bytes; });
  per_session("tund_session_handshakes_total", "counter", "Completed handshakes.",
              [](const session::ClientSession& s) { return s.stats().handshakes; });
  per_session("tund_session_last_handshake_seconds", "gauge", "Unix time of the latest handshake (0: never).",
              [](const session::ClientSession& s) {
                return s.last_handshake() ? daemon::to_unix_seconds(*s.last_handshake()) : 0;
              });
  per_session("tund_resend_buffer_bytes", "gauge", "Inner bytes kept for resending after a handover.",
              [](const session::ClientSession& s) { return s.resend_bytes(); });
  per_session("tund_resent_packets_total", "counter", "Packets resent after switching exchanges.",
              [](const session::ClientSession& s) { return s.handover_stats().resent_packets; });
  m.family("tund_uplink_info", "gauge", "One per interface in the uplink table, with its role for the first hub.");
  const auto& table = monitor_->table();
  const auto& verdicts = hub_state_[0].selector.last().verdicts;
  for (std::size_t i = 0; i < table.size(); ++i)
    m.sample("tund_uplink_info",
             {{"uplink", table[i].name},
              {"kind", netmon::to_string(table[i].kind)},
              {"role", i < verdicts.size() ? session::to_string(verdicts[i].role) : "unusable"}},
             1);
  m.family("tund_uplink_rtt_seconds", "gauge", "Smoothed RTT to the first hub on each probed uplink.");
  for (const auto& u : table)
    if (const auto* st = client_->session(0).path_stats(static_cast<session::PathId>(u.ifindex)); st && st->rtt)
      m.sample("tund_uplink_rtt_seconds", {{"uplink", u.name}}, std::chrono::duration<double>(*st->rtt).count());
  m.family("tund_handovers_total", "counter", "Uplink changes, by what triggered them.");
  for (const char* r : {"manual", "uplink_change", "path_quality", "hold_down_over", "other"}) {
    const auto it = handovers_by_reason_.find(r);
    m.sample("tund_handovers_total", {{"reason", r}}, it == handovers_by_reason_.end() ? 0 : it->second);
  }
  m.family("tund_handover_duration_seconds", "histogram",
           "Switching exchanges: from the switch on the new uplink to the hub's answer.");
  for (std::size_t b = 0; b < exchange_buckets_.size(); ++b) {
    char le[16];
    std::snprintf(le, sizeof le, "%g", limits::kHandoverHistogramBuckets[b]);
    m.sample("tund_handover_duration_seconds_bucket", {{"le", le}}, static_cast<double>(exchange_buckets_[b]));
  }
  m.sample("tund_handover_duration_seconds_bucket", {{"le", "+Inf"}}, static_cast<double>(exchange_count_));
  m.sample("tund_handover_duration_seconds_sum", exchange_sum_s_);
  m.sample("tund_handover_duration_seconds_count", static_cast<double>(exchange_count_));
  m.family("tund_drops_total", "counter", "Packets dropped, by reason.");
  const auto drops = drop_counts();  // named: items() would outlive a temporary
  for (const auto& [reason, n] : drops.items()) m.sample("tund_drops_total", {{"reason", reason}}, n.get<double>());
  return m.text();
}

nlohmann::json ClientDaemon::drop_counts() const {
  auto drops = daemon::drops_json(client_->drops());
  if (no_route_) drops["no_route"] = no_route_;
  if (no_uplink_) drops["no_uplink"] = no_uplink_;
  if (dp_->writer.write_errors()) drops["tun_write_error"] = dp_->writer.write_errors();
  if (dp_->reader.drops()) drops["tun_bad_offload"] = dp_->reader.drops();
  if (cli::handler_exceptions()) drops["handler_exception"] = cli::handler_exceptions();
  return drops;
}

std::string ClientDaemon::handle_control(const std::string& request, bool privileged) {
  if (request == "status") return status_json();
  if (request.rfind("switch ", 0) == 0) {
    if (!privileged) return daemon::to_reply(nlohmann::json{{"error", "switch needs root or the control socket's group"}});
    return handle_switch(request.substr(7));
  }
  return daemon::unknown_request_reply(request);
}

}  // namespace tund::client
