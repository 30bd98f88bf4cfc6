// The lookup table of physical interfaces the client could send through: a
// plain value, rebuilt from a netlink dump. Policy lives elsewhere
// (session/uplink_policy); this only says what the kernel says.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace tund::netmon {

enum class UplinkKind : std::uint8_t { kEthernet, kWifi, kCellular, kOther };
const char* to_string(UplinkKind k);

struct Uplink {
  std::string name;
  int ifindex = 0;
  bool up = false;                     // administratively up and carrier/operstate up
  UplinkKind kind = UplinkKind::kOther;
  unsigned mtu = 0;                    // the interface's MTU: the ceiling of its paths' MTU
  std::vector<std::uint32_t> ipv4;     // host order
  // Global IPv6 addresses (not link-local, not tentative, not failed DAD), network order.
  std::vector<std::array<std::uint8_t, 16>> ipv6;
  std::vector<std::string> addresses;  // every address as text ("10.1.0.2/24", "fe80::1/64")
  bool has_default_route = false;      // an IPv4 default route leaves through it (main table)
  std::string gateway;                 // that route's gateway, "" when direct
  std::uint32_t route_metric = 0;
  bool has_default_route6 = false;     // an IPv6 default route leaves through it
  std::string gateway6;

  // Up, with an address and a default route of that family: a path could work.
  bool usable4() const { return up && !ipv4.empty() && has_default_route; }
  bool usable6() const { return up && !ipv6.empty() && has_default_route6; }
  bool usable(int family) const { return family == 6 ? usable6() : usable4(); }
  bool usable() const { return usable4() || usable6(); }
  // Why neither family can be used ("" when one can).
  std::string unusable_reason() const {
    if (!up) return "link down";
    if (ipv4.empty() && ipv6.empty()) return "no IPv4 or global IPv6 address";
    if (!usable4() && !usable6()) return "no default route";
    return "";
  }
  bool operator==(const Uplink&) const = default;
};

using UplinkTable = std::vector<Uplink>;  // sorted by ifindex

}  // namespace tund::netmon
