// A link's DNS through systemd-resolved, over the system bus
// (org.freedesktop.resolve1(5), the Manager object's per-link calls):
//   SetLinkDNS(i ifindex, a(iay) addresses)        (AF_INET/AF_INET6, address bytes)
//   SetLinkDomains(i ifindex, a(sb) domains)       (name, routing only)
//   SetLinkDefaultRoute(i ifindex, b enable)
//   RevertLink(i ifindex)                          (forget all of it)
// resolved lets a caller with CAP_NET_ADMIN make these calls (the daemon has
// it). It forgets a link's settings by itself when the link goes away.
// Inside the caller's Asio loop (daemon/sd_bus_loop.hpp), one operation at
// a time; revert_now waits, for a stop.
#pragma once

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "daemon/asio.hpp"
#include "daemon/link_dns.hpp"
#include "daemon/sd_bus_loop.hpp"

namespace tund::daemon {

// What the calls carry (pure: the unit tests read it).
struct ResolvedPlan {
  std::vector<std::pair<int, std::vector<std::uint8_t>>> dns;  // SetLinkDNS: (AF_INET or AF_INET6, bytes)
  std::vector<std::pair<std::string, bool>> domains;           // SetLinkDomains: (name, routing only)
  bool default_route = false;                                  // SetLinkDefaultRoute
  bool operator==(const ResolvedPlan&) const = default;
};
ResolvedPlan resolved_plan(const LinkDns& dns);

class ResolvedLink {
 public:
  // `absent`: resolved is not there to ask (no system bus, or nobody owns
  // org.freedesktop.resolve1): another way may do. Otherwise it refused.
  using Done = std::function<void(bool ok, bool absent, const std::string& error)>;
  explicit ResolvedLink(asio::io_context& io);
  ResolvedLink(const ResolvedLink&) = delete;
  ResolvedLink& operator=(const ResolvedLink&) = delete;

  // The three Set calls in turn; `done` (on the loop) after the last answer
  // or at the first error. One operation at a time: the next only after the
  // last one's `done` ran (daemon/link_dns_setter.hpp keeps to that).
  void set(int ifindex, const ResolvedPlan& plan, Done done);
  void revert(int ifindex, Done done);
  // RevertLink, waiting at most limits::kDnsRevertTimeout; false and why on failure.
  bool revert_now(int ifindex, std::string& error);

 private:
  enum class Call { kDns, kDomains, kDefaultRoute, kRevert };
  static int on_reply(sd_bus_message* m, void* self, sd_bus_error* error);
  void send_next();
  void end(bool ok, bool absent, const std::string& error);
  int build(Call call, sd_bus_message** m) const;

  asio::io_context& io_;
  BusLoop loop_;
  int ifindex_ = 0;
  ResolvedPlan plan_;
  std::vector<Call> calls_;  // still to send, in order
  std::uint64_t generation_ = 0;  // a posted failure of an operation since ended is ignored
  Done done_;
};

}  // namespace tund::daemon
