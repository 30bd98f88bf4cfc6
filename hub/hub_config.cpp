#include "hub/hub_config.hpp"

#include <algorithm>
#include <charconv>
#include <set>

#include "hub/vip_pool.hpp"
#include "crypto/primitives.hpp"
#include "daemon/config_files.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>

namespace tund::hub {

using namespace config;

std::string lease_file(const HubSettings& s) { return s.state_directory + "/leases-" + s.tun_name; }

namespace {

// The pool address an IPv6 VIP was derived from (derived_vip6's inverse),
// when it lies in the hub's IPv6 prefix.
std::optional<std::uint32_t> pool_address_of(const std::array<std::uint8_t, 16>& vip6, const HubSettings& s) {
  if (!s.tun_address6 || !s.tun_address6->contains(vip6)) return std::nullopt;
  const std::uint32_t host_mask = ~prefix_mask_v4(s.vip_pool.len);
  return (s.vip_pool.addr & ~host_mask) | (load_be32(vip6.data() + 12) & host_mask);
}

}  // namespace

std::map<PublicKey, std::uint32_t> read_leases(const HubSettings& s) {
  std::map<PublicKey, std::uint32_t> out;
  std::ifstream in(lease_file(s));
  std::string key, vip;
  // A line a later version wrote differently, or a torn one, is skipped: a
  // lease is a preference, the config is the authority. An IPv6 VIP is the
  // lease of a hub with IPv6 alone inside.
  while (in >> key >> vip) {
    PublicKey k;
    if (!crypto::key_from_base64(key, k)) continue;
    if (s.tun_address) {
      if (const auto ip = config::parse_ipv4(vip)) out[k] = *ip;
    } else if (const auto p6 = config::parse_prefix6(vip, false); p6 && p6->len == 128) {
      if (const auto ip = pool_address_of(p6->addr, s)) out[k] = *ip;
    }
  }
  return out;
}

std::string write_leases(const HubSettings& s) {
  std::error_code ec;
  std::filesystem::create_directories(s.state_directory, ec);  // systemd makes it; by hand, we do
  const std::string path = lease_file(s), tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    for (const auto& c : s.clients)
      out << crypto::key_to_base64(c.public_key) << " "
          << (s.tun_address ? config::ipv4_to_string(c.vip) : config::Prefix6{c.vip6, 128}.address_string()) << "\n";
    out.flush();
    if (!out) return "cannot write " + tmp + ": " + std::strerror(errno);
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) return "cannot rename " + tmp + ": " + std::strerror(errno);
  return {};
}

std::string client_file(const HubSettings& s, const std::string& name) {
  return s.clients_directory + "/" + name + ".toml";
}

namespace {

// The drop-in files: NAME.toml, sorted; hidden and other files are skipped
// (editors' and add-client's temporary files). No directory: none.
std::vector<std::string> client_files(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const auto name = it->path().filename().string();
    if (name.empty() || name[0] == '.' || it->path().extension() != ".toml") continue;
    if (!it->is_regular_file(ec)) continue;
    out.push_back(it->path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

// "644": a file's permission bits, as chmod takes them.
std::string mode_text(mode_t mode) {
  return std::to_string((mode >> 6) & 7) + std::to_string((mode >> 3) & 7) + std::to_string(mode & 7);
}

// A drop-in decides who may connect and with which VIP: one that someone
// other than root or the hub's own user could have written is refused, as
// sshd refuses an authorized_keys file writable by others. So is the
// directory: whoever may write there may add or replace files (a sticky
// directory still lets anyone add one).
void check_drop_in_owner(const std::string& file) {
  struct stat st {};
  if (::stat(file.c_str(), &st) != 0) fail_file(file, std::string("cannot read its owner and mode: ") + std::strerror(errno));
  if (st.st_mode & (S_IWGRP | S_IWOTH))
    fail_file(file, "writable by group or others (mode " + mode_text(st.st_mode) + "): refused; chmod go-w it");
  if (st.st_uid != 0 && st.st_uid != ::geteuid())
    fail_file(file, "owned by uid " + std::to_string(st.st_uid) + ", neither root nor this user: refused");
}

// A file named in the config, relative to the config's directory.
std::string beside_config(const std::string& config_path, const std::string& file) {
  std::filesystem::path p(file);
  if (p.is_relative()) p = std::filesystem::path(config_path).parent_path() / p;
  return p.lexically_normal().string();
}

// A secret's file (a private key, a password): refused when group or others
// may open it, as ssh refuses a private key they can read.
void check_secret_file(const toml::value& at, const std::string& file) {
  struct stat st {};
  if (::stat(file.c_str(), &st) != 0) fail(at, "cannot read '" + file + "': " + std::strerror(errno));
  if (!S_ISREG(st.st_mode)) fail(at, "'" + file + "' is not a regular file");
  if (st.st_mode & (S_IRWXG | S_IRWXO))
    fail(at, "'" + file + "' is open to group or others (mode " + mode_text(st.st_mode) + "): refused; chmod 600 it");
}

// Two keys that go together: both or neither.
void both_or_neither(const toml::value& t, const std::string& a, const std::string& b) {
  if (!find(t, a) != !find(t, b)) fail(find(t, a) ? *find(t, a) : *find(t, b), a + " and " + b + " go together: both or neither");
}

// [cluster]'s etcd_* keys: the TLS files loaded as the clients will load them,
// and the password read, so a bad file stops the start, not the first request.
daemon::etcd::Security read_etcd_security(const toml::value& t, const std::string& config_path) {
  daemon::etcd::Security sec;
  const auto file = [&](const std::string& key) {
    const auto v = get_optional_string(t, key);
    if (v && v->empty()) fail(*find(t, key), key + " is empty");
    return v ? beside_config(config_path, *v) : std::string();
  };
  sec.ca_file = file("etcd_ca");
  both_or_neither(t, "etcd_cert", "etcd_key");
  sec.cert_file = file("etcd_cert");
  sec.key_file = file("etcd_key");
  if (!sec.cert_file.empty() && !sec.tls()) fail(*find(t, "etcd_cert"), "a client certificate needs TLS: set etcd_ca too");
  if (!sec.key_file.empty()) check_secret_file(*find(t, "etcd_key"), sec.key_file);
  if (const auto p = daemon::etcd::check_tls(sec)) {
    using File = daemon::etcd::TlsProblem::File;
    const std::string key = p->file == File::kCa ? "etcd_ca" : p->file == File::kCert ? "etcd_cert" : "etcd_key";
    const std::string& name = p->file == File::kCa ? sec.ca_file : p->file == File::kCert ? sec.cert_file : sec.key_file;
    fail(*find(t, key), "'" + name + "': " + p->reason);
  }
  both_or_neither(t, "etcd_user", "etcd_password_file");
  if (const auto user = get_optional_string(t, "etcd_user")) {
    if (user->empty()) fail(*find(t, "etcd_user"), "etcd_user is empty");
    sec.user = *user;
    const auto& at = *find(t, "etcd_password_file");
    const auto path = file("etcd_password_file");
    check_secret_file(at, path);
    std::ifstream in(path, std::ios::binary);
    if (!in) fail(at, "cannot read '" + path + "': " + std::strerror(errno));
    std::string password(limits::kEtcdPasswordMax + 1, '\0');
    in.read(password.data(), static_cast<std::streamsize>(password.size()));
    password.resize(static_cast<std::size_t>(in.gcount()));
    if (in.bad()) fail(at, "cannot read '" + path + "'");
    if (password.size() > limits::kEtcdPasswordMax)
      fail(at, "'" + path + "' holds over " + std::to_string(limits::kEtcdPasswordMax) + " bytes: not a password");
    // One line: its newline (echo's, an editor's) is not part of it.
    if (!password.empty() && password.back() == '\n') password.pop_back();
    if (!password.empty() && password.back() == '\r') password.pop_back();
    if (password.empty()) fail(at, "'" + path + "' holds no password");
    if (password.find_first_of("\r\n") != std::string::npos) fail(at, "'" + path + "' holds more than one line");
    sec.password = std::move(password);
  }
  return sec;
}

// [cluster]: names are etcd key parts, so no '/'; members are the clients'
// endpoints order and this member is one of them.
ClusterSettings read_cluster_table(const toml::value& t, const std::string& config_path) {
  check_keys(t, {"name", "member", "members", "etcd", "table", "etcd_ca", "etcd_cert", "etcd_key", "etcd_user", "etcd_password_file"},
             "[cluster]");
  ClusterSettings c;
  const auto word = [&](const std::string& key, const std::string& v) {
    if (v.empty() || v.size() > 64 || v.find_first_of("/ \t") != std::string::npos)
      fail(*find(t, key), "'" + v + "': 1 to 64 characters, no '/' or space");
  };
  c.name = get_string(t, "name");
  word("name", c.name);
  c.member = get_string(t, "member");
  word("member", c.member);
  c.members = get_string_array(t, "members");
  std::set<std::string> seen;
  for (const auto& m : c.members) {
    word("members", m);
    if (!seen.insert(m).second) fail(*find(t, "members"), "member '" + m + "' is named twice");
  }
  const auto at = std::find(c.members.begin(), c.members.end(), c.member);
  if (at == c.members.end()) fail(*find(t, "member"), "member '" + c.member + "' is not in members");
  c.index = static_cast<std::size_t>(at - c.members.begin());
  c.etcd = get_string_array(t, "etcd");
  if (c.etcd.empty()) fail(*find(t, "etcd"), "etcd needs at least one \"host:port\"");
  for (const auto& e : c.etcd)
    if (const auto hp = parse_host_port(e); !hp || hp->port == 0) fail(*find(t, "etcd"), "etcd endpoint '" + e + "' is not host:port");
  if (auto v = get_optional_int(t, "table", 1, 0xfffffffe)) {
    if (*v == 253 || *v == 254 || *v == 255) fail(*find(t, "table"), "table must not be default, main or local");
    c.table = static_cast<std::uint32_t>(*v);
  }
  c.etcd_security = read_etcd_security(t, config_path);
  return c;
}

}  // namespace

std::array<std::uint8_t, 16> derived_vip6(const config::Prefix6& net6, const config::Prefix& pool, std::uint32_t vip) {
  std::array<std::uint8_t, 16> a = net6.addr;
  for (unsigned bit = net6.len; bit < 128; ++bit) a[bit / 8] &= static_cast<std::uint8_t>(~(0x80u >> (bit % 8)));
  const std::uint32_t host = vip & ~prefix_mask_v4(pool.len);
  for (int i = 0; i < 4; ++i) a[12 + i] |= static_cast<std::uint8_t>(host >> (24 - 8 * i));
  return a;
}

config::Prefix ipv6_only_pool(const config::Prefix6& net6) {
  const unsigned host_bits = std::min(128u - net6.len, limits::kIpv6OnlyPoolBits);
  const std::uint32_t host_mask = ~prefix_mask_v4(32 - host_bits);
  return {load_be32(net6.addr.data() + 12) & host_mask, static_cast<std::uint8_t>(32 - host_bits)};
}

HubSettings load_hub_config(const std::string& path) {
  const auto root = parse_file(path);
  check_keys(root, {"private_key_file", "listen", "control_socket", "tun", "client", "nat", "expose", "handover", "performance", "limits", "metrics_listen", "state_directory", "clients_directory", "cluster"},
             "the top level");
  HubSettings s;
  s.config_path = path;
  const auto key_file = get_string(root, "private_key_file");
  s.private_key = load_private_key(*find(root, "private_key_file"), path, key_file);
  // One address or a list: "[::]:51900" is one dual-stack socket for both families.
  const auto* listen_at = find(root, "listen");
  if (!listen_at) fail_file(path, "'listen' is required (\"0.0.0.0:51900\", \"[::]:51900\" or a list)");
  const auto listens = listen_at->is_array() ? get_string_array(root, "listen") : std::vector<std::string>{get_string(root, "listen")};
  if (listens.empty()) fail(*listen_at, "'listen' needs at least one address");
  for (const auto& l : listens) {
    const auto ep = parse_endpoint(l);
    if (!ep || ep->port == 0) fail(*listen_at, "listen '" + l + "' is not ip:port or [ipv6]:port");
    if (std::find(s.listen.begin(), s.listen.end(), *ep) != s.listen.end()) fail(*listen_at, "listen '" + l + "' is given twice");
    s.listen.push_back(*ep);
  }
  if (auto cs = get_optional_string(root, "control_socket")) s.control_socket = *cs;
  ResendSettings rs{s.resend.max_bytes, s.resend.max_packets,
                    static_cast<std::size_t>(std::chrono::duration_cast<std::chrono::milliseconds>(s.resend.max_age).count()),
                    s.resend_total_bytes, {}};
  read_handover_table(root, true, rs);
  s.redundant = std::move(rs.redundant);
  s.resend = {rs.max_bytes, rs.max_packets, std::chrono::milliseconds(rs.max_age_ms)};
  s.resend_total_bytes = rs.total_bytes;
  s.data_path = read_performance_table(root);
  s.metrics_listen = read_metrics_listen(root);
  if (const auto* lim = get_optional_table(root, "limits")) {
    check_keys(*lim, {"under_load_handshakes", "staged_total_bytes"}, "[limits]");
    if (auto v = get_optional_int(*lim, "under_load_handshakes", 1, 10'000'000))
      s.under_load_handshakes = static_cast<std::uint32_t>(*v);
    if (auto v = get_optional_int(*lim, "staged_total_bytes", 0, 1ll << 34))
      s.staged_total_bytes = static_cast<std::size_t>(*v);
  }

  if (const auto* tun = get_optional_table(root, "tun")) {
    check_keys(*tun, {"name", "address", "mtu"}, "[tun]");
    if (auto n = get_optional_string(*tun, "name")) {
      if (!valid_interface_name(*n)) fail(*find(*tun, "name"), kInterfaceNameRule);
      s.tun_name = *n;
    }
    // One address, or one IPv4 and one IPv6 prefix: clients get a VIP in each.
    if (const auto* at = find(*tun, "address")) {
      const auto list = at->is_array() ? get_string_array(*tun, "address") : std::vector<std::string>{get_string(*tun, "address")};
      bool have4 = false;
      s.tun_address.reset();
      for (const auto& a : list) {
        if (const auto p = parse_prefix(a, true)) {
          if (have4 || p->len == 0 || p->len > 30) fail(*at, "address '" + a + "': one IPv4 prefix, /1 to /30, like 10.77.0.1/24");
          s.tun_address = *p;
          have4 = true;
        } else if (const auto p6 = parse_prefix6(a, true)) {
          if (s.tun_address6 || p6->len < 64 || p6->len > 120)
            fail(*at, "address '" + a + "': one IPv6 prefix, /64 to /120, like fd77::1/64");
          s.tun_address6 = *p6;
        } else {
          fail(*at, "address '" + a + "' is not like 10.77.0.1/24 or fd77::1/64");
        }
      }
      if (!have4 && !s.tun_address6) fail(*at, "[tun] address needs an IPv4 or an IPv6 prefix");
      s.vip_pool = s.tun_address ? *s.tun_address : ipv6_only_pool(*s.tun_address6);
    }
    if (auto m = get_optional_int(*tun, "mtu", 576, 65000)) s.mtu = static_cast<unsigned>(*m);
  }

  // Relative directories: to the config's directory, like the key file.
  if (auto d = get_optional_string(root, "state_directory")) s.state_directory = beside_config(path, *d);
  s.clients_directory = beside_config(path, get_optional_string(root, "clients_directory").value_or("clients.d"));
  if (const auto* cl = get_optional_table(root, "cluster")) s.cluster = read_cluster_table(*cl, path);
  // A cluster's VIPs come from etcd (one per client, whichever member it
  // lands on): the leases file of one member has no say.
  const auto leases = s.cluster ? std::map<PublicKey, std::uint32_t>{} : read_leases(s);

  // [[client]] tables: the main file's, then each drop-in's (sorted by file
  // name, so VIPs from the pool do not depend on directory order).
  std::vector<std::pair<toml::value, std::string>> clients;
  for (auto& c : get_table_array(root, "client")) clients.emplace_back(std::move(c), path);
  const auto drop_ins = client_files(s.clients_directory);
  if (!drop_ins.empty()) check_drop_in_owner(s.clients_directory);
  for (const auto& file : drop_ins) {
    check_drop_in_owner(file);
    const auto drop_in = parse_file(file);
    check_keys(drop_in, {"client"}, "the top level");
    for (auto& c : get_table_array(drop_in, "client")) clients.emplace_back(std::move(c), file);
  }
  std::vector<VipRequest> requests;
  std::set<std::string> names;
  std::set<PublicKey> keys;
  for (const auto& [c, source] : clients) {
    check_keys(c, {"name", "public_key", "vip", "vip6"}, "[[client]]");
    ClientSettings cs;
    cs.source = source;
    cs.name = get_string(c, "name");
    if (!names.insert(cs.name).second) fail(*find(c, "name"), "client name '" + cs.name + "' is used twice");
    const auto key = get_string(c, "public_key");
    cs.public_key = parse_public_key(*find(c, "public_key"), key);
    if (!keys.insert(cs.public_key).second) fail(*find(c, "public_key"), "public key of '" + cs.name + "' is used twice");
    VipRequest req;
    if (s.cluster && (find(c, "vip") || find(c, "vip6")))
      fail(find(c, "vip") ? *find(c, "vip") : *find(c, "vip6"),
           "a cluster member takes VIPs from etcd: no vip or vip6 in [[client]]");
    if (auto v = get_optional_string(c, "vip")) {
      if (!s.tun_address) fail(*find(c, "vip"), "vip needs an IPv4 prefix in [tun] address (this hub has IPv6 alone inside)");
      req.vip = parse_ipv4(*v);
      if (!req.vip) fail(*find(c, "vip"), "vip '" + *v + "' is not an IPv4 address");
    }
    if (const auto it = leases.find(cs.public_key); it != leases.end()) req.leased = it->second;
    if (auto v = get_optional_string(c, "vip6")) {
      const auto p = parse_prefix6(*v, false);
      if (!s.tun_address6) fail(*find(c, "vip6"), "vip6 needs an IPv6 prefix in [tun] address");
      if (!p || p->len != 128 || !s.tun_address6->contains(p->addr) || p->addr == s.tun_address6->addr)
        fail(*find(c, "vip6"), "vip6 '" + *v + "' is not an IPv6 address in " + s.tun_address6->to_string() +
                                   " other than the hub's");
      cs.vip6 = p->addr;
    }
    requests.push_back(req);
    s.clients.push_back(cs);
  }
  const auto vips = assign_vips(s.vip_pool, requests);
  if (!vips.ok()) {
    const auto& c = clients[vips.bad_index].first;
    fail(find(c, "vip") ? *find(c, "vip") : c, vips.error);
  }
  for (std::size_t i = 0; i < s.clients.size(); ++i) s.clients[i].vip = vips.vips[i];
  // IPv6 VIPs: as given, else the IPv6 prefix with the IPv4 VIP's host part
  // (10.77.0.2 -> fd77::2): as stable as the IPv4 lease, no second pool.
  if (s.tun_address6) {
    std::set<std::array<std::uint8_t, 16>> taken{s.tun_address6->addr};
    for (std::size_t i = 0; i < s.clients.size(); ++i) {
      auto& c = s.clients[i];
      if (c.vip6 == std::array<std::uint8_t, 16>{}) c.vip6 = derived_vip6(*s.tun_address6, s.vip_pool, c.vip);
      if (!taken.insert(c.vip6).second) {
        const auto& t = clients[i].first;
        fail(find(t, "vip6") ? *find(t, "vip6") : t, "vip6 of '" + c.name + "' is taken (the hub's, or another client's)");
      }
    }
  }

  if (const auto* nat = get_optional_table(root, "nat")) {
    check_keys(*nat, {"masquerade"}, "[nat]");
    for (const auto& m : get_string_array(*nat, "masquerade")) {
      if (const auto p = parse_prefix(m, false); p && s.tun_address) {
        s.masquerade.push_back(*p);
      } else if (const auto p6 = parse_prefix6(m, false); p6 && s.tun_address6) {
        s.masquerade6.push_back(*p6);
      } else {
        fail(*find(*nat, "masquerade"), "'" + m + "' is not a prefix of a family inside: like 10.4.0.0/24 with an IPv4 [tun] address, fd04::/64 with an IPv6 one");
      }
    }
  }

  for (const auto& e : get_table_array(root, "expose")) {
    check_keys(e, {"listen", "to", "protocol"}, "[[expose]]");
    ExposeSettings x;
    const auto l = get_string(e, "listen");
    const auto lep = parse_endpoint(l);
    if (!lep || lep->port == 0) fail(*find(e, "listen"), "listen '" + l + "' is not ip:port or [ipv6]:port");
    if (lep->family == 6 && !s.tun_address6)
      fail(*find(e, "listen"), "listen '" + l + "' is IPv6: the clients need IPv6 VIPs (an IPv6 prefix in [tun] address)");
    if (lep->family == 4 && !s.tun_address)
      fail(*find(e, "listen"), "listen '" + l + "' is IPv4: the clients need IPv4 VIPs (an IPv4 prefix in [tun] address)");
    x.listen = *lep;
    const auto to = get_string(e, "to");
    const auto colon = to.rfind(':');
    unsigned port = 0;
    const char* digits = to.data() + (colon == std::string::npos ? to.size() : colon + 1);
    const auto r = std::from_chars(digits, to.data() + to.size(), port);
    if (colon == std::string::npos || r.ec != std::errc{} || r.ptr != to.data() + to.size() || port == 0 || port > 65535)
      fail(*find(e, "to"), "to '" + to + "' is not client-name:port");
    const auto name = to.substr(0, colon);
    bool found = false;
    for (std::size_t i = 0; i < s.clients.size(); ++i)
      if (s.clients[i].name == name) {
        x.client = i;
        found = true;
      }
    if (!found) fail(*find(e, "to"), "no [[client]] is named '" + name + "'");
    x.port = static_cast<std::uint16_t>(port);
    if (auto p = get_optional_string(e, "protocol")) {
      if (*p != "tcp" && *p != "udp") fail(*find(e, "protocol"), "protocol must be \"tcp\" or \"udp\"");
      x.protocol = *p;
    }
    s.exposes.push_back(x);
  }
  return s;
}

}  // namespace tund::hub
