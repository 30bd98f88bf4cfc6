#include "netmon/link_monitor.hpp"

#include <arpa/inet.h>
#include <fnmatch.h>
#include <linux/if_addr.h>
#include <linux/if_arp.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/route.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <cstring>
#include <map>
#include <stdexcept>

namespace tund::netmon {

const char* to_string(UplinkKind k) {
  switch (k) {
    case UplinkKind::kEthernet: return "ethernet";
    case UplinkKind::kWifi: return "wifi";
    case UplinkKind::kCellular: return "cellular";
    case UplinkKind::kOther: return "other";
  }
  return "other";
}

UplinkKind detect_kind(const std::string& name) {
  const std::filesystem::path sys = std::filesystem::path("/sys/class/net") / name;
  std::error_code ec;
  if (std::filesystem::exists(sys / "wireless", ec) || std::filesystem::exists(sys / "phy80211", ec))
    return UplinkKind::kWifi;
  std::ifstream uevent(sys / "uevent");
  for (std::string line; std::getline(uevent, line);) {
    if (line == "DEVTYPE=wlan") return UplinkKind::kWifi;
    if (line == "DEVTYPE=wwan") return UplinkKind::kCellular;
  }
  for (const char* g : {"wlan*", "wl*"})
    if (fnmatch(g, name.c_str(), 0) == 0) return UplinkKind::kWifi;
  for (const char* g : {"wwan*", "lte*", "rmnet*", "ppp*", "usb*"})
    if (fnmatch(g, name.c_str(), 0) == 0) return UplinkKind::kCellular;
  std::ifstream type(sys / "type");
  int arptype = 0;
  if (type >> arptype && arptype == ARPHRD_ETHER) return UplinkKind::kEthernet;
  return UplinkKind::kOther;
}

LinkMonitor::LinkMonitor(asio::io_context& io, std::vector<std::string> exclude, OnChange on_change,
                         std::chrono::milliseconds refresh_period)
    : exclude_(std::move(exclude)), on_change_(std::move(on_change)), period_(refresh_period), fd_(io), timer_(io) {
  events_ = nl_socket_alloc();
  query_ = nl_socket_alloc();
  if (!events_ || !query_ || nl_connect(events_, NETLINK_ROUTE) < 0 || nl_connect(query_, NETLINK_ROUTE) < 0)
    throw std::runtime_error("cannot open rtnetlink sockets");
  // Subscribe before the first dump so no change falls between the two.
  nl_socket_disable_seq_check(events_);
  nl_socket_set_buffer_size(events_, 1 << 20, 0);
  nl_socket_add_memberships(events_, RTNLGRP_LINK, RTNLGRP_IPV4_IFADDR, RTNLGRP_IPV6_IFADDR,
                            RTNLGRP_IPV4_ROUTE, RTNLGRP_IPV6_ROUTE, 0);
  nl_socket_set_nonblocking(events_);
  // Every event only says "something changed": the callback stops parsing.
  nl_socket_modify_cb(events_, NL_CB_VALID, NL_CB_CUSTOM, [](nl_msg*, void*) -> int { return NL_SKIP; }, nullptr);
  fd_.assign(::dup(nl_socket_get_fd(events_)));
  table_ = dump();
  wait_events();
  arm_periodic();
}

LinkMonitor::~LinkMonitor() {
  boost::system::error_code ec;
  timer_.cancel();
  fd_.cancel(ec);
  if (events_) nl_socket_free(events_);
  if (query_) nl_socket_free(query_);
}

void LinkMonitor::wait_events() {
  fd_.async_wait(asio::posix::stream_descriptor::wait_read, [this](boost::system::error_code ec) {
    if (ec) return;
    // Read what is pending, then rebuild once (a burst is one refresh). An
    // error (-NLE_NOMEM is ENOBUFS: events were lost) needs nothing more: the
    // full dump below covers whatever was missed.
    (void)nl_recvmsgs_default(events_);
    refresh();
    wait_events();
  });
}

void LinkMonitor::arm_periodic() {
  timer_.expires_after(period_);
  timer_.async_wait([this](boost::system::error_code ec) {
    if (ec) return;
    refresh();
    arm_periodic();
  });
}

void LinkMonitor::refresh() {
  auto fresh = dump();
  if (fresh == table_) return;
  table_ = std::move(fresh);
  on_change_(table_);
}

UplinkTable LinkMonitor::dump() const {
  std::map<int, Uplink> by_index;
  nl_cache* links = nullptr;
  nl_cache* addrs = nullptr;
  nl_cache* routes = nullptr;
  if (rtnl_link_alloc_cache(query_, AF_UNSPEC, &links) < 0) return table_;
  for (nl_object* o = nl_cache_get_first(links); o; o = nl_cache_get_next(o)) {
    auto* l = reinterpret_cast<rtnl_link*>(o);
    const std::string name = rtnl_link_get_name(l) ? rtnl_link_get_name(l) : "";
    const unsigned flags = rtnl_link_get_flags(l);
    const unsigned arptype = rtnl_link_get_arptype(l);
    if (flags & IFF_LOOPBACK || arptype == ARPHRD_NONE || arptype == ARPHRD_LOOPBACK) continue;
    bool excluded = false;
    for (const auto& g : exclude_) excluded = excluded || fnmatch(g.c_str(), name.c_str(), 0) == 0;
    if (excluded) continue;
    Uplink u;
    u.name = name;
    u.ifindex = rtnl_link_get_ifindex(l);
    const auto oper = rtnl_link_get_operstate(l);
    u.up = (flags & IFF_UP) && (flags & IFF_LOWER_UP) && (oper == IF_OPER_UP || oper == IF_OPER_UNKNOWN);
    u.kind = detect_kind(name);
    u.mtu = rtnl_link_get_mtu(l);
    by_index[u.ifindex] = u;
  }
  nl_cache_free(links);

  if (rtnl_addr_alloc_cache(query_, &addrs) >= 0) {
    for (nl_object* o = nl_cache_get_first(addrs); o; o = nl_cache_get_next(o)) {
      auto* a = reinterpret_cast<rtnl_addr*>(o);
      const auto it = by_index.find(rtnl_addr_get_ifindex(a));
      nl_addr* local = rtnl_addr_get_local(a);
      if (it == by_index.end() || !local) continue;
      char buf[128];
      nl_addr2str(local, buf, sizeof buf);
      std::string text = buf;
      if (text.find('/') == std::string::npos) text += "/" + std::to_string(rtnl_addr_get_prefixlen(a));
      it->second.addresses.push_back(text);
      if (rtnl_addr_get_family(a) == AF_INET && nl_addr_get_len(local) == 4) {
        std::uint32_t be;
        std::memcpy(&be, nl_addr_get_binary_addr(local), 4);
        it->second.ipv4.push_back(ntohl(be));
      }
      // An IPv6 source needs global scope and finished duplicate detection
      // (a tentative address cannot send yet; the kernel tells us when it can).
      const unsigned unready = IFA_F_TENTATIVE | IFA_F_DADFAILED;
      if (rtnl_addr_get_family(a) == AF_INET6 && nl_addr_get_len(local) == 16 &&
          rtnl_addr_get_scope(a) == RT_SCOPE_UNIVERSE && !(rtnl_addr_get_flags(a) & unready)) {
        std::array<std::uint8_t, 16> v6;
        std::memcpy(v6.data(), nl_addr_get_binary_addr(local), 16);
        it->second.ipv6.push_back(v6);
      }
    }
    nl_cache_free(addrs);
  }

  // Default routes of the main table, per family: the lowest metric wins.
  for (const int family : {AF_INET, AF_INET6}) {
    if (rtnl_route_alloc_cache(query_, family, 0, &routes) < 0) continue;
    for (nl_object* o = nl_cache_get_first(routes); o; o = nl_cache_get_next(o)) {
      auto* r = reinterpret_cast<rtnl_route*>(o);
      nl_addr* dst = rtnl_route_get_dst(r);
      if (rtnl_route_get_table(r) != RT_TABLE_MAIN || (dst && nl_addr_get_prefixlen(dst) != 0)) continue;
      if (rtnl_route_get_type(r) != RTN_UNICAST) continue;  // not "unreachable default"
      for (int i = 0; i < rtnl_route_get_nnexthops(r); ++i) {
        rtnl_nexthop* nh = rtnl_route_nexthop_n(r, i);
        const auto it = by_index.find(rtnl_route_nh_get_ifindex(nh));
        if (it == by_index.end()) continue;
        Uplink& u = it->second;
        bool& has = family == AF_INET ? u.has_default_route : u.has_default_route6;
        std::string& gateway = family == AF_INET ? u.gateway : u.gateway6;
        const std::uint32_t metric = rtnl_route_get_priority(r);
        if (has && family == AF_INET && metric >= u.route_metric) continue;
        if (has && family == AF_INET6) continue;
        has = true;
        if (family == AF_INET) u.route_metric = metric;
        gateway.clear();
        if (nl_addr* gw = rtnl_route_nh_get_gateway(nh)) {
          char buf[64];
          gateway = nl_addr2str(gw, buf, sizeof buf);
        }
      }
    }
    nl_cache_free(routes);
    routes = nullptr;
  }

  UplinkTable out;
  for (auto& [idx, u] : by_index) {
    std::sort(u.addresses.begin(), u.addresses.end());
    std::sort(u.ipv4.begin(), u.ipv4.end());
    std::sort(u.ipv6.begin(), u.ipv6.end());
    out.push_back(std::move(u));
  }
  return out;
}

}  // namespace tund::netmon
