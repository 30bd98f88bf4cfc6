#include "daemon/netlink_config.hpp"

#include <arpa/inet.h>
#include <linux/rtnetlink.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/route.h>

#include <memory>
#include <stdexcept>

#include "daemon/config_check.hpp"

namespace tund::daemon {

namespace {
struct AddrDeleter {
  void operator()(nl_addr* a) const { nl_addr_put(a); }
};
using AddrPtr = std::unique_ptr<nl_addr, AddrDeleter>;

AddrPtr make_addr(std::uint32_t host_order, std::uint8_t prefix_len) {
  const std::uint32_t be = htonl(host_order);
  AddrPtr a(nl_addr_build(AF_INET, &be, sizeof be));
  if (a) nl_addr_set_prefixlen(a.get(), prefix_len);
  return a;
}
}  // namespace

NetlinkConfig::NetlinkConfig() {
  sock_ = nl_socket_alloc();
  if (!sock_ || nl_connect(sock_, NETLINK_ROUTE) < 0) throw std::runtime_error("cannot open rtnetlink socket");
}

bool NetlinkConfig::delete_link(const std::string& name) {
  rtnl_link* link = rtnl_link_alloc();
  if (!link) return false;
  rtnl_link_set_name(link, name.c_str());
  const bool deleted = rtnl_link_delete(sock_, link) == 0;
  rtnl_link_put(link);
  return deleted;
}

NetlinkConfig::~NetlinkConfig() {
  remove_all();
  if (sock_) nl_socket_free(sock_);
}

std::string NetlinkConfig::add_address(int ifindex, std::uint32_t addr, std::uint8_t prefix_len) {
  Added a{false, ifindex, addr, prefix_len, 0, 0};
  auto err = apply(a, true);
  if (err.empty()) added_.push_back(a);
  return err;
}

std::string NetlinkConfig::add_route(int ifindex, std::uint32_t dst, std::uint8_t prefix_len,
                                     std::uint32_t src, std::uint32_t table) {
  Added a{true, ifindex, dst, prefix_len, src, table};
  auto err = apply(a, true);
  if (err.empty()) added_.push_back(a);
  return err;
}

std::string NetlinkConfig::remove_route(int ifindex, std::uint32_t dst, std::uint8_t prefix_len) {
  for (auto it = added_.begin(); it != added_.end(); ++it) {
    if (!it->is_route || it->ifindex != ifindex || it->addr != dst || it->prefix_len != prefix_len) continue;
    auto err = apply(*it, false);
    added_.erase(it);
    return err;
  }
  return {};
}

void NetlinkConfig::remove_all() {
  // Routes first, then addresses; most recent first. Errors are expected when
  // the device is already gone (its routes went with it), so they are ignored.
  for (auto it = added_.rbegin(); it != added_.rend(); ++it) apply(*it, false);
  added_.clear();
}

std::string NetlinkConfig::apply(const Added& a, bool add) {
  int err = 0;
  if (!a.is_route) {
    rtnl_addr* addr = rtnl_addr_alloc();
    auto local = make_addr(a.addr, a.prefix_len);
    rtnl_addr_set_ifindex(addr, a.ifindex);
    rtnl_addr_set_local(addr, local.get());
    rtnl_addr_set_prefixlen(addr, a.prefix_len);
    err = add ? rtnl_addr_add(sock_, addr, NLM_F_REPLACE) : rtnl_addr_delete(sock_, addr, 0);
    rtnl_addr_put(addr);
  } else {
    rtnl_route* route = rtnl_route_alloc();
    auto dst = make_addr(a.addr, a.prefix_len);
    rtnl_route_set_family(route, AF_INET);
    rtnl_route_set_dst(route, dst.get());
    rtnl_route_set_table(route, a.table);
    rtnl_route_set_scope(route, RT_SCOPE_LINK);
    rtnl_route_set_protocol(route, RTPROT_STATIC);
    if (a.src) {
      auto src = make_addr(a.src, 32);
      rtnl_route_set_pref_src(route, src.get());
    }
    rtnl_nexthop* nh = rtnl_route_nh_alloc();
    rtnl_route_nh_set_ifindex(nh, a.ifindex);
    rtnl_route_add_nexthop(route, nh);  // the route owns nh now
    err = add ? rtnl_route_add(sock_, route, NLM_F_REPLACE | NLM_F_CREATE) : rtnl_route_delete(sock_, route, 0);
    rtnl_route_put(route);
  }
  if (err >= 0) return {};
  return std::string(add ? "add " : "remove ") + (a.is_route ? "route " : "address ") +
         config::ipv4_to_string(a.addr) + "/" + std::to_string(a.prefix_len) + ": " + nl_geterror(err);
}

}  // namespace tund::daemon
