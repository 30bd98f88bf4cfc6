#include "session/vip_check.hpp"

namespace tund::session {

namespace {
constexpr std::uint8_t kNarrowestUsefulPrefix = 32;
// Wider than /8 is no VIP subnet any hub deployment uses; it is an attempt to
// claim the client's routing (and /0../7 cover whole address classes).
constexpr std::uint8_t kWidestPrefix = 8;

bool in(std::uint32_t ip, std::uint32_t net, unsigned len) { return (ip & prefix_mask_v4(len)) == (net & prefix_mask_v4(len)); }

// A unicast address a host may hold: not "this network", loopback,
// link-local, multicast, reserved or limited broadcast.
bool unicast_host(std::uint32_t ip) {
  return !in(ip, 0x00000000, 8) && !in(ip, 0x7F000000, 8) && !in(ip, 0xA9FE0000, 16) && !in(ip, 0xE0000000, 4) &&
         !in(ip, 0xF0000000, 4);
}
}  // namespace

// An IPv6 VIP: global or unique-local unicast (not ::, loopback, link-local,
// multicast, v4-mapped), in a subnet no wider than /48 (a site's).
bool valid_assignment6(const crypto::VipAssignment& a) {
  const auto& v = a.vip6;
  if (a.prefix6_len < 48 || a.prefix6_len > 128) return false;
  if (v[0] == 0xff || (v[0] == 0xfe && (v[1] & 0xc0) == 0x80)) return false;
  bool high_zero = true;  // ::/80: unspecified, loopback, v4-compatible and v4-mapped
  for (int i = 0; i < 10; ++i) high_zero = high_zero && v[i] == 0;
  return !high_zero;
}

bool valid_assignment(const crypto::VipAssignment& a) {
  // At least one family; each given one must be sane.
  if (!a.has_v4() && !a.has_v6()) return false;
  if (a.has_v6() && !valid_assignment6(a)) return false;
  if (!a.has_v4()) return a.gateway == 0;
  if (a.prefix_len < kWidestPrefix || a.prefix_len > kNarrowestUsefulPrefix) return false;
  if (!unicast_host(a.vip)) return false;
  const unsigned host_bits = 32u - a.prefix_len;
  const std::uint32_t host_mask = ~prefix_mask_v4(a.prefix_len);
  // /31 (RFC 3021) and /32 have no network or broadcast address.
  const auto not_edge = [&](std::uint32_t ip) {
    return host_bits < 2 || ((ip & host_mask) != 0 && (ip & host_mask) != host_mask);
  };
  if (!not_edge(a.vip)) return false;
  if (a.gateway == 0) return true;
  if (!unicast_host(a.gateway) || !not_edge(a.gateway)) return false;
  return a.prefix_len == 32 || in(a.gateway, a.vip, a.prefix_len);
}

}  // namespace tund::session
