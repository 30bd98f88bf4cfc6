// What a client accepts from a hub's handshake response. The hub is
// authenticated but not trusted with the client's routing:
//   valid_assignment   the VIP and gateway must be usable unicast addresses
//                      inside a prefix of sane length; anything else fails the
//                      handshake (bad_assignment)
//   route_for_subnet   the VIP subnet becomes a route via this hub only when it
//                      is no wider than the client allows, overlaps none of
//                      its uplinks' own subnets and no other hub's configured
//                      routes; otherwise only the hub's own VIP is routed
#pragma once

#include <optional>
#include <vector>

#include "crypto/handshake.hpp"
#include "session/ip_prefix.hpp"

namespace tund::session {

bool valid_assignment(const crypto::VipAssignment& a);

// The IPv6 VIP's subnet as a route via this hub, when it is no wider than /48
// and nothing the client keeps for itself or another hub overlaps it.
template <class IsTaken>
std::optional<IpPrefix> assigned_route6(const crypto::VipAssignment& a, IsTaken&& is_taken) {
  if (!a.has_v6()) return std::nullopt;
  auto subnet = IpPrefix::v6(a.vip6.data(), a.prefix6_len);
  for (std::size_t bit = subnet.len; bit < 128; ++bit) subnet.addr[bit / 8] &= static_cast<std::uint8_t>(~(0x80u >> (bit % 8)));
  if (!is_taken(subnet)) return subnet;
  const auto host = IpPrefix::v6(a.vip6.data(), 128);
  return is_taken(host) ? std::nullopt : std::optional<IpPrefix>(host);
}

// What the client routes to this hub from its assignment (already valid):
// the subnet, else the gateway alone, else nothing. `is_taken` says whether a
// prefix overlaps something the client keeps for itself or another hub.
template <class IsTaken>
std::optional<IpPrefix> assigned_route(const crypto::VipAssignment& a, std::uint8_t min_prefix, IsTaken&& is_taken) {
  if (!a.has_v4()) return std::nullopt;
  if (a.prefix_len < 32) {
    const auto subnet = IpPrefix::v4(a.vip & prefix_mask_v4(a.prefix_len), a.prefix_len);
    if (a.prefix_len >= min_prefix && !is_taken(subnet)) return subnet;
  }
  if (a.gateway && a.gateway != a.vip) {
    const auto host = IpPrefix::v4(a.gateway, 32);
    if (!is_taken(host)) return host;
  }
  return std::nullopt;
}

}  // namespace tund::session
