// Whether the kernel routes a family between interfaces, as a hub and a LAN
// gateway need (examples/sysctl/60-tund-forwarding.conf). Read, never
// written: turning a host into a router is its administrator's choice, so
// the daemons only warn.
#pragma once

#include <string>

namespace tund::daemon {

// The sysctl for family 4 or 6: "net.ipv4.ip_forward",
// "net.ipv6.conf.all.forwarding".
std::string forwarding_sysctl(int family);

// Whether that sysctl is 1, read from its file under proc_sys (tests point it
// at a directory of their own). A file that cannot be read counts as off.
bool forwarding_on(int family, const std::string& proc_sys = "/proc/sys");

}  // namespace tund::daemon
