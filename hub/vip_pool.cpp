#include "hub/vip_pool.hpp"

#include <set>

namespace tund::hub {

VipAssignmentResult assign_vips(const config::Prefix& hub, const std::vector<VipRequest>& requests) {
  VipAssignmentResult out;
  const std::uint32_t mask = prefix_mask_v4(hub.len);
  const std::uint32_t network = hub.addr & mask;
  const std::uint32_t broadcast = network | ~mask;
  // /31 and /32 have no network or broadcast address to skip.
  const bool has_edges = hub.len <= 30;
  auto usable = [&](std::uint32_t ip) {
    return (ip & mask) == network && ip != hub.addr && (!has_edges || (ip != network && ip != broadcast));
  };

  std::set<std::uint32_t> taken{hub.addr};
  for (std::size_t i = 0; i < requests.size(); ++i) {
    if (!requests[i].vip) continue;
    const std::uint32_t ip = *requests[i].vip;
    if (!usable(ip)) {
      out.error = "vip " + config::ipv4_to_string(ip) + " is not a usable address of " +
                  config::Prefix{network, hub.len}.to_string() + " (hub is " + config::ipv4_to_string(hub.addr) + ")";
      out.bad_index = i;
      return out;
    }
    if (!taken.insert(ip).second) {
      out.error = "vip " + config::ipv4_to_string(ip) + " is given to two clients";
      out.bad_index = i;
      return out;
    }
  }
  out.vips.resize(requests.size());
  std::vector<bool> done(requests.size());
  for (std::size_t i = 0; i < requests.size(); ++i) {
    if (requests[i].vip) {
      out.vips[i] = *requests[i].vip;
      done[i] = true;
    } else if (requests[i].leased && usable(*requests[i].leased) && taken.insert(*requests[i].leased).second) {
      out.vips[i] = *requests[i].leased;
      done[i] = true;
    }
  }
  std::uint32_t next = network;
  for (std::size_t i = 0; i < requests.size(); ++i) {
    if (done[i]) continue;
    while (next != broadcast && (!usable(next) || taken.count(next))) ++next;
    if (!usable(next) || taken.count(next)) {
      out.error = "the subnet " + config::Prefix{network, hub.len}.to_string() + " has no free address left";
      out.bad_index = i;
      out.vips.clear();
      return out;
    }
    taken.insert(next);
    out.vips[i] = next;
  }
  return out;
}

}  // namespace tund::hub
