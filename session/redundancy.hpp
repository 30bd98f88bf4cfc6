// Which inner packets always travel on two paths at once: the user's policy
// (claims 32-33), `[uplinks] redundant` on the client and `[handover]
// redundant` on the hub. A packet matches a selector by its DSCP, by a TCP or
// UDP port at either end, or by an address at either end inside a prefix, so
// one list describes a flow in both directions. Pure logic over packet bytes;
// the selectors are parsed by the config loaders (daemon/config_check.hpp).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "session/ip_prefix.hpp"
#include "tund/types.hpp"

namespace tund::session {

struct RedundancySelector {
  enum class Kind : std::uint8_t { kDscp, kUdp, kTcp, kPrefix };
  Kind kind = Kind::kDscp;
  std::uint8_t dscp = 0;                          // kDscp: 0..63
  std::uint16_t port_low = 0, port_high = 0;      // kUdp, kTcp: an inclusive range
  IpPrefix prefix;                                // kPrefix
  bool operator==(const RedundancySelector&) const = default;
};

using RedundancyPolicy = std::vector<RedundancySelector>;

// True when the inner packet (IPv4 or IPv6) matches any selector. Ports are
// read only from an unfragmented IPv4 packet or an IPv6 one whose next
// header is TCP or UDP itself (extension headers are not walked).
bool redundant(const RedundancyPolicy& policy, Bytes inner);

}  // namespace tund::session
