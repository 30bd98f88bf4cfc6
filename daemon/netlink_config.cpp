#include "daemon/netlink_config.hpp"

#include <arpa/inet.h>
#include <linux/fib_rules.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/route.h>

#include <array>
#include <memory>
#include <stdexcept>

#include "daemon/config_check.hpp"
#include "tund/endpoint.hpp"

namespace tund::daemon {

namespace {
struct AddrDeleter {
  void operator()(nl_addr* a) const { nl_addr_put(a); }
};
using AddrPtr = std::unique_ptr<nl_addr, AddrDeleter>;

std::array<std::uint8_t, 16> v4_bytes(std::uint32_t host_order) {
  std::array<std::uint8_t, 16> b{};
  store_be32(b.data(), host_order);
  return b;
}

AddrPtr make_addr(int family, const std::array<std::uint8_t, 16>& bytes, std::uint8_t prefix_len) {
  AddrPtr a(nl_addr_build(family, bytes.data(), family == AF_INET6 ? 16 : 4));
  if (a) nl_addr_set_prefixlen(a.get(), prefix_len);
  return a;
}

std::string text(int family, const std::array<std::uint8_t, 16>& bytes) {
  Endpoint e;
  e.family = family == AF_INET6 ? 6 : 4;
  e.addr = bytes;
  return e.address_string();
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

std::string NetlinkConfig::add(const Added& a) {
  auto err = apply(a, true);
  if (err.empty()) added_.push_back(a);
  return err;
}

std::string NetlinkConfig::add_address(int ifindex, std::uint32_t addr, std::uint8_t prefix_len) {
  return add({false, AF_INET, ifindex, v4_bytes(addr), prefix_len, 0, 0});
}

std::string NetlinkConfig::add_address6(int ifindex, const std::array<std::uint8_t, 16>& addr, std::uint8_t prefix_len) {
  return add({false, AF_INET6, ifindex, addr, prefix_len, 0, 0});
}

std::string NetlinkConfig::add_route(int ifindex, std::uint32_t dst, std::uint8_t prefix_len,
                                     std::uint32_t src, std::uint32_t table, std::uint8_t protocol) {
  return add({true, AF_INET, ifindex, v4_bytes(dst), prefix_len, src, table, protocol});
}

std::string NetlinkConfig::add_route6(int ifindex, const std::array<std::uint8_t, 16>& dst, std::uint8_t prefix_len,
                                      std::uint32_t table, std::uint8_t protocol) {
  return add({true, AF_INET6, ifindex, dst, prefix_len, 0, table, protocol});
}

std::string NetlinkConfig::remove_route(int ifindex, std::uint32_t dst, std::uint8_t prefix_len) {
  return remove_route_of(AF_INET, ifindex, v4_bytes(dst), prefix_len);
}

std::string NetlinkConfig::remove_route6(int ifindex, const std::array<std::uint8_t, 16>& dst, std::uint8_t prefix_len) {
  return remove_route_of(AF_INET6, ifindex, dst, prefix_len);
}

std::string NetlinkConfig::remove_route_of(int family, int ifindex, const std::array<std::uint8_t, 16>& dst,
                                           std::uint8_t prefix_len) {
  for (auto it = added_.begin(); it != added_.end(); ++it) {
    if (!it->is_route || it->family != family || it->ifindex != ifindex || it->addr != dst || it->prefix_len != prefix_len)
      continue;
    auto err = apply(*it, false);
    added_.erase(it);
    return err;
  }
  return {};
}

std::string NetlinkConfig::rule_message(const Rule& r, bool add) {
  nl_msg* msg = nlmsg_alloc_simple(add ? RTM_NEWRULE : RTM_DELRULE, add ? NLM_F_CREATE | NLM_F_EXCL : 0);
  if (!msg) return "out of memory";
  fib_rule_hdr frh{};
  frh.family = static_cast<std::uint8_t>(r.family);
  frh.action = FR_ACT_TO_TBL;
  frh.table = r.table < 256 ? static_cast<std::uint8_t>(r.table) : static_cast<std::uint8_t>(RT_TABLE_UNSPEC);
  if (r.invert) frh.flags |= FIB_RULE_INVERT;
  int err = nlmsg_append(msg, &frh, sizeof frh, NLMSG_ALIGNTO);
  if (err >= 0) err = nla_put_u32(msg, FRA_TABLE, r.table);
  if (err >= 0 && r.priority) err = nla_put_u32(msg, FRA_PRIORITY, r.priority);
  if (err >= 0 && r.fwmark) {
    err = nla_put_u32(msg, FRA_FWMARK, r.fwmark);
    if (err >= 0) err = nla_put_u32(msg, FRA_FWMASK, 0xffffffff);
  }
  if (err >= 0 && r.suppress_prefixlen >= 0) err = nla_put_u32(msg, FRA_SUPPRESS_PREFIXLEN, static_cast<std::uint32_t>(r.suppress_prefixlen));
  if (err >= 0) err = nl_send_auto(sock_, msg);
  nlmsg_free(msg);
  if (err >= 0) err = nl_wait_for_ack(sock_);
  if (err >= 0) return {};
  return std::string(add ? "add" : "remove") + " rule to table " + std::to_string(r.table) + ": " + nl_geterror(err);
}

std::string NetlinkConfig::add_rule(const Rule& r) {
  auto err = rule_message(r, true);
  if (err.empty()) rules_.push_back(r);
  return err;
}

int NetlinkConfig::delete_rules_for_table(std::uint32_t table) {
  // A rule is deleted by its selectors; "lookup TABLE" with any of ours matches
  // the first rule of that table each time, so repeat until none is left.
  int n = 0;
  for (const int family : {AF_INET, AF_INET6}) {
    for (int i = 0; i < 16; ++i) {
      Rule r;
      r.family = family;
      r.table = table;
      if (!rule_message(r, false).empty()) break;
      ++n;
    }
  }
  return n;
}

void NetlinkConfig::remove_all() {
  for (auto it = rules_.rbegin(); it != rules_.rend(); ++it) rule_message(*it, false);
  rules_.clear();
  // Routes first, then addresses; most recent first. Errors are expected when
  // the device is already gone (its routes went with it), so they are ignored.
  for (auto it = added_.rbegin(); it != added_.rend(); ++it) apply(*it, false);
  added_.clear();
}

std::string NetlinkConfig::apply(const Added& a, bool add) {
  int err = 0;
  if (!a.is_route) {
    rtnl_addr* addr = rtnl_addr_alloc();
    auto local = make_addr(a.family, a.addr, a.prefix_len);
    rtnl_addr_set_ifindex(addr, a.ifindex);
    rtnl_addr_set_local(addr, local.get());
    rtnl_addr_set_prefixlen(addr, a.prefix_len);
    if (a.family == AF_INET6) rtnl_addr_set_flags(addr, IFA_F_NODAD);  // a tunnel has no neighbours to ask
    err = add ? rtnl_addr_add(sock_, addr, NLM_F_REPLACE) : rtnl_addr_delete(sock_, addr, 0);
    rtnl_addr_put(addr);
  } else {
    rtnl_route* route = rtnl_route_alloc();
    auto dst = make_addr(a.family, a.addr, a.prefix_len);
    rtnl_route_set_family(route, static_cast<std::uint8_t>(a.family));
    rtnl_route_set_dst(route, dst.get());
    rtnl_route_set_table(route, a.table);
    rtnl_route_set_scope(route, a.family == AF_INET6 ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK);
    rtnl_route_set_protocol(route, a.protocol);
    if (a.src) {
      auto src = make_addr(AF_INET, v4_bytes(a.src), 32);
      rtnl_route_set_pref_src(route, src.get());
    }
    rtnl_nexthop* nh = rtnl_route_nh_alloc();
    rtnl_route_nh_set_ifindex(nh, a.ifindex);
    rtnl_route_add_nexthop(route, nh);  // the route owns nh now
    err = add ? rtnl_route_add(sock_, route, NLM_F_REPLACE | NLM_F_CREATE) : rtnl_route_delete(sock_, route, 0);
    rtnl_route_put(route);
  }
  if (err >= 0) return {};
  return std::string(add ? "add " : "remove ") + (a.is_route ? "route " : "address ") + text(a.family, a.addr) + "/" +
         std::to_string(a.prefix_len) + ": " + nl_geterror(err);
}

}  // namespace tund::daemon
