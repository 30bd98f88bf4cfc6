// The C API's lifecycle, uplinks, hub addresses, events, routes and status
// (include/tund/tund.h). Every entry catches everything: nothing crosses
// the C boundary but return codes.
#include <algorithm>
#include <cstring>
#include <string>

#include "capi/client.hpp"
#include "daemon/config_check.hpp"
#include "daemon/drops_json.hpp"
#include "tund/engine_config.hpp"

using namespace tund;

namespace {

tund_prefix to_prefix(const session::IpPrefix& p) {
  tund_prefix out{};
  out.family = p.family;
  std::memcpy(out.addr, p.addr.data(), 16);
  out.len = p.len;
  return out;
}

int set_uplink_flag(tund_client* c, std::uint32_t id, std::uint64_t now_us, void (*set)(engine::Uplink&, bool), bool on) {
  return capi::guarded(c, [&]() -> int {
    if (!c) return TUND_ERR_INVALID;
    const auto it = std::find_if(c->uplinks.begin(), c->uplinks.end(), [&](const auto& u) { return u.id == id; });
    if (it == c->uplinks.end()) return TUND_ERR_NOTFOUND;
    set(*it, on);
    const Time now = capi::to_time(now_us);
    c->engine.set_uplinks(c->uplinks, now);
    c->engine.apply_policy(now, "uplink table changed");
    c->service(now);
    return TUND_OK;
  });
}

}  // namespace

extern "C" {

const char* tund_version(void) { return "0.1.0"; }

tund_client* tund_client_new(const char* toml, size_t len, int64_t wall_offset_ns, char* err, size_t errlen) {
  capi::copy_text(err, errlen, "");
  if (!toml) {
    capi::copy_text(err, errlen, "no config given");
    return nullptr;
  }
  try {
    crypto::init();
    const auto settings = client::load_client_config_text(std::string(toml, len), "config");
    auto* c = new tund_client(client::engine_config(settings, static_cast<WallTime>(wall_offset_ns)), settings.mtu);
    // Endpoints given as addresses are known now; names wait for the caller.
    const Time now = capi::to_time(0);
    for (std::size_t slot = 0; slot < settings.hubs.size(); ++slot)
      for (std::size_t m = 0; m < settings.hubs[slot].endpoints.size(); ++m)
        if (const auto& lit = settings.hubs[slot].endpoints[m].literal)
          c->engine.set_member_addresses(slot, m, {*lit}, now);
    return c;
  } catch (const std::exception& e) {
    capi::copy_text(err, errlen, e.what());
  } catch (...) {
    capi::copy_text(err, errlen, "unexpected failure");
  }
  return nullptr;
}

void tund_client_free(tund_client* c) { delete c; }

unsigned tund_tun_mtu(const tund_client* c) { return c ? c->mtu : 0; }

int tund_uplink_add(tund_client* c, uint32_t id, const char* name, uint32_t flags, unsigned mtu, uint64_t now_us) {
  return capi::guarded(c, [&]() -> int {
    if (!c || !name || id == 0 || id > engine::kMaxUplinkId) return TUND_ERR_INVALID;
    auto it = std::find_if(c->uplinks.begin(), c->uplinks.end(), [&](const auto& u) { return u.id == id; });
    if (it == c->uplinks.end()) {
      if (c->uplinks.size() >= limits::kMaxEmbedUplinks) return TUND_ERR_FULL;
      it = c->uplinks.insert(c->uplinks.end(), engine::Uplink{});
    }
    engine::Uplink& u = *it;
    u.id = id;
    u.name = std::string(name, strnlen(name, 64));
    u.up = flags & TUND_UPLINK_UP;
    u.address4 = u.route4 = flags & TUND_UPLINK_IPV4;
    u.address6 = u.route6 = flags & TUND_UPLINK_IPV6;
    u.system_metered = (flags & TUND_UPLINK_METERED) != 0;
    u.mtu = mtu;
    const Time now = capi::to_time(now_us);
    c->engine.set_uplinks(c->uplinks, now);
    c->engine.apply_policy(now, "uplink table changed");
    c->engine.start_sessions(now);
    c->service(now);
    return TUND_OK;
  });
}

int tund_uplink_remove(tund_client* c, uint32_t id, uint64_t now_us) {
  return capi::guarded(c, [&]() -> int {
    if (!c) return TUND_ERR_INVALID;
    const auto it = std::find_if(c->uplinks.begin(), c->uplinks.end(), [&](const auto& u) { return u.id == id; });
    if (it == c->uplinks.end()) return TUND_ERR_NOTFOUND;
    c->uplinks.erase(it);
    const Time now = capi::to_time(now_us);
    c->engine.set_uplinks(c->uplinks, now);
    c->engine.apply_policy(now, "uplink table changed");
    c->service(now);
    return TUND_OK;
  });
}

int tund_uplink_set_up(tund_client* c, uint32_t id, int up, uint64_t now_us) {
  return set_uplink_flag(c, id, now_us, [](engine::Uplink& u, bool on) { u.up = on; }, up != 0);
}

int tund_uplink_set_metered(tund_client* c, uint32_t id, int metered, uint64_t now_us) {
  return set_uplink_flag(c, id, now_us, [](engine::Uplink& u, bool on) { u.system_metered = on; }, metered != 0);
}

int tund_hub_set_addresses(tund_client* c, uint32_t hub, uint32_t member, const tund_addr* addrs, size_t n,
                           uint64_t now_us) {
  return capi::guarded(c, [&]() -> int {
    if (!c || (n && !addrs) || n > limits::kDnsMaxRecords) return TUND_ERR_INVALID;
    if (hub >= c->engine.hub_count() || member >= c->engine.hub(hub).members.size()) return TUND_ERR_NOTFOUND;
    std::vector<Endpoint> list;
    for (std::size_t i = 0; i < n; ++i) {
      if (addrs[i].family != 4 && addrs[i].family != 6) return TUND_ERR_INVALID;
      Endpoint e;
      e.family = addrs[i].family;
      std::memcpy(e.addr.data(), addrs[i].addr, e.family == 4 ? 4 : 16);
      e.port = addrs[i].port;
      list.push_back(e);
    }
    const Time now = capi::to_time(now_us);
    c->engine.set_member_addresses(hub, member, std::move(list), now);
    c->engine.apply_policy(now, "hub addresses changed");
    c->engine.start_sessions(now);
    c->service(now);
    return TUND_OK;
  });
}

int tund_poll_event(tund_client* c, tund_event* ev) {
  return capi::guarded(c, [&]() -> int {
    if (!c || !ev) return TUND_ERR_INVALID;
    if (c->events.empty()) return 0;
    *ev = c->events.front();
    c->events.pop_front();
    return 1;
  });
}

int tund_route_get(const tund_client* c, uint32_t hub, size_t index, tund_prefix* out) {
  return capi::guarded(nullptr, [&]() -> int {
    if (!c || !out) return TUND_ERR_INVALID;
    if (hub >= c->engine.hub_count()) return TUND_ERR_NOTFOUND;
    const auto& routes = c->engine.hub(hub).routes;
    if (index < routes.size()) {
      *out = to_prefix(routes[index]);
      return TUND_OK;
    }
    // Then the VIP subnets the core accepted (session/vip_check.hpp).
    const auto& s = c->engine.client().session(hub);
    std::size_t at = routes.size();
    for (const auto* r : {&s.assigned_route(), &s.assigned_route6()})
      if (*r && at++ == index) {
        *out = to_prefix(**r);
        return TUND_OK;
      }
    return TUND_ERR_NOTFOUND;
  });
}

char* tund_status_json(const tund_client* c, uint64_t now_us) {
  if (!c) return nullptr;
  try {
    auto status = c->engine.status(capi::to_time(now_us));
    auto drops = daemon::drops_json(c->engine.client().drops());
    for (const auto& [name, n] : {std::pair{"no_route", c->drops.no_route}, {"inner_too_long", c->drops.too_long},
                                  {"path_mtu_exceeded", c->drops.path_mtu_exceeded}, {"internal", c->drops.internal}, {"no_uplink", c->drops.no_uplink},
                                  {"tx_queue_full", c->tx.dropped()}, {"inner_queue_full", c->inner.dropped()},
                                  {"events_dropped", c->events_dropped}})
      if (n) drops[name] = n;
    status["drops"] = drops;
    const std::string text = status.dump();
    char* out = static_cast<char*>(std::malloc(text.size() + 1));
    if (!out) return nullptr;
    std::memcpy(out, text.c_str(), text.size() + 1);
    return out;
  } catch (...) {
    return nullptr;
  }
}

void tund_string_free(char* s) { std::free(s); }

}  // extern "C"
