// Cryptokey routing on the client: which hub session an inner address belongs
// to. One table serves both directions, as WireGuard's allowed IPs do:
//   outbound  a TUN packet goes to the session owning its destination
//   inbound   a session may deliver a packet only if its source maps back to
//             that same session (else bad_inner_source): hub A cannot speak
//             for hub B's servers, or for the client's own LAN.
// A session owns its configured routes and the VIP subnet its hub assigned
// (when the client accepted it as a route, see vip_check.hpp). Longest prefix
// wins. The table holds a few dozen entries: a linear scan over entries sorted
// longest first is faster than a trie at that size and allocates nothing.
#pragma once

#include <cstddef>
#include <optional>
#include <vector>

#include "session/ip_packet.hpp"
#include "session/ip_prefix.hpp"

namespace tund::session {

class RouteTable {
 public:
  // Replaces the configured routes of session `slot`.
  void set_routes(std::size_t slot, const std::vector<IpPrefix>& prefixes);
  // Replaces what session `slot`'s hub assigned (its VIP subnets, or nothing).
  void set_assigned(std::size_t slot, std::optional<IpPrefix> prefix, std::optional<IpPrefix> prefix6 = std::nullopt);
  // The session owning `addr` (family 4: 4 bytes, 6: 16 bytes, network order).
  std::optional<std::size_t> lookup(std::uint8_t family, const std::uint8_t* addr) const;
  std::optional<std::size_t> lookup_v4(std::uint32_t host_order) const;
  // The session a parsed inner packet's destination (outbound) or source
  // (inbound check) belongs to.
  std::optional<std::size_t> owner_of_destination(const InnerPacket& p) const {
    return p.version == 4 ? lookup_v4(p.dst4) : lookup(6, p.dst6);
  }
  std::optional<std::size_t> owner_of_source(const InnerPacket& p) const {
    return p.version == 4 ? lookup_v4(p.src4) : lookup(6, p.src6);
  }
  // Configured routes of every session but `slot` (to keep a hub's assignment
  // from overlapping another hub's routes).
  bool overlaps_routes_of_others(std::size_t slot, const IpPrefix& p) const;
  std::size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    IpPrefix prefix;
    std::size_t slot;
    bool assigned;
  };
  void replace(std::size_t slot, bool assigned, const std::vector<IpPrefix>& prefixes);
  std::vector<Entry> entries_;  // longest prefix first; configured before assigned at equal length
};

}  // namespace tund::session
