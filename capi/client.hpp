// What a tund_client (include/tund/tund.h) is: the engine, the uplink table
// the caller reports, and the queues between the engine and the caller's
// polls. Internal to libtund.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "capi/packet_queue.hpp"
#include "crypto/primitives.hpp"
#include "engine/client_engine.hpp"
#include "tund/tund.h"
#include "session/inner_mtu.hpp"

namespace tund::capi {

struct Outbound {
  session::PathId path = 0;
  Endpoint to;
};

// The C API's own drops, beside the core's (status JSON "drops").
struct Drops {
  std::uint64_t no_route = 0;       // an inner packet no hub's routes cover
  std::uint64_t too_long = 0;       // an inner packet beyond [tun] mtu
  std::uint64_t path_mtu_exceeded = 0;  // answered with ICMP (rate-limited)
  std::uint64_t internal = 0;       // an exception caught at the boundary
  std::uint64_t no_uplink = 0;      // a datagram the session sent with no usable uplink
};

Time to_time(std::uint64_t now_us);

// A NUL-terminated copy into the caller's buffer, truncated to fit.
void copy_text(char* out, std::size_t cap, const std::string& text);

}  // namespace tund::capi

struct tund_client {
  tund_client(tund::engine::EngineConfig config, unsigned tun_mtu);

  // After any input: the engine's timers and policy, its events into
  // `events`, its transmits and what pacers release into `tx`.
  void service(tund::Time now);
  // Seals the inner packet at tx.back() + kDataOffset (len bytes) for `slot`
  // and queues it; `original` is the caller's copy, for a redundant copy.
  void seal_and_queue(std::size_t slot, std::size_t len, tund::Bytes original, tund::Time now, bool released);
  void push_event(const tund::engine::Event& e);

  tund::crypto::SodiumRng rng;
  tund::engine::ClientEngine engine;
  unsigned mtu;
  std::vector<tund::engine::Uplink> uplinks;
  tund::capi::PacketQueue<tund::capi::Outbound> tx;
  tund::capi::PacketQueue<char> inner;
  std::deque<tund_event> events;  // bounded by limits::kMaxEngineEvents (events are rare: no packet path)
  std::uint64_t events_dropped = 0;
  std::vector<std::uint8_t> rx;    // a received datagram, opened in place
  std::vector<std::uint8_t> paced;  // an inner packet the pacer released, before it is sealed
  std::vector<std::optional<tund::crypto::VipAssignment>> reported_vip;
  tund::session::TooBigLimiter too_big_limiter;
  std::vector<std::uint8_t> too_big_buf;
  tund::Time deadline = tund::kNever;
  tund::capi::Drops drops;
};

namespace tund::capi {

// Runs f: an exception becomes TUND_ERR_INTERNAL, counted on the client, so
// nothing but return codes crosses the C boundary.
template <class F>
auto guarded(tund_client* c, F&& f) noexcept -> decltype(f()) {
  try {
    return f();
  } catch (...) {
    if (c) ++c->drops.internal;
    return TUND_ERR_INTERNAL;
  }
}

}  // namespace tund::capi
