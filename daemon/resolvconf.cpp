#include "daemon/resolvconf.hpp"

namespace tund::daemon {

std::string resolvconf_fragment(const LinkDns& dns) {
  std::string out;
  for (const auto& s : dns.servers) out += "nameserver " + s.address_string() + "\n";
  std::string search;
  for (const auto& d : dns.domains)
    if (!d.routing_only) search += " " + d.name;
  if (!search.empty()) out += "search" + search + "\n";
  return out;
}

std::vector<std::string> resolvconf_add_argv(const std::string& link, const LinkDns& dns) {
  std::vector<std::string> argv{"resolvconf", "-a", link, "-m", "0"};
  if (dns.exclusive) argv.emplace_back("-x");
  return argv;
}

std::vector<std::string> resolvconf_delete_argv(const std::string& link) { return {"resolvconf", "-d", link, "-f"}; }

}  // namespace tund::daemon
