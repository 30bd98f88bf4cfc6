// The system's resolver files, read for the daemon's own lookups of hub
// names (daemon/dns_lookup.hpp): which servers the physical network offers
// (resolv.conf's nameserver lines) and what /etc/hosts pins. Text in, data
// out; at most limits::kResolverFileMax bytes of a file are read.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tund/endpoint.hpp"

namespace tund::daemon {

// The nameserver lines of a resolv.conf, in order, port 53; lines that are
// not an address (a scoped "fe80::1%eth0" among them) are skipped.
std::vector<Endpoint> resolv_conf_servers(std::string_view text);

// The addresses /etc/hosts gives `name` (canonical names and aliases, case
// ignored), in file order, port 0.
std::vector<Endpoint> hosts_addresses(std::string_view text, std::string_view name);

// At most limits::kResolverFileMax bytes of `path`; nothing if it cannot be read.
std::optional<std::string> read_resolver_file(const std::string& path);

// The servers of the network outside the tunnel. systemd-resolved's own list
// of upstream servers (/run/systemd/resolve/resolv.conf) where it runs, else
// /etc/resolv.conf; never resolved's stubs (127.0.0.53, 127.0.0.54: their
// upstreams are the list itself) nor the tunnel's own servers (`exclude`:
// they are reached through the tunnel, and a resolver may list them once the
// tunnel's DNS is set). When the files name none of the rest (resolvconf
// made the tunnel's servers exclusive), the last list that had some.
class UpstreamServers {
 public:
  struct Paths {
    std::string resolved = "/run/systemd/resolve/resolv.conf";
    std::string resolv_conf = "/etc/resolv.conf";
  };
  UpstreamServers() = default;
  explicit UpstreamServers(Paths paths) : paths_(std::move(paths)) {}
  void exclude(std::vector<Endpoint> own) { exclude_ = std::move(own); }
  // At most limits::kDnsMaxUpstreams, read afresh (the network may have changed).
  std::vector<Endpoint> current();
  // Where the last list came from ("/etc/resolv.conf", or "... (remembered)").
  const std::string& source() const { return source_; }

 private:
  Paths paths_;
  std::vector<Endpoint> exclude_;
  std::vector<Endpoint> last_;
  std::string source_;
};

}  // namespace tund::daemon
