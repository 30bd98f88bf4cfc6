// A link's DNS through resolvconf(8), where systemd-resolved is absent, as
// wg-quick does it: `resolvconf -a LINK -m 0 [-x]` with a resolv.conf
// fragment on standard input, `resolvconf -d LINK -f` to remove it
// (openresolv's options: -m 0 puts the link's servers first, -x makes them
// the only ones, for a full tunnel, as "~." does in systemd-resolved).
// resolv.conf has no routing domains: "~name" domains are left out of the
// fragment, and the search line carries the plain ones. Run through
// daemon/child_process (no shell).
#pragma once

#include <string>
#include <vector>

#include "daemon/link_dns.hpp"

namespace tund::daemon {

std::string resolvconf_fragment(const LinkDns& dns);
std::vector<std::string> resolvconf_add_argv(const std::string& link, const LinkDns& dns);
std::vector<std::string> resolvconf_delete_argv(const std::string& link);

}  // namespace tund::daemon
