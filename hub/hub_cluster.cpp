// The hub daemon as a cluster member: what it does with the ClusterAgent
// (hub/cluster_agent.hpp), and the drain that lets a member leave.
#include <algorithm>

#include "daemon/clock.hpp"
#include "daemon/json_reply.hpp"
#include "daemon/log.hpp"
#include "hub/hub_daemon.hpp"

namespace tund::hub {

void HubDaemon::set_vips(ClientSettings& c, std::uint32_t pool_addr) const {
  c.vip = pool_addr;
  if (settings_.tun_address6) c.vip6 = derived_vip6(*settings_.tun_address6, settings_.vip_pool, pool_addr);
}

void HubDaemon::start_cluster(asio::io_context& io) {
  ClusterAgent::Hooks hooks;
  hooks.taken_over = [this](const PublicKey& key) {
    if (const auto id = hub_->find_client(key)) hub_->end_session(*id);
    after_event(daemon::now());
  };
  hooks.serving = [this](bool yes) { hub_->set_accepting(yes && !drain_timer_); };
  hooks.end_unanswering_sessions = [this] {
    const Time now = daemon::now();
    for (const auto& c : settings_.clients) {
      const auto id = hub_->find_client(c.public_key);
      const auto* s = id ? hub_->session(*id) : nullptr;
      if (s && s->unanswered_since() != kNever && now - s->unanswered_since() >= limits::kClusterLeaseTtl)
        hub_->end_session(*id);
    }
    after_event(now);
  };
  cluster_ = std::make_unique<ClusterAgent>(io, *settings_.cluster, settings_, std::move(hooks));
  std::vector<PublicKey> keys;
  for (const auto& c : settings_.clients) keys.push_back(c.public_key);
  // etcd unreachable: the exception ends the start (exit 1), as a member
  // that cannot know its clients' VIPs must not guess them.
  const auto vips = cluster_->allocate_now(std::move(keys));
  for (std::size_t i = 0; i < vips.size(); ++i) set_vips(settings_.clients[i], vips[i]);
  // Handshakes wait for the lease: until then another member may own them.
  hub_->set_accepting(false);
}

void HubDaemon::add_cluster_clients(std::vector<ClientSettings> added) {
  std::vector<PublicKey> keys;
  for (const auto& c : added) keys.push_back(c.public_key);
  cluster_->allocate(keys, [this, keys](std::vector<std::uint32_t> vips, const std::string& error) {
    if (!error.empty()) {
      log::error("cluster: new clients get no VIP (etcd: " + error + "); they cannot connect until the next reload");
      return;
    }
    std::size_t n = 0;
    for (std::size_t i = 0; i < keys.size(); ++i) {
      // Matched by key: a reload meanwhile may have removed or reordered clients.
      const auto c = std::find_if(settings_.clients.begin(), settings_.clients.end(),
                                  [&](const ClientSettings& s) { return s.public_key == keys[i]; });
      if (c == settings_.clients.end() || hub_->find_client(keys[i])) continue;
      set_vips(*c, vips[i]);
      add_client(*c);
      ++n;
    }
    install_nat();  // [[expose]] rules name the new VIPs
    log::notice("cluster: " + std::to_string(n) + " new client(s) have VIPs from etcd");
  });
}

std::string HubDaemon::start_drain() {
  using nlohmann::json;
  if (!cluster_) return daemon::to_reply(json{{"error", "drain needs a [cluster]: a lone hub has nowhere to send its clients"}});
  if (!drain_timer_) {
    log::notice("drain: asking " + std::to_string(hub_->session_count()) + " client(s) to move to other members");
    hub_->set_accepting(false);
    drain_until_ = std::chrono::steady_clock::now() + limits::kDrainDeadline;
    drain_timer_ = std::make_unique<asio::steady_timer>(io_);
    drain_tick();
  }
  return daemon::to_reply(json{{"ok", true}, {"sessions", hub_->session_count()}});
}

void HubDaemon::drain_tick() {
  const Time now = daemon::now();
  const bool over = std::chrono::steady_clock::now() >= drain_until_;
  if (hub_->session_count() == 0 || over) {
    log::notice(over ? "drain: deadline reached with " + std::to_string(hub_->session_count()) + " session(s) left; stopping"
                     : "drain: every client has moved; stopping");
    notify_.stopping();
    io_.stop();
    return;
  }
  // Asked again until they go: a kMove frame can be lost like any other.
  for (const auto& c : settings_.clients)
    if (const auto id = hub_->find_client(c.public_key); id && hub_->session(*id)) hub_->ask_to_move(*id, now);
  after_event(now);
  drain_timer_->expires_after(limits::kDrainAskInterval);
  drain_timer_->async_wait([this](boost::system::error_code ec) {
    if (!ec) drain_tick();
  });
}

}  // namespace tund::hub
