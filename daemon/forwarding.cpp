#include "daemon/forwarding.hpp"

#include <algorithm>
#include <fstream>

namespace tund::daemon {

std::string forwarding_sysctl(int family) {
  return family == 6 ? "net.ipv6.conf.all.forwarding" : "net.ipv4.ip_forward";
}

bool forwarding_on(int family, const std::string& proc_sys) {
  auto path = forwarding_sysctl(family);
  std::replace(path.begin(), path.end(), '.', '/');  // as sysctl(8) maps names to files
  std::ifstream f(proc_sys + "/" + path);
  int v = 0;
  return (f >> v) && v == 1;
}

}  // namespace tund::daemon
