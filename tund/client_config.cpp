#include "tund/client_config.hpp"

#include <algorithm>
#include <set>

#include "crypto/primitives.hpp"
#include "daemon/config_files.hpp"
#include "tund/dns_config.hpp"

namespace tund::client {

using namespace config;

std::string client_table_name(const std::string& tun) {
  std::string n = "tund_";
  for (char c : tun) n += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  return n;
}

std::string guard_table_name(const std::string& tun) { return client_table_name(tun) + "_guard"; }

namespace {

// [[hub]] dns and dns_domains (tund/dns_config.hpp).
void read_hub_dns(const toml::value& h, HubSettings& hub) {
  if (const auto* at = find(h, "dns")) {
    const auto list = get_string_array(h, "dns");
    if (list.size() > limits::kMaxDnsServers)
      fail(*at, "dns: at most " + std::to_string(limits::kMaxDnsServers) + " servers");
    for (const auto& text : list) {
      const auto ip = parse_ip(text);
      if (!ip || ip->unspecified()) fail(*at, "dns '" + text + "' is not a server's address like 10.4.0.53 or fd04::53");
      if (std::find(hub.dns.begin(), hub.dns.end(), *ip) != hub.dns.end()) fail(*at, "dns '" + text + "' is given twice");
      hub.dns.push_back(*ip);
    }
  }
  if (const auto* at = find(h, "dns_domains")) {
    const auto list = get_string_array(h, "dns_domains");
    if (list.size() > limits::kMaxDnsDomains)
      fail(*at, "dns_domains: at most " + std::to_string(limits::kMaxDnsDomains) + " domains");
    if (!list.empty() && hub.dns.empty()) fail(*at, "dns_domains needs dns: the servers that answer for them");
    for (const auto& text : list) {
      const auto d = parse_dns_domain(text);
      if (!d) fail(*at, "dns_domains '" + text + "' is not a domain like corp.example, ~corp.example (routing only) or ~.");
      if (std::find(hub.dns_domains.begin(), hub.dns_domains.end(), *d) != hub.dns_domains.end())
        fail(*at, "dns_domains '" + text + "' is given twice");
      hub.dns_domains.push_back(*d);
    }
  }
}

}  // namespace

namespace {
ClientSettings read_client_config(const toml::value& root, const std::string& path, const std::optional<std::string>& instance);
}  // namespace

ClientSettings load_client_config(const std::string& path) { return load_client_config(path, instance_name(path)); }

ClientSettings load_client_config(const std::string& path, const std::optional<std::string>& instance) {
  return read_client_config(parse_file(path), path, instance);
}

ClientSettings load_client_config_text(const std::string& text, const std::string& origin) {
  return read_client_config(parse_text(text, origin), origin, std::nullopt);
}

namespace {

ClientSettings read_client_config(const toml::value& root, const std::string& path, const std::optional<std::string>& instance) {
  check_keys(root, {"private_key_file", "private_key", "control_socket", "fwmark", "tun", "hub", "uplinks", "handover", "performance", "metrics_listen", "gateway", "kill_switch", "kill_switch_allow", "ipv6_outside"}, "the top level");
  ClientSettings s;
  s.config_path = path;
  if (instance) {
    s.control_socket = "/run/tund/" + *instance + ".sock";
    // Only when the file names no TUN: a warning about a default it overrides would mislead.
    const auto* tun = get_optional_table(root, "tun");
    if (valid_interface_name(*instance))
      s.tun_name = *instance;
    else if (!tun || !find(*tun, "name"))
      s.warnings.push_back(path + ": the instance name '" + *instance + "' cannot name its TUN (" + kInterfaceNameRule + "), so it is " +
                   s.tun_name + "; set [tun] name to run another such instance beside it");
  }
  // The key in its own file (as `tund genkey` writes it), or inline (as
  // `tund-hub add-client` prints a whole config): exactly one of the two.
  const auto* key_file = find(root, "private_key_file");
  const auto* key_inline = find(root, "private_key");
  if (key_file && key_inline) fail(*key_inline, "give private_key or private_key_file, not both");
  if (key_inline) {
    const auto text = get_string(root, "private_key");
    if (!crypto::key_from_base64(text, s.private_key)) fail(*key_inline, "private_key is not a base64 32-byte key");
  } else {
    if (!key_file) fail(root, "private_key_file (or private_key) is required");
    s.private_key = load_private_key(*key_file, path, get_string(root, "private_key_file"));
  }
  if (auto cs = get_optional_string(root, "control_socket")) s.control_socket = *cs;
  if (auto m = get_optional_int(root, "fwmark", 1, 0xffffffffll)) s.fwmark = static_cast<std::uint32_t>(*m);

  if (const auto* up = get_optional_table(root, "uplinks")) {
    check_keys(*up, {"prefer", "avoid", "metered", "max_rtt_ms", "max_loss", "hold_down_ms", "idle_after_ms", "idle_keepalive_ms", "idle_standby_probe_ms", "redundant", "mode", "tiers", "bond_metered"}, "[uplinks]");
    if (auto m = get_optional_string(*up, "mode")) {
      if (*m == "bond") s.uplinks.mode = session::UplinkMode::kBond;
      else if (*m != "failover") fail(*find(*up, "mode"), "mode must be \"failover\" or \"bond\", not \"" + *m + "\"");
    }
    if (auto b = get_optional_bool(*up, "bond_metered")) s.uplinks.bond_metered = *b;
    // tiers = { primary = [globs], secondary = [...], backup = [...], never = [...] }:
    // the most restrictive tier whose globs match an uplink wins (so a broad
    // primary glob never overrides a named exclusion), whatever the order.
    if (const auto* tiers = get_optional_table(*up, "tiers")) {
      check_keys(*tiers, {"primary", "secondary", "backup", "never"}, "[uplinks.tiers]");
      for (const auto tier : {session::UplinkTier::kNever, session::UplinkTier::kBackup, session::UplinkTier::kSecondary,
                              session::UplinkTier::kPrimary})
        for (auto& glob : get_string_array(*tiers, session::to_string(tier))) s.uplinks.tiers.emplace_back(std::move(glob), tier);
    }
    s.redundant = read_redundant(*up, "redundant");
    if (find(*up, "prefer")) s.uplinks.prefer = get_string_array(*up, "prefer");
    if (find(*up, "avoid")) s.uplinks.avoid = get_string_array(*up, "avoid");
    if (find(*up, "metered")) {
      s.uplinks.metered = get_string_array(*up, "metered");
      s.uplinks.metered_configured = true;
    }
    if (auto v = get_optional_int(*up, "max_rtt_ms", 1, 60000)) s.uplinks.max_rtt = std::chrono::milliseconds(*v);
    if (auto v = get_optional_number(*up, "max_loss", 0.0, 1.0)) s.uplinks.max_loss = *v;
    if (auto v = get_optional_int(*up, "hold_down_ms", 0, 600000)) s.uplinks.hold_down = std::chrono::milliseconds(*v);
    if (auto v = get_optional_int(*up, "idle_after_ms", 1000, 86400000)) s.idle.after = std::chrono::milliseconds(*v);
    if (auto v = get_optional_int(*up, "idle_keepalive_ms", 1000, 3600000)) s.idle.keepalive = std::chrono::milliseconds(*v);
    if (auto v = get_optional_int(*up, "idle_standby_probe_ms", 0, 86400000))
      s.idle.standby_probe = std::chrono::milliseconds(*v);
  }

  if (const auto* tun = get_optional_table(root, "tun")) {
    check_keys(*tun, {"name", "mtu"}, "[tun]");
    if (auto n = get_optional_string(*tun, "name")) {
      if (!valid_interface_name(*n)) fail(*find(*tun, "name"), kInterfaceNameRule);
      s.tun_name = *n;
    }
    if (auto m = get_optional_int(*tun, "mtu", 576, 65000)) s.mtu = static_cast<unsigned>(*m);
  }

  ResendSettings rs{s.resend.max_bytes, s.resend.max_packets,
                    static_cast<std::size_t>(std::chrono::duration_cast<std::chrono::milliseconds>(s.resend.max_age).count()), 0, {}};
  read_handover_table(root, false, rs);
  s.resend = {rs.max_bytes, rs.max_packets, std::chrono::milliseconds(rs.max_age_ms)};

  s.data_path = read_performance_table(root);
  s.metrics_listen = read_metrics_listen(root);
  if (const auto* ks = find(root, "kill_switch")) {
    if (!ks->is_boolean()) fail(*ks, "kill_switch must be true or false");
    s.kill_switch = ks->as_boolean();
  }
  if (auto v = get_optional_bool(root, "ipv6_outside")) s.ipv6_outside = *v;
  if (const auto* allow = find(root, "kill_switch_allow")) {
    for (const auto& a : get_string_array(root, "kill_switch_allow")) {
      const auto p = parse_prefix(a, false);
      if (!p) fail(*allow, "kill_switch_allow '" + a + "' is not an IPv4 prefix like 192.168.1.0/24");
      s.kill_switch_allow.push_back(*p);
    }
  }
  if (const auto* gw = get_optional_table(root, "gateway")) {
    check_keys(*gw, {"lan", "masquerade"}, "[gateway]");
    for (const auto& l : get_string_array(*gw, "lan")) {
      if (const auto p = parse_prefix(l, false)) {
        s.gateway.lan.push_back(*p);
      } else if (const auto p6 = parse_prefix6(l, false)) {
        s.gateway.lan6.push_back(*p6);
      } else {
        fail(*find(*gw, "lan"), "lan '" + l + "' is not a prefix like 192.168.50.0/24 or fd50::/64");
      }
    }
    if (const auto* m = find(*gw, "masquerade")) {
      if (!m->is_boolean()) fail(*m, "masquerade must be true or false");
      s.gateway.masquerade = m->as_boolean();
    }
  }

  const auto hubs = get_table_array(root, "hub");
  if (hubs.empty()) fail_file(path, "at least one [[hub]] is required");
  std::set<std::string> names;
  for (const auto& h : hubs) {
    check_keys(h, {"name", "endpoint", "endpoints", "public_key", "routes", "persistent_keepalive", "max_vip_subnet", "dns", "dns_domains"}, "[[hub]]");
    HubSettings hub;
    hub.name = get_string(h, "name");
    if (!names.insert(hub.name).second) fail(*find(h, "name"), "hub name '" + hub.name + "' is used twice");
    // One hub, or the members of one cluster (one session at a time, to the
    // member rendezvous hashing picks; they share the cluster's key).
    const bool cluster = find(h, "endpoints") != nullptr;
    if (cluster == (find(h, "endpoint") != nullptr))
      fail(h, "[[hub]] needs 'endpoint' (one hub) or 'endpoints' (a cluster's members), not both");
    const char* field = cluster ? "endpoints" : "endpoint";
    const auto list = cluster ? get_string_array(h, "endpoints") : std::vector<std::string>{get_string(h, "endpoint")};
    if (list.empty() || list.size() > limits::kMaxClusterMembers)
      fail(*find(h, field), "endpoints: 1 to " + std::to_string(limits::kMaxClusterMembers) + " members");
    for (const auto& ep : list) {
      const auto endpoint = parse_host_port(ep);
      if (!endpoint || endpoint->port == 0)
        fail(*find(h, field), "endpoint '" + ep + "' is not ip:port, [ipv6]:port or name:port");
      if (endpoint->literal && endpoint->literal->unspecified())
        fail(*find(h, field), "endpoint '" + ep + "' is a wildcard address, not a hub's");
      hub.endpoints.push_back(*endpoint);
    }
    hub.endpoint = hub.endpoints.front();
    const auto key = get_string(h, "public_key");
    hub.public_key = parse_public_key(*find(h, "public_key"), key);
    if (const auto* routes = find(h, "routes")) {
      for (const auto& r : get_string_array(h, "routes")) {
        if (const auto p = parse_prefix(r, false)) {
          if (p->len == 0) hub.ipv4_default = true;
          hub.routes.push_back(*p);
        } else if (const auto p6 = parse_prefix6(r, false)) {
          // "::/0" also keeps IPv6 from leaking outside the tunnel (the leak guard).
          if (p6->len == 0) hub.ipv6_default = true;
          hub.routes6.push_back(*p6);
        } else {
          fail(*routes, "route '" + r + "' is not a prefix like 10.4.0.0/24 or fd04::/64");
        }
      }
    }
    if (auto k = get_optional_int(h, "persistent_keepalive", 0, 3600)) hub.persistent_keepalive_s = static_cast<unsigned>(*k);
    if (auto k = get_optional_int(h, "max_vip_subnet", 8, 32)) hub.min_vip_prefix = static_cast<std::uint8_t>(*k);
    read_hub_dns(h, hub);
    s.hubs.push_back(std::move(hub));
  }
  return s;
}

}  // namespace

}  // namespace tund::client
