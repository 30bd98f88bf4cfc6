// The client's DNS keys and what they make of the TUN's DNS (pure: the unit
// tests and the config loader use it; client_netconfig applies it).
//
//   [[hub]] dns = ["10.4.0.53", "fd04::53"]            servers inside the tunnel
//           dns_domains = ["corp.example", "~lab.example"]
//
// A plain domain is a search domain (names under it go to these servers,
// and short names are tried under it); "~name" a routing-only one (names
// under it go to these servers, none is searched), as resolvectl writes them;
// "~." every name. The TUN carries the servers and domains of the hubs whose
// session is up. When a hub's routes make a full tunnel (0.0.0.0/0 or ::/0),
// every name goes to the tunnel's servers ("~." and DefaultRoute=yes for
// systemd-resolved, `resolvconf -x`); otherwise names no domain claims go
// there only when no domain is given (DefaultRoute=yes), else only the
// names under the domains do (split DNS).
#pragma once

#include <optional>
#include <string_view>
#include <vector>

#include "daemon/link_dns.hpp"
#include "tund/client_config.hpp"

namespace tund::client {

// "corp.example", "~corp.example", "~." (a trailing dot allowed, case
// ignored); nothing when it is not a domain (labels of letters, digits, '-'
// and '_', 1 to 63 bytes, 253 in all).
std::optional<daemon::DnsDomain> parse_dns_domain(std::string_view text);

// The TUN's DNS while the hubs in `up` (by slot) have their session.
daemon::LinkDns link_dns(const std::vector<HubSettings>& hubs, const std::vector<bool>& up);

// Whether the daemon looks hub names up itself (tund/hub_resolver.hpp): with
// the kill switch or a full tunnel, the system's queries would be dropped or
// routed into a tunnel that is not up.
bool own_hub_lookups(const ClientSettings& s);

// Every hub's DNS servers: reached through the tunnel, never asked for a hub's name.
std::vector<Endpoint> tunnel_dns_servers(const std::vector<HubSettings>& hubs);

}  // namespace tund::client
