// Where a hub is: the address its config gives, or every A and AAAA record
// its name resolves to. A name is resolved at start, every
// limits::kResolveInterval, and when the daemon asks (every path to the hub
// dead: it may have moved), never more often than limits::kResolveRetry. A
// failed lookup keeps the addresses already known.
//
// Two ways to look a name up, never blocking the event loop:
//   - the system's (getaddrinfo on Asio's resolver thread), which honours
//     /etc/hosts and nsswitch: the default;
//   - the daemon's own (HubLookupStub), when the kill switch or a full tunnel
//     is on: /etc/hosts, then the network's servers asked from marked sockets
//     (daemon/dns_lookup.hpp), since the system's queries would be dropped by
//     the kill switch or routed into a tunnel that is not up.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "daemon/asio.hpp"
#include "daemon/config_check.hpp"
#include "daemon/dns_lookup.hpp"
#include "daemon/resolver_files.hpp"
#include "tund/endpoint.hpp"
#include "tund/types.hpp"

namespace tund::client {

// The daemon's own lookups, shared by its hubs.
struct HubLookupStub {
  std::uint32_t fwmark = 0;  // the tunnel's: the kill switch lets these out to port 53
  daemon::UpstreamServers upstream;
  std::string hosts_path = "/etc/hosts";
  std::shared_ptr<daemon::dns::Drops> drops = std::make_shared<daemon::dns::Drops>();
};

class HubResolver {
 public:
  // `on_change` runs (in the loop) when the set of addresses changed.
  using OnChange = std::function<void(const std::vector<Endpoint>&)>;
  // `stub`: the daemon's own lookups (outliving this), or null: the system's.
  HubResolver(asio::io_context& io, config::HostPort where, OnChange on_change, HubLookupStub* stub = nullptr);
  ~HubResolver();
  HubResolver(const HubResolver&) = delete;
  HubResolver& operator=(const HubResolver&) = delete;

  const std::vector<Endpoint>& addresses() const { return addresses_; }
  bool is_name() const { return !where_.literal; }
  // The first address of a family (4 or 6), or nothing.
  const Endpoint* first(std::uint8_t family) const;
  // Resolve again soon (rate-limited); a literal address does nothing.
  void resolve_soon();
  std::uint64_t lookups() const { return lookups_; }
  std::uint64_t failures() const { return failures_; }

 private:
  void start_lookup();
  void start_stub_lookup();
  // A lookup's end, either way: the addresses found (any port), or why none.
  void complete(std::vector<Endpoint> found, const std::string& error);
  void arm(std::chrono::steady_clock::duration after);

  config::HostPort where_;
  OnChange on_change_;
  HubLookupStub* stub_;
  asio::io_context& io_;
  asio::ip::udp::resolver resolver_;
  std::unique_ptr<daemon::DnsLookup> lookup_;
  asio::steady_timer timer_;
  // Posted results (/etc/hosts' answer) check it is still alive.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  std::vector<Endpoint> addresses_;
  bool in_flight_ = false;
  std::chrono::steady_clock::time_point last_lookup_{};
  std::uint64_t lookups_ = 0, failures_ = 0;
};

}  // namespace tund::client
