// Where a hub is: the address its config gives, or every A and AAAA record
// its name resolves to. Asio's resolver runs getaddrinfo on a thread of its
// own, so the event loop never waits for DNS (or /etc/hosts). A name is
// resolved at start, every limits::kResolveInterval, and when the daemon asks
// (every path to the hub dead: it may have moved), never more often than
// limits::kResolveRetry. A failed lookup keeps the addresses already known.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "daemon/asio.hpp"
#include "daemon/config_check.hpp"
#include "tund/endpoint.hpp"
#include "tund/types.hpp"

namespace tund::client {

class HubResolver {
 public:
  // `on_change` runs (in the loop) when the set of addresses changed.
  using OnChange = std::function<void(const std::vector<Endpoint>&)>;
  HubResolver(asio::io_context& io, config::HostPort where, OnChange on_change);
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
  void arm(std::chrono::steady_clock::duration after);

  config::HostPort where_;
  OnChange on_change_;
  asio::ip::udp::resolver resolver_;
  asio::steady_timer timer_;
  std::vector<Endpoint> addresses_;
  bool in_flight_ = false;
  std::chrono::steady_clock::time_point last_lookup_{};
  std::uint64_t lookups_ = 0, failures_ = 0;
};

}  // namespace tund::client
