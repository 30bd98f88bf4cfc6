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
#include "session/inner_mtu.hpp"
#include "session/ip_packet.hpp"
#include "tund/dns_config.hpp"
#include "tund/engine_config.hpp"

namespace tund::client {

namespace t = wire::transport;
using session::ReceiveResult;
using session::SealResult;


ClientDaemon::ClientDaemon(asio::io_context& io, ClientSettings settings)
    : io_(io),
      settings_(std::move(settings)),
      timer_(io, [this] { after_event(daemon::now()); }) {
  // The daemon's start fails on a bad key (a runtime_error, as before).
  try {
    engine_ = std::make_unique<engine::ClientEngine>(engine_config(settings_, daemon::wall_offset()), rng_);
  } catch (const std::invalid_argument& e) {
    throw std::runtime_error(e.what());
  }
  client_ = &engine_->client();
  tun_ = std::make_unique<daemon::TunDevice>(settings_.tun_name, settings_.mtu, settings_.data_path.offload);
  dp_ = std::make_unique<daemon::DataPath>(*tun_, settings_.mtu, settings_.data_path);
  install_gateway();
  install_leak_guard();
  if (own_hub_lookups(settings_)) {
    stub_ = std::make_unique<HubLookupStub>();
    stub_->fwmark = settings_.fwmark;
    stub_->upstream.exclude(tunnel_dns_servers(settings_.hubs));
    // Read now, before the tunnel's DNS is set: remembered if a resolver
    // later lists the tunnel's servers alone.
    std::string list;
    for (const auto& u : stub_->upstream.current()) list += (list.empty() ? "" : ", ") + u.address_string();
    bool named = false;
    for (const auto& h : settings_.hubs)
      for (const auto& e : h.endpoints) named = named || !e.literal;
    if (named)
      log::notice(std::string("hub names: looked up by tund itself (") + (settings_.kill_switch ? "kill switch" : "full tunnel") +
                  "): /etc/hosts, then " + (list.empty() ? "no server" : list) + " (" + stub_->upstream.source() +
                  ") from sockets marked " + std::to_string(settings_.fwmark));
  }
  for (const auto& h : settings_.hubs)
    if (!h.dns.empty() && !dns_) dns_ = std::make_unique<daemon::LinkDnsSetter>(io, tun_->name());

  const Time now = daemon::now();
  hub_state_.resize(settings_.hubs.size());

  system_metered_ = std::make_unique<netmon::SystemMetered>(io, [this] {
    const Time t = daemon::now();
    reconcile_sockets(t);
    apply_policy(t, "metered state changed");
    after_event(t);
  });
  // The tunnel's own TUN devices are never uplinks.
  monitor_ = std::make_unique<netmon::LinkMonitor>(io, std::vector<std::string>{tun_->name(), "tun*"},
                                                   [this](const netmon::UplinkTable&) { on_table_change(daemon::now()); });
  // A hub given by name starts its session once the name resolves.
  for (std::size_t slot = 0; slot < settings_.hubs.size(); ++slot) {
    const auto& members = settings_.hubs[slot].endpoints;
    for (std::size_t m = 0; m < members.size(); ++m) {
      auto& r = hub_state_[slot].resolvers.emplace_back(std::make_unique<HubResolver>(
          io, members[m], [this, slot, m](const std::vector<Endpoint>&) { on_hub_addresses(slot, m); }, stub_.get()));
      engine_->set_member_addresses(slot, m, r->addresses(), now);
    }
  }
  reconcile_sockets(now);
  apply_policy(now, "start");
  engine_->start_sessions(now);

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
  if (dns_) dns_->revert_now();
  release_kill_switch();
  nft_.remove_all();
  netlink_.remove_all();
}

void ClientDaemon::on_hub_addresses(std::size_t slot, std::size_t member) {
  const Time now = daemon::now();
  reconcile_sockets(now);
  engine_->set_member_addresses(slot, member, hub_state_[slot].resolvers[member]->addresses(), now);
  apply_policy(now, "hub addresses changed");
  engine_->start_sessions(now);
  after_event(now);
}

void ClientDaemon::handle_events() {
  engine::Event e;
  while (engine_->poll_event(e)) {
    const auto& hub = settings_.hubs[e.slot];
    switch (e.kind) {
      case engine::EventKind::kPathChanged: {
        const std::string from = e.from ? uplink_name(e.from) : "(none)";
        const std::string to = e.to ? uplink_name(e.to) : "(none)";
        network_log_.event(log::kUplinkSwitch, log::Level::kNotice,
                           "hub " + hub.name + ": uplink " + engine_->describe(e.from) + " -> " + engine_->describe(e.to) +
                               " (" + e.text + ")",
                           {{"TUND_HUB", hub.name}, {"TUND_UPLINK_FROM", from}, {"TUND_UPLINK_TO", to}, {"TUND_TRIGGER", e.trigger}});
        break;
      }
      case engine::EventKind::kMemberMoved:
        hub_state_[e.slot].resolvers[e.member]->resolve_soon();
        log::notice("hub " + hub.name + ": member " + hub.endpoints[e.from_member].to_string() + " " + e.text +
                    "; moving to " + hub.endpoints[e.member].to_string());
        break;
      case engine::EventKind::kResolve: hub_state_[e.slot].resolvers[e.member]->resolve_soon(); break;
      case engine::EventKind::kHandshake: on_handshake(e.slot); break;
      case engine::EventKind::kUp:
      case engine::EventKind::kDown: log_session_edge(e); break;
    }
  }
}

void ClientDaemon::push_routes() {
  for (std::size_t slot = 0; slot < settings_.hubs.size(); ++slot) engine_->set_routes(slot, hub_prefixes(settings_.hubs[slot]));
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

template <class OnTooBig>
void ClientDaemon::seal_slot(std::size_t i, std::optional<std::size_t> slot, Time now, bool released,
                             OnTooBig&& on_too_big) {
  auto& b = dp_->tx;
  auto& e = b.entry(i);
  auto* s = slot ? &client_->session(*slot) : nullptr;
  const Endpoint* hub = s ? remote(*slot, s->active_path()) : nullptr;
  if (!s || !hub) {
    ++no_route_;
    e.len = 0;
    return;
  }
  crypto::SealJob job;
  const std::size_t inner_len = e.len;
  const auto sealed = s->seal(MutableBytes(b.slot(i), b.stride()), inner_len, now, &job, released);
  if (sealed.kind == SealResult::Kind::kTooBig) return on_too_big(i, sealed.len);
  if (sealed.kind != SealResult::Kind::kSend) {
    e.len = 0;
    return;
  }
  // The path the packet was sealed for: the active one, or in a bond its flow's.
  const session::PathId via = sealed.path ? sealed.path : s->active_path();
  if (via != s->active_path()) hub = remote(*slot, via);
  if (!hub) {
    ++no_route_;
    e.len = 0;
    return;
  }
  e.len = sealed.len;
  e.to = *hub;
  e.socket = path_ifindex(via);
  e.fragment = sealed.fragment;
  b.jobs.push_back(job);
  // The user's redundancy policy: a copy on the best standby.
  if (sealed.copy)
    dp_->copy_slot(i, inner_len, [&](std::size_t c, std::size_t n) {
      crypto::SealJob copy_job;
      const auto tx = s->seal_redundant_copy(MutableBytes(b.slot(c), b.stride()), n, now, &copy_job);
      const Endpoint* to = tx ? remote(*slot, tx->path) : nullptr;
      if (!to) return false;
      b.entry(c) = {tx->len, *to, path_ifindex(tx->path), tx->fragment};
      b.jobs.push_back(copy_job);
      return true;
    });
}

void ClientDaemon::on_tun_readable() {
  const Time now = daemon::now();
  auto& b = dp_->tx;
  dp_->reader.read_batch(b, [this] { flush_tx(); }, [&](std::size_t first, std::size_t count) {
    // Every segment of a super-packet has the same addresses: route once.
    const auto inner = session::parse_inner(Bytes(b.slot(first) + t::kDataOffset, b.entry(first).len));
    const auto slot = inner ? client_->routes().owner_of_destination(*inner) : std::nullopt;
    dp_->seal_segments(first, count, now,
                       [&](std::size_t i, auto&& on_too_big) { seal_slot(i, slot, now, false, on_too_big); });
  });
  flush_tx();
  dp_->writer.flush();  // ICMP answers to packets too big for the path
  after_event(now);
}

void ClientDaemon::release_paced(std::size_t slot, Time now) {
  auto& b = dp_->tx;
  auto& s = client_->session(slot);
  for (;;) {
    if (b.free() < 2) flush_tx();  // room for the policy's copy
    const std::size_t c = b.count;
    const auto n = s.release_paced(MutableBytes(b.slot(c) + t::kDataOffset, b.stride() - t::kDataOverhead), now);
    if (!n) return;
    b.entry(c).len = *n;
    ++b.count;
    dp_->seal_segments(c, 1, now, [&](std::size_t i, auto&& on_too_big) { seal_slot(i, slot, now, true, on_too_big); });
  }
}

void ClientDaemon::on_uplink_readable(int ifindex) {
  const auto it = uplinks_.find(ifindex);
  if (it == uplinks_.end()) return;
  const Time now = daemon::now();
  it->second.socket->receive(dp_->rx);
  dp_->open_batch([&](Bytes d) { return client_->keypair_for(d, now); },
                  [&](MutableBytes d, std::size_t i, const crypto::OpenJob* job) {
                    const auto path = path_id(ifindex, dp_->rx.peer(i).family);
                    const auto r = client_->receive(d, path, now, job);
                    if (r.kind == ReceiveResult::Kind::kDeliver) dp_->writer.add(Bytes(d.data() + r.offset, r.len));
                    client_->release_ordered(now, [&](Bytes inner) { dp_->writer.add(inner); });
                  });
  dp_->writer.flush();
  after_event(now);
}

void ClientDaemon::after_event(Time now) {
  engine_->service(now);
  handle_events();
  // A spread flow's packets whose wait for earlier ones ran out.
  client_->release_ordered(now, [&](Bytes inner) { dp_->writer.add(inner); });
  dp_->writer.flush();
  // Handshakes, control frames and resends leave through the send batch too.
  auto& batch = dp_->tx;
  for (std::size_t slot = 0; slot < client_->session_count(); ++slot) {
    for (;;) {
      if (batch.free() == 0) flush_tx();
      const auto tx = engine_->poll_transmit(slot, MutableBytes(batch.slot(batch.count), batch.stride()), now);
      if (!tx) break;
      batch.entry(batch.count) = {tx->len, tx->to, path_ifindex(tx->path), tx->fragment};
      ++batch.count;
    }
    release_paced(slot, now);
  }
  flush_tx();
  timer_.arm(engine_->next_deadline(now));
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
    same_hubs = fresh.hubs[i].name == settings_.hubs[i].name && fresh.hubs[i].endpoints == settings_.hubs[i].endpoints &&
                fresh.hubs[i].public_key == settings_.hubs[i].public_key && fresh.hubs[i].routes6 == settings_.hubs[i].routes6;
  if (!same_hubs) needs_restart.push_back("the [[hub]] list (names, endpoints, keys, IPv6 routes)");

  // The uplink policy, at once.
  settings_.uplinks = fresh.uplinks;
  settings_.idle = fresh.idle;
  client_->set_idle_policy(settings_.idle);
  settings_.redundant = fresh.redundant;
  client_->set_redundancy(settings_.redundant);
  engine_->set_policy(settings_.uplinks);
  // Each hub's routes: new ones installed (if its session is up), gone ones removed.
  std::size_t added = 0, removed = 0;
  if (same_hubs) {
    for (std::size_t slot = 0; slot < settings_.hubs.size(); ++slot) {
      auto& hub = settings_.hubs[slot];
      const auto& next = fresh.hubs[slot].routes;
      const auto& installed = hub_state_[slot].installed;
      const std::uint32_t vip = installed ? installed->vip : 0;
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
      hub.dns = fresh.hubs[slot].dns;
      hub.dns_domains = fresh.hubs[slot].dns_domains;
      client_->session(slot).set_persistent_keepalive(std::chrono::seconds(hub.persistent_keepalive_s));
    }
    push_routes();
    if (stub_) stub_->upstream.exclude(tunnel_dns_servers(settings_.hubs));
    if (!dns_ && !tunnel_dns_servers(settings_.hubs).empty())
      dns_ = std::make_unique<daemon::LinkDnsSetter>(io_, tun_->name());
    apply_dns();
  }
  reconcile_sockets(now);
  apply_policy(now, "reload");
  after_event(now);
  std::string note = "reloaded: uplink policy applied, " + std::to_string(added) + " route(s) added, " +
                     std::to_string(removed) + " removed, DNS applied";
  if (!needs_restart.empty()) {
    std::string list;
    for (const auto& n : needs_restart) list += (list.empty() ? "" : ", ") + n;
    note += "; changed but applied only at the next start: " + list;
  }
  log::notice(note);
  notify_.ready(status_line());
}

}  // namespace tund::client
