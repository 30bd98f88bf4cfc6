#include "tund/dns_config.hpp"

#include <algorithm>
#include <cctype>

namespace tund::client {

namespace {
bool full_tunnel(const std::vector<HubSettings>& hubs) {
  return std::any_of(hubs.begin(), hubs.end(), [](const auto& h) { return h.ipv4_default || h.ipv6_default; });
}

template <class T>
void add_once(std::vector<T>& to, const T& x) {
  if (std::find(to.begin(), to.end(), x) == to.end()) to.push_back(x);
}
}  // namespace

std::optional<daemon::DnsDomain> parse_dns_domain(std::string_view text) {
  daemon::DnsDomain d;
  if (!text.empty() && text.front() == '~') {
    d.routing_only = true;
    text.remove_prefix(1);
  }
  if (text == ".") {
    if (!d.routing_only) return std::nullopt;  // "." searched would be every short name as is
    d.name = ".";
    return d;
  }
  if (!text.empty() && text.back() == '.') text.remove_suffix(1);
  if (text.empty() || text.size() > 253) return std::nullopt;
  std::size_t label = 0;
  for (const char c : text) {
    if (c == '.') {
      if (label == 0) return std::nullopt;
      label = 0;
    } else if ((!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') || ++label > 63) {
      return std::nullopt;
    }
    d.name += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  if (label == 0) return std::nullopt;
  return d;
}

daemon::LinkDns link_dns(const std::vector<HubSettings>& hubs, const std::vector<bool>& up) {
  daemon::LinkDns out;
  for (std::size_t i = 0; i < hubs.size() && i < up.size(); ++i) {
    if (!up[i]) continue;
    for (const auto& s : hubs[i].dns) add_once(out.servers, s);
    for (const auto& d : hubs[i].dns_domains) add_once(out.domains, d);
  }
  if (out.servers.empty()) return {};
  const daemon::DnsDomain every{".", true};
  const bool all = full_tunnel(hubs) || std::find(out.domains.begin(), out.domains.end(), every) != out.domains.end();
  if (all) add_once(out.domains, every);
  out.exclusive = all;
  out.default_route = all || out.domains.empty();
  return out;
}

bool own_hub_lookups(const ClientSettings& s) { return s.kill_switch || full_tunnel(s.hubs); }

std::vector<Endpoint> tunnel_dns_servers(const std::vector<HubSettings>& hubs) {
  std::vector<Endpoint> out;
  for (const auto& h : hubs)
    for (const auto& s : h.dns) add_once(out, s);
  return out;
}

}  // namespace tund::client
