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
#include "session/rendezvous.hpp"
#include "session/inner_mtu.hpp"
#include "session/ip_packet.hpp"
#include "tund/dns_config.hpp"

namespace tund::client {

namespace t = wire::transport;
using session::ReceiveResult;
using session::SealResult;

ClientDaemon::ClientDaemon(asio::io_context& io, ClientSettings settings)
    : io_(io),
      settings_(std::move(settings)),
      timer_(io, [this] { after_event(daemon::now()); }) {
  session::ClientConfig cc;
  cc.identity.priv = settings_.private_key;
  if (!cc.identity.complete()) throw std::runtime_error("the private key gives no usable public key");
  cc.wall_offset = daemon::wall_offset();
  cc.resend = settings_.resend;
  cc.idle = settings_.idle;
  cc.redundant = settings_.redundant;
  cc.pacing = settings_.data_path.pacing;
  if (!settings_.data_path.allow_aes) cc.capabilities &= ~wire::initiation_payload::kCapAes256Gcm;
  client_ = std::make_unique<session::Client>(cc, rng_);
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
  PublicKey own{};
  crypto::derive_public_key(settings_.private_key, own);  // the session checked it already
  for (const auto& hub : settings_.hubs) {
    const auto slot = client_->add_hub(hub.public_key, hub.min_vip_prefix);
    client_->session(slot).set_persistent_keepalive(std::chrono::seconds(hub.persistent_keepalive_s));
    auto& st = hub_state_.emplace_back(settings_.uplinks);
    if (hub.endpoints.size() > 1) {
      st.order = session::member_order(own, hub.endpoints.size());
      client_->session(slot).set_silence(limits::kMemberSilence);
    }
  }
  push_routes();

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
  for (std::size_t slot = 0; slot < settings_.hubs.size(); ++slot)
    for (const auto& where : settings_.hubs[slot].endpoints)
      hub_state_[slot].resolvers.push_back(std::make_unique<HubResolver>(
          io, where, [this, slot](const std::vector<Endpoint>&) { on_hub_addresses(slot); }, stub_.get()));
  reconcile_sockets(now);
  apply_policy(now, "start");
  for (std::size_t slot = 0; slot < client_->session_count(); ++slot)
    if (!hub_state_[slot].resolver().addresses().empty()) client_->session(slot).start(now);

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

const Endpoint* ClientDaemon::remote(std::size_t slot, session::PathId path) const {
  return hub_state_[slot].resolver().first(path_family(path));
}

void ClientDaemon::follow_cluster(std::size_t slot, Time now) {
  auto& st = hub_state_[slot];
  auto& s = client_->session(slot);
  if (st.resolvers.size() < 2) return;
  std::string why;
  if (s.moves_asked() != st.seen_moves) {
    st.seen_moves = s.moves_asked();
    if (st.moving_since == kNever) why = "asked to move (the member drains)";
  }
  if (why.empty() && s.hub_silent(now) && (st.moving_since == kNever || now - st.moving_since >= limits::kMemberSilence))
    why = "silent";
  if (why.empty()) return;
  const auto& hub = settings_.hubs[slot];
  const std::size_t from = st.member();
  st.at = (st.at + 1) % st.order.size();
  st.moving_since = now;
  ++st.member_moves;
  st.resolver().resolve_soon();
  s.rehandshake(now);
  log::notice("hub " + hub.name + ": member " + hub.endpoints[from].to_string() + " " + why + "; moving to " +
              hub.endpoints[st.member()].to_string());
}

void ClientDaemon::on_hub_addresses(std::size_t slot) {
  const Time now = daemon::now();
  reconcile_sockets(now);
  apply_policy(now, "hub addresses changed");
  auto& s = client_->session(slot);
  if (s.state() == session::ClientSession::State::kIdle) s.start(now);
  after_event(now);
}

void ClientDaemon::push_routes() {
  for (std::size_t slot = 0; slot < settings_.hubs.size(); ++slot) {
    std::vector<session::IpPrefix> prefixes;
    for (const auto& r : settings_.hubs[slot].routes) prefixes.push_back(session::IpPrefix::v4(r.addr, r.len));
    for (const auto& r : settings_.hubs[slot].routes6) prefixes.push_back(session::IpPrefix::v6(r.addr.data(), r.len));
    client_->set_routes(slot, prefixes);
  }
}

void ClientDaemon::push_local_prefixes() {
  std::vector<session::IpPrefix> local;
  for (const auto& u : monitor_->table())
    for (const auto& a : u.addresses)
      if (const auto p = config::parse_prefix(a, true)) local.push_back(session::IpPrefix::v4(p->addr, p->len));
      else if (const auto p6 = config::parse_prefix6(a, true)) local.push_back(session::IpPrefix::v6(p6->addr.data(), p6->len));
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
  e.len = sealed.len;
  e.to = *hub;
  e.socket = path_ifindex(s->active_path());
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
                  });
  dp_->writer.flush();
  after_event(now);
}

void ClientDaemon::after_event(Time now) {
  bool revisit_due = false;
  for (const auto& st : hub_state_) revisit_due = revisit_due || st.selector.last().revisit <= now;
  if (client_->next_deadline() <= now) client_->on_timer(now);
  // The policy runs when what it decides on changed (a measurement, a path
  // found dead or alive) or a hold-down ended, not on every timer (most are
  // acknowledgements).
  if (revisit_due || client_->path_epoch() != seen_path_epoch_) {
    seen_path_epoch_ = client_->path_epoch();
    apply_policy(now, revisit_due ? "hold-down over" : "path measurements");
  }
  Time deadline = client_->next_deadline();
  // Handshakes, control frames and resends leave through the send batch too.
  auto& batch = dp_->tx;
  for (std::size_t slot = 0; slot < client_->session_count(); ++slot) {
    auto& s = client_->session(slot);
    follow_cluster(slot, now);
    for (;;) {
      if (batch.free() == 0) flush_tx();
      const auto tx = s.poll_transmit(MutableBytes(batch.slot(batch.count), batch.stride()), now);
      if (!tx) break;
      const Endpoint* to = remote(slot, tx->path);
      if (!to) continue;  // the hub lost that family's address since the path was added
      batch.entry(batch.count) = {tx->len, *to, path_ifindex(tx->path), tx->fragment};
      ++batch.count;
    }
    release_paced(slot, now);
    // Silent on every path: the hub may have moved; ask its name again.
    const bool silent = s.hub_silent(now);
    if (silent && !hub_state_[slot].was_silent) hub_state_[slot].resolver().resolve_soon();
    hub_state_[slot].was_silent = silent;
    if (s.last_handshake() != hub_state_[slot].seen_handshake) {
      hub_state_[slot].seen_handshake = s.last_handshake();
      hub_state_[slot].moving_since = kNever;  // the member we moved to answered
      on_handshake(slot);
    }
    on_session_edge(slot, now);
    const Time revisit = hub_state_[slot].selector.last().revisit;
    if (revisit != kNever) deadline = std::min(deadline, std::max(revisit, now + std::chrono::milliseconds(1)));
    if (hub_state_[slot].moving_since != kNever)
      deadline = std::min(deadline, std::max(hub_state_[slot].moving_since + limits::kMemberSilence, now + std::chrono::milliseconds(1)));
  }
  flush_tx();
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
    same_hubs = fresh.hubs[i].name == settings_.hubs[i].name && fresh.hubs[i].endpoints == settings_.hubs[i].endpoints &&
                fresh.hubs[i].public_key == settings_.hubs[i].public_key && fresh.hubs[i].routes6 == settings_.hubs[i].routes6;
  if (!same_hubs) needs_restart.push_back("the [[hub]] list (names, endpoints, keys, IPv6 routes)");

  // The uplink policy, at once.
  settings_.uplinks = fresh.uplinks;
  settings_.idle = fresh.idle;
  client_->set_idle_policy(settings_.idle);
  settings_.redundant = fresh.redundant;
  client_->set_redundancy(settings_.redundant);
  for (auto& st : hub_state_) st.selector.set_config(settings_.uplinks);
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
