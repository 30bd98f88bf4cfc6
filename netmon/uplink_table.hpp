// The lookup table of physical interfaces the client could send through: a
// plain value, rebuilt from a netlink dump. Policy lives elsewhere
// (session/uplink_policy); this only says what the kernel says.
#pragma once

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
  std::vector<std::uint32_t> ipv4;     // host order
  std::vector<std::string> addresses;  // every address as text ("10.1.0.2/24", "fe80::1/64")
  bool has_default_route = false;      // an IPv4 default route leaves through it (main table)
  std::string gateway;                 // that route's gateway, "" when direct
  std::uint32_t route_metric = 0;

  // Up, with an IPv4 address and a default route: a path could work.
  bool usable() const { return up && !ipv4.empty() && has_default_route; }
  bool operator==(const Uplink&) const = default;
};

using UplinkTable = std::vector<Uplink>;  // sorted by ifindex

}  // namespace tund::netmon
