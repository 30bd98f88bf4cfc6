// Addresses and routes through rtnetlink (libnl-route-3): what the daemons add
// to the system. Everything added is remembered and removed again by
// remove_all() (and the destructor), so a clean shutdown leaves nothing behind.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "tund/limits.hpp"

struct nl_sock;

namespace tund::daemon {

class NetlinkConfig {
 public:
  NetlinkConfig();  // throws std::runtime_error if netlink is unavailable
  ~NetlinkConfig();
  NetlinkConfig(const NetlinkConfig&) = delete;
  NetlinkConfig& operator=(const NetlinkConfig&) = delete;

  // `src` (host order, 0 = none) becomes an IPv4 route's preferred source.
  // Return an error text, empty on success.
  std::string add_address(int ifindex, std::uint32_t addr, std::uint8_t prefix_len);
  // `protocol` marks whose route it is (RTPROT_STATIC = 4 unless told).
  std::string add_route(int ifindex, std::uint32_t dst, std::uint8_t prefix_len, std::uint32_t src,
                        std::uint32_t table = limits::kMainRoutingTable, std::uint8_t protocol = 4);
  // IPv6 (network order); addresses skip duplicate detection.
  std::string add_address6(int ifindex, const std::array<std::uint8_t, 16>& addr, std::uint8_t prefix_len);
  std::string add_route6(int ifindex, const std::array<std::uint8_t, 16>& dst, std::uint8_t prefix_len,
                         std::uint32_t table = limits::kMainRoutingTable, std::uint8_t protocol = 4);
  std::string remove_route6(int ifindex, const std::array<std::uint8_t, 16>& dst, std::uint8_t prefix_len);
  void remove_all();
  // Removes a route this object added (a reload dropped it). Error text or empty.
  std::string remove_route(int ifindex, std::uint32_t dst, std::uint8_t prefix_len);
  // Deletes the link named `name` if there is one (a TUN a crashed daemon
  // left behind). Returns true when it deleted something.
  bool delete_link(const std::string& name);

  // A policy rule (`ip rule`, `ip -6 rule`), removed by remove_all():
  //   fwmark != 0, invert:  "not fwmark M lookup TABLE"
  //   suppress_prefixlen:   "lookup TABLE suppress_prefixlength N"
  // Written as raw rtnetlink messages: libnl 3.7 has no setter for either.
  struct Rule {
    int family = 2;  // AF_INET, or AF_INET6 (10)
    std::uint32_t priority = 0;
    std::uint32_t table = 0;
    std::uint32_t fwmark = 0;
    bool invert = false;
    int suppress_prefixlen = -1;
  };
  std::string add_rule(const Rule& r);
  // Deletes every rule (both families) that looks up `table` (left by a crashed daemon).
  int delete_rules_for_table(std::uint32_t table);
  // Deletes one rule matching `r` (its selectors). True when one went.
  bool delete_rule(const Rule& r) { return rule_message(r, false).empty(); }

 private:
  struct Added {
    bool is_route;
    int family;  // AF_INET or AF_INET6
    int ifindex;
    std::array<std::uint8_t, 16> addr;  // network order; IPv4 in the first 4 bytes
    std::uint8_t prefix_len;
    std::uint32_t src;
    std::uint32_t table;
    std::uint8_t protocol = 4;  // RTPROT_STATIC
  };
  std::string add(const Added& a);
  std::string apply(const Added& a, bool add);
  std::string remove_route_of(int family, int ifindex, const std::array<std::uint8_t, 16>& dst, std::uint8_t prefix_len);

  std::string rule_message(const Rule& r, bool add);

  nl_sock* sock_ = nullptr;
  std::vector<Added> added_;
  std::vector<Rule> rules_;
};

}  // namespace tund::daemon
