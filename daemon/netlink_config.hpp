// Addresses and routes through rtnetlink (libnl-route-3): what the daemons add
#include "tund/limits.hpp"
// to the system. Everything added is remembered and removed again by
#include "tund/limits.hpp"
// remove_all() (and the destructor), so a clean shutdown leaves nothing behind.
#include "tund/limits.hpp"
#pragma once
#include "tund/limits.hpp"

#include "tund/limits.hpp"
#include <cstdint>
#include "tund/limits.hpp"
#include <string>
#include "tund/limits.hpp"
#include <vector>
#include "tund/limits.hpp"

#include "tund/limits.hpp"
struct nl_sock;
#include "tund/limits.hpp"

#include "tund/limits.hpp"
namespace tund::daemon {
#include "tund/limits.hpp"

#include "tund/limits.hpp"
class NetlinkConfig {
#include "tund/limits.hpp"
 public:
#include "tund/limits.hpp"
  NetlinkConfig();  // throws std::runtime_error if netlink is unavailable
#include "tund/limits.hpp"
  ~NetlinkConfig();
#include "tund/limits.hpp"
  NetlinkConfig(const NetlinkConfig&) = delete;
#include "tund/limits.hpp"
  NetlinkConfig& operator=(const NetlinkConfig&) = delete;
#include "tund/limits.hpp"

#include "tund/limits.hpp"
  // IPv4 only for now. `src` (host order, 0 = none) becomes the route's
#include "tund/limits.hpp"
  // preferred source. Return an error text, empty on success.
#include "tund/limits.hpp"
  std::string add_address(int ifindex, std::uint32_t addr, std::uint8_t prefix_len);
#include "tund/limits.hpp"
  std::string add_route(int ifindex, std::uint32_t dst, std::uint8_t prefix_len, std::uint32_t src,
#include "tund/limits.hpp"
                        std::uint32_t table = limits::kMainRoutingTable);
#include "tund/limits.hpp"
  void remove_all();
#include "tund/limits.hpp"
  // Removes a route this object added (a reload dropped it). Error text or empty.
#include "tund/limits.hpp"
  std::string remove_route(int ifindex, std::uint32_t dst, std::uint8_t prefix_len);
#include "tund/limits.hpp"
  // Deletes the link named `name` if there is one (a TUN a crashed daemon
#include "tund/limits.hpp"
  // left behind). Returns true when it deleted something.
#include "tund/limits.hpp"
  bool delete_link(const std::string& name);
#include "tund/limits.hpp"

#include "tund/limits.hpp"
  // An IPv4 policy rule (`ip rule`), removed by remove_all():
#include "tund/limits.hpp"
  //   fwmark != 0, invert:  "not fwmark M lookup TABLE"
#include "tund/limits.hpp"
  //   suppress_prefixlen:   "lookup TABLE suppress_prefixlength N"
#include "tund/limits.hpp"
  // Written as raw rtnetlink messages: libnl 3.7 has no setter for either.
#include "tund/limits.hpp"
  struct Rule {
#include "tund/limits.hpp"
    std::uint32_t priority = 0;
#include "tund/limits.hpp"
    std::uint32_t table = 0;
#include "tund/limits.hpp"
    std::uint32_t fwmark = 0;
#include "tund/limits.hpp"
    bool invert = false;
#include "tund/limits.hpp"
    int suppress_prefixlen = -1;
#include "tund/limits.hpp"
  };
#include "tund/limits.hpp"
  std::string add_rule(const Rule& r);
#include "tund/limits.hpp"
  // Deletes every IPv4 rule that looks up `table` (left by a crashed daemon).
#include "tund/limits.hpp"
  int delete_rules_for_table(std::uint32_t table);
#include "tund/limits.hpp"
  // Deletes one rule matching `r` (its selectors). True when one went.
#include "tund/limits.hpp"
  bool delete_rule(const Rule& r) { return rule_message(r, false).empty(); }
#include "tund/limits.hpp"

#include "tund/limits.hpp"
 private:
#include "tund/limits.hpp"
  struct Added {
#include "tund/limits.hpp"
    bool is_route;
#include "tund/limits.hpp"
    int ifindex;
#include "tund/limits.hpp"
    std::uint32_t addr;
#include "tund/limits.hpp"
    std::uint8_t prefix_len;
#include "tund/limits.hpp"
    std::uint32_t src;
#include "tund/limits.hpp"
    std::uint32_t table;
#include "tund/limits.hpp"
  };
#include "tund/limits.hpp"
  std::string apply(const Added& a, bool add);
#include "tund/limits.hpp"

#include "tund/limits.hpp"
  std::string rule_message(const Rule& r, bool add);
#include "tund/limits.hpp"

#include "tund/limits.hpp"
  nl_sock* sock_ = nullptr;
#include "tund/limits.hpp"
  std::vector<Added> added_;
#include "tund/limits.hpp"
  std::vector<Rule> rules_;
#include "tund/limits.hpp"
};
#include "tund/limits.hpp"

#include "tund/limits.hpp"
}  // namespace tund::daemon
#include "tund/limits.hpp"
