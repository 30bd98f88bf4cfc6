// One lookup of a name by the daemon itself, for a hub given by name while
// the kill switch or a full tunnel is on: getaddrinfo's queries would then
// be dropped by the kill switch or routed into the tunnel, which is not up
// yet (or is down: the reason to look the hub up again). So the A and AAAA
// questions go from sockets that carry the tunnel's fwmark (as its UDP
// does: only the daemon can set it), which the full tunnel's rules leave to
// the main table and the kill switch lets out to port 53, to the servers of
// the network outside (daemon/resolver_files.hpp), one server at a time, each
// given limits::kDnsTimeout. Each socket is connected to its server, so the
// kernel drops datagrams from anyone else; what does arrive is read by
// daemon/dns_message.hpp, and a refused answer is counted and waited past.
//
// `done` runs once, on the loop, never from the constructor; destroying the
// lookup cancels it (done never runs after that). A NOERROR or NXDOMAIN with
// no address ends the lookup (the next server would say the same); a server
// failure, a refusal or silence moves to the next server.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "daemon/asio.hpp"
#include "daemon/dns_message.hpp"
#include "tund/endpoint.hpp"

namespace tund::daemon {

class DnsLookup {
 public:
  // Addresses (port 0), or none and why.
  using Done = std::function<void(std::vector<Endpoint> addresses, std::string error)>;
  DnsLookup(asio::io_context& io, std::string name, std::vector<Endpoint> servers, std::uint32_t fwmark,
            std::shared_ptr<dns::Drops> drops, Done done);
  ~DnsLookup();
  DnsLookup(const DnsLookup&) = delete;
  DnsLookup& operator=(const DnsLookup&) = delete;

 private:
  struct State;
  std::shared_ptr<State> state_;
};

}  // namespace tund::daemon
