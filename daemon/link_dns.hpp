// What a link's DNS should be (the tunnel's servers and domains), as plain
// data: tund/dns_config.hpp makes it from the config, daemon/resolved_link
// and daemon/resolvconf say it to the system (link_dns_setter picks which).
#pragma once

#include <string>
#include <vector>

#include "tund/endpoint.hpp"

namespace tund::daemon {

struct DnsDomain {
  std::string name;           // "corp.example" (no trailing dot), or "." for every name
  bool routing_only = false;  // "~corp.example": names under it go to the link's servers, none searched
  bool operator==(const DnsDomain&) const = default;
  std::string to_string() const { return (routing_only ? "~" : "") + name; }
};

struct LinkDns {
  std::vector<Endpoint> servers;   // addresses, port 0
  std::vector<DnsDomain> domains;  // search and routing domains, in order
  // systemd-resolved's DefaultRoute=: names that no link's domains claim may
  // go to these servers too.
  bool default_route = false;
  // A full tunnel: every name goes to these servers alone ("~." for
  // systemd-resolved, `resolvconf -x` for resolvconf).
  bool exclusive = false;
  bool empty() const { return servers.empty(); }
  bool operator==(const LinkDns&) const = default;
  std::string to_string() const;  // "10.4.0.53, fd04::53; ~corp.example, ~."
};

inline std::string LinkDns::to_string() const {
  std::string s;
  for (const auto& a : servers) s += (s.empty() ? "" : ", ") + a.address_string();
  std::string d;
  for (const auto& x : domains) d += (d.empty() ? "" : ", ") + x.to_string();
  return s + (d.empty() ? "" : "; " + d);
}

}  // namespace tund::daemon
