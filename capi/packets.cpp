// The C API's packet path (include/tund/tund.h): inner packets sealed toward
// their hub, datagrams opened for the TUN, the timer, and the queues the
// caller polls. Storage is allocated when the client is made; a packet
// allocates nothing.
#include <algorithm>
#include <cstring>

#include "capi/client.hpp"

using namespace tund;
namespace t = wire::transport;

namespace tund::capi {

void copy_text(char* out, std::size_t cap, const std::string& text) {
  if (!out || !cap) return;
  const std::size_t n = std::min(cap - 1, text.size());
  std::memcpy(out, text.data(), n);
  out[n] = 0;
}

Time to_time(std::uint64_t now_us) {
  return Time(std::chrono::duration_cast<Clock::duration>(std::chrono::microseconds(now_us)));
}

namespace {

tund_prefix vip_prefix(std::uint8_t family, const std::uint8_t* addr, std::uint8_t len) {
  tund_prefix p{};
  p.family = family;
  std::memcpy(p.addr, addr, family == 4 ? 4 : 16);
  p.len = len;
  return p;
}

}  // namespace
}  // namespace tund::capi

// A datagram is at most the tunnel's MTU plus its overhead (probes search up
// to that); the slack covers a handshake's larger messages on a small MTU.
tund_client::tund_client(engine::EngineConfig config, unsigned tun_mtu)
    : engine(std::move(config), rng),
      mtu(tun_mtu),
      tx(limits::kMaxEmbedInnerQueue, tun_mtu + t::kDataOverhead + 256),
      inner(limits::kMaxEmbedInnerQueue, tun_mtu + 256),
      rx(65536),
      paced(tun_mtu + 256),
      reported_vip(engine.hub_count()),
      too_big_buf(session::kTooBigReplyMax) {}

void tund_client::push_event(const engine::Event& e) {
  tund_event ev{};
  ev.hub = static_cast<std::uint32_t>(e.slot);
  ev.member = static_cast<std::uint32_t>(e.member);
  const auto active = engine.client().session(e.slot).active_path();
  ev.uplink = engine::path_uplink(e.kind == engine::EventKind::kPathChanged ? e.to : active);
  ev.family = ev.uplink ? engine::path_family(e.kind == engine::EventKind::kPathChanged ? e.to : active) : 0;
  capi::copy_text(ev.text, sizeof ev.text, e.text);
  switch (e.kind) {
    case engine::EventKind::kUp: ev.kind = TUND_EVENT_CONNECTED; break;
    case engine::EventKind::kDown: ev.kind = TUND_EVENT_DISCONNECTED; break;
    case engine::EventKind::kPathChanged:
      ev.kind = TUND_EVENT_PATH_CHANGED;
      ev.from_uplink = engine::path_uplink(e.from);
      ev.from_family = e.from ? engine::path_family(e.from) : 0;
      break;
    case engine::EventKind::kResolve: ev.kind = TUND_EVENT_RESOLVE; break;
    case engine::EventKind::kMemberMoved: ev.kind = TUND_EVENT_MEMBER_MOVED; break;
    case engine::EventKind::kHandshake: {
      // Only a new assignment is news; a rekey repeats the same one.
      const auto& a = engine.client().session(e.slot).vip();
      auto& seen = reported_vip[e.slot];
      if (seen && seen->vip == a.vip && seen->vip6 == a.vip6 && seen->prefix_len == a.prefix_len) return;
      seen = a;
      ev.kind = TUND_EVENT_VIP;
      if (a.has_v4()) {
        const std::uint8_t v4[4] = {static_cast<std::uint8_t>(a.vip >> 24), static_cast<std::uint8_t>(a.vip >> 16),
                                    static_cast<std::uint8_t>(a.vip >> 8), static_cast<std::uint8_t>(a.vip)};
        ev.vip4 = capi::vip_prefix(4, v4, a.prefix_len);
      }
      if (a.has_v6()) ev.vip6 = capi::vip_prefix(6, a.vip6.data(), a.prefix6_len);
      break;
    }
  }
  if (events.size() >= limits::kMaxEngineEvents) {
    events.pop_front();
    ++events_dropped;
  }
  events.push_back(ev);
}

void tund_client::seal_and_queue(std::size_t slot, std::size_t len, Bytes original, Time now, bool released) {
  auto& s = engine.client().session(slot);
  const MutableBytes buf = tx.back();
  const auto sealed = s.seal(buf, len, now, nullptr, released);
  if (sealed.kind == session::SealResult::Kind::kTooBig) {
    // What a router would answer (rate-limited), into the TUN.
    ++drops.path_mtu_exceeded;
    if (!too_big_limiter.allow(now)) return;
    const std::size_t n = session::too_big_reply(original, sealed.len, too_big_buf);
    if (n) {
      const MutableBytes out = inner.back();
      std::memcpy(out.data(), too_big_buf.data(), n);
      inner.push(n, 0);
    }
    return;
  }
  if (sealed.kind != session::SealResult::Kind::kSend) return;  // staged, queued by the pacer, or dropped (counted)
  const auto path = sealed.path ? sealed.path : s.active_path();  // in a bond, its flow's path
  const Endpoint* to = path ? engine.remote(slot, path) : nullptr;
  if (!to) {
    ++drops.no_uplink;
    return;
  }
  tx.push(sealed.len, {path, *to});
  if (!sealed.copy) return;
  // The redundancy policy's copy on the best standby, from the plaintext kept by the caller.
  const MutableBytes copy = tx.back();
  std::memcpy(copy.data() + t::kDataOffset, original.data(), original.size());
  const auto c = s.seal_redundant_copy(copy, original.size(), now, nullptr);
  const Endpoint* copy_to = c ? engine.remote(slot, c->path) : nullptr;
  if (copy_to) tx.push(c->len, {c->path, *copy_to});
}

void tund_client::service(Time now) {
  engine.service(now);
  // A spread flow's packets now in order, or whose wait ran out.
  engine.client().release_ordered(now, [&](Bytes d) {
    if (d.size() > inner.stride()) return;
    std::memcpy(inner.back().data(), d.data(), d.size());
    inner.push(d.size(), 0);
  });
  engine::Event e;
  while (engine.poll_event(e)) push_event(e);
  for (std::size_t slot = 0; slot < engine.hub_count(); ++slot) {
    for (;;) {
      const MutableBytes buf = tx.back();
      const auto out = engine.poll_transmit(slot, buf, now);
      if (!out) break;
      // Sent before any uplink was usable (path 0): no socket to carry it.
      if (!out->path) {
        ++drops.no_uplink;
        continue;
      }
      tx.push(out->len, {out->path, out->to});
    }
    // What the pacer lets go now (opt-in [performance] pacing), through a
    // copy: sealing in place would leave no plaintext for an ICMP answer or
    // the redundancy policy's copy.
    for (;;) {
      const auto n = engine.client().session(slot).release_paced(paced, now);
      if (!n) break;
      std::memcpy(tx.back().data() + t::kDataOffset, paced.data(), *n);
      seal_and_queue(slot, *n, Bytes(paced.data(), *n), now, true);
    }
  }
  deadline = engine.next_deadline(now);  // after the polls: they may set timers
}

extern "C" {

int tund_inner_packet(tund_client* c, const uint8_t* packet, size_t len, uint64_t now_us) {
  return capi::guarded(c, [&]() -> int {
    if (!c || (!packet && len)) return TUND_ERR_INVALID;
    const Time now = capi::to_time(now_us);
    if (len == 0 || len > c->mtu) {
      ++c->drops.too_long;
      return TUND_ERR_INVALID;
    }
    const Bytes original(packet, len);
    const auto slot = c->engine.route(original);
    if (!slot) {
      ++c->drops.no_route;
      return TUND_ERR_NOROUTE;
    }
    const MutableBytes buf = c->tx.back();
    std::memcpy(buf.data() + t::kDataOffset, packet, len);
    c->seal_and_queue(*slot, len, original, now, false);
    c->service(now);
    return TUND_OK;
  });
}

int tund_outer_datagram(tund_client* c, uint32_t uplink, const tund_addr* from, const uint8_t* data, size_t len,
                        uint64_t now_us) {
  return capi::guarded(c, [&]() -> int {
    if (!c || !from || (!data && len) || (from->family != 4 && from->family != 6)) return TUND_ERR_INVALID;
    if (uplink == 0 || uplink > engine::kMaxUplinkId || len > c->rx.size()) return TUND_ERR_INVALID;
    const Time now = capi::to_time(now_us);
    std::memcpy(c->rx.data(), data, len);
    const auto r = c->engine.client().receive(MutableBytes(c->rx.data(), len), engine::path_id(uplink, from->family), now);
    if (r.kind == session::ReceiveResult::Kind::kDeliver && r.len <= c->inner.stride()) {
      const MutableBytes out = c->inner.back();
      std::memcpy(out.data(), c->rx.data() + r.offset, r.len);
      c->inner.push(r.len, 0);
    }
    c->service(now);
    return TUND_OK;
  });
}

uint64_t tund_next_deadline_us(const tund_client* c) {
  if (!c || c->deadline == kNever) return UINT64_MAX;
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(c->deadline.time_since_epoch()).count();
  return us < 0 ? 0 : static_cast<uint64_t>(us);
}

int tund_on_time(tund_client* c, uint64_t now_us) {
  return capi::guarded(c, [&]() -> int {
    if (!c) return TUND_ERR_INVALID;
    c->service(capi::to_time(now_us));
    return TUND_OK;
  });
}

long tund_poll_transmit(tund_client* c, uint8_t* buf, size_t cap, uint32_t* uplink, tund_addr* dest) {
  return capi::guarded(c, [&]() -> long {
    if (!c || !buf || !uplink || !dest) return TUND_ERR_INVALID;
    if (c->tx.empty()) return 0;
    const Bytes d = c->tx.front();
    if (d.size() > cap) return TUND_ERR_NOSPACE;
    const auto& meta = c->tx.front_meta();
    std::memcpy(buf, d.data(), d.size());
    *uplink = engine::path_uplink(meta.path);
    *dest = tund_addr{};
    dest->family = meta.to.family;
    std::memcpy(dest->addr, meta.to.addr.data(), meta.to.family == 4 ? 4 : 16);
    dest->port = meta.to.port;
    c->tx.pop();
    return static_cast<long>(d.size());
  });
}

long tund_poll_inner(tund_client* c, uint8_t* buf, size_t cap) {
  return capi::guarded(c, [&]() -> long {
    if (!c || !buf) return TUND_ERR_INVALID;
    if (c->inner.empty()) return 0;
    const Bytes d = c->inner.front();
    if (d.size() > cap) return TUND_ERR_NOSPACE;
    std::memcpy(buf, d.data(), d.size());
    c->inner.pop();
    return static_cast<long>(d.size());
  });
}

}  // extern "C"
