#include "daemon/config_check.hpp"

#include <arpa/inet.h>
#include <sys/stat.h>

#include <cctype>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <thread>
#include <fstream>
#include <sstream>

#include "tund/limits.hpp"

#include "crypto/primitives.hpp"

namespace tund::config {

namespace {
std::string type_name(const toml::value& v) {
  switch (v.type()) {
    case toml::value_t::empty: return "nothing";
    case toml::value_t::boolean: return "a boolean";
    case toml::value_t::integer: return "an integer";
    case toml::value_t::floating: return "a float";
    case toml::value_t::string: return "a string";
    case toml::value_t::offset_datetime:
    case toml::value_t::local_datetime:
    case toml::value_t::local_date:
    case toml::value_t::local_time: return "a date/time";
    case toml::value_t::array: return "an array";
    case toml::value_t::table: return "a table";
  }
  return "an unknown type";
}

std::string where(const toml::source_location& loc) {
  std::string s = loc.file_name();
  if (loc.line() > 0) s += ":" + std::to_string(loc.line()) + ":" + std::to_string(loc.column());
  return s;
}

const toml::value& require(const toml::value& table, const std::string& key) {
  const auto* v = find(table, key);
  if (!v) fail(table, "missing required key '" + key + "'");
  return *v;
}
}  // namespace

std::optional<std::size_t> first_invalid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t n = 0;
    std::uint32_t cp = 0, min = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      n = 1, cp = c & 0x1F, min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2, cp = c & 0x0F, min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
      n = 3, cp = c & 0x07, min = 0x10000;
    } else {
      return i;
    }
    for (std::size_t k = 1; k <= n; ++k) {
      if (i + k >= s.size()) return i;
      const auto d = static_cast<unsigned char>(s[i + k]);
      if ((d & 0xC0) != 0x80) return i;
      cp = (cp << 6) | (d & 0x3F);
    }
    // Overlong forms, surrogates and code points past U+10FFFF are not UTF-8.
    if (cp < min || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) return i;
    i += n + 1;
  }
  return std::nullopt;
}

toml::value parse_file(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) fail_file(path, "cannot read the file: no such file");
  // TOML is UTF-8. Bytes that are not are refused here, before the parser:
  // toml11 3.7.1 reads past its buffer while reporting invalid UTF-8 inside a
  // literal string (found by fuzz/config.cpp).
  std::ifstream in(path, std::ios::binary);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (!in.eof() && in.fail()) fail_file(path, std::string("cannot read the file: ") + std::strerror(errno));
  return parse_text(text, path);
}

toml::value parse_text(const std::string& text, const std::string& path) {
  if (const auto bad = first_invalid_utf8(text)) {
    std::size_t line = 1, column = 1;
    for (std::size_t i = 0; i < *bad; ++i) {
      if (text[i] == '\n') {
        ++line;
        column = 1;
      } else if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) {
        ++column;  // columns count characters, not continuation bytes
      }
    }
    throw ConfigError(path + ":" + std::to_string(line) + ":" + std::to_string(column) +
                      ": not UTF-8 (TOML files are UTF-8)");
  }
  try {
    std::istringstream parsed(text);  // the bytes just checked, not a second read
    return toml::parse(parsed, path);
  } catch (const toml::syntax_error& e) {
    // toml11's message starts with "[error] reason" then a picture of the line.
    std::string what = e.what();
    std::string reason = what.substr(0, what.find('\n'));
    if (reason.rfind("[error] ", 0) == 0) reason = reason.substr(8);
    throw ConfigError(where(e.location()) + ": syntax error: " + reason);
  } catch (const std::runtime_error& e) {
    throw ConfigError(path + ": cannot read the file: " + e.what());
  }
}

void fail(const toml::value& at, const std::string& reason) {
  throw ConfigError(where(at.location()) + ": " + reason);
}

void fail_file(const std::string& file, const std::string& reason) {
  throw ConfigError(file + ": " + reason);
}

void check_keys(const toml::value& table, std::initializer_list<std::string_view> allowed,
                std::string_view section) {
  if (!table.is_table()) fail(table, std::string(section) + " must be a table, not " + type_name(table));
  for (const auto& [key, value] : table.as_table()) {
    bool ok = false;
    for (auto a : allowed) ok = ok || a == key;
    if (!ok) fail(value, "unknown key '" + key + "' in " + std::string(section));
  }
}

const toml::value* find(const toml::value& table, const std::string& key) {
  if (!table.is_table()) return nullptr;
  const auto& t = table.as_table();
  const auto it = t.find(key);
  return it == t.end() ? nullptr : &it->second;
}

std::string get_string(const toml::value& table, const std::string& key) {
  const auto& v = require(table, key);
  if (!v.is_string()) fail(v, "'" + key + "' must be a string, not " + type_name(v));
  return v.as_string().str;
}

std::optional<std::string> get_optional_string(const toml::value& table, const std::string& key) {
  if (!find(table, key)) return std::nullopt;
  return get_string(table, key);
}

std::optional<std::int64_t> get_optional_int(const toml::value& table, const std::string& key,
                                             std::int64_t min, std::int64_t max) {
  const auto* v = find(table, key);
  if (!v) return std::nullopt;
  if (!v->is_integer()) fail(*v, "'" + key + "' must be an integer, not " + type_name(*v));
  const auto i = v->as_integer();
  if (i < min || i > max)
    fail(*v, "'" + key + "' must be between " + std::to_string(min) + " and " + std::to_string(max));
  return i;
}

std::optional<double> get_optional_number(const toml::value& table, const std::string& key, double min,
                                          double max) {
  const auto* v = find(table, key);
  if (!v) return std::nullopt;
  double d = 0;
  if (v->is_floating()) d = v->as_floating();
  else if (v->is_integer()) d = static_cast<double>(v->as_integer());
  else fail(*v, "'" + key + "' must be a number, not " + type_name(*v));
  if (d < min || d > max) fail(*v, "'" + key + "' must be between " + std::to_string(min) + " and " + std::to_string(max));
  return d;
}

std::optional<bool> get_optional_bool(const toml::value& table, const std::string& key) {
  const auto* v = find(table, key);
  if (!v) return std::nullopt;
  if (!v->is_boolean()) fail(*v, "'" + key + "' must be true or false, not " + type_name(*v));
  return v->as_boolean();
}

std::vector<std::string> get_string_array(const toml::value& table, const std::string& key) {
  std::vector<std::string> out;
  const auto* v = find(table, key);
  if (!v) return out;
  if (!v->is_array()) fail(*v, "'" + key + "' must be an array of strings, not " + type_name(*v));
  for (const auto& e : v->as_array()) {
    if (!e.is_string()) fail(e, "'" + key + "' must hold strings, not " + type_name(e));
    out.push_back(e.as_string().str);
  }
  return out;
}

std::vector<toml::value> get_table_array(const toml::value& table, const std::string& key) {
  std::vector<toml::value> out;
  const auto* v = find(table, key);
  if (!v) return out;
  if (!v->is_array()) fail(*v, "'" + key + "' must be written as [[" + key + "]] tables");
  for (const auto& e : v->as_array()) {
    if (!e.is_table()) fail(e, "'" + key + "' must be written as [[" + key + "]] tables");
    out.push_back(e);
  }
  return out;
}

const toml::value* get_optional_table(const toml::value& table, const std::string& key) {
  const auto* v = find(table, key);
  if (v && !v->is_table()) fail(*v, "'" + key + "' must be a table ([" + key + "]), not " + type_name(*v));
  return v;
}

std::optional<std::uint32_t> parse_ipv4(std::string_view text) {
  const std::string s(text);
  in_addr a{};
  if (inet_pton(AF_INET, s.c_str(), &a) != 1) return std::nullopt;
  return ntohl(a.s_addr);
}

std::string ipv4_to_string(std::uint32_t ip) {
  return std::to_string(ip >> 24) + "." + std::to_string((ip >> 16) & 255) + "." +
         std::to_string((ip >> 8) & 255) + "." + std::to_string(ip & 255);
}

std::string Prefix::to_string() const { return ipv4_to_string(addr) + "/" + std::to_string(len); }

std::optional<Prefix> parse_prefix(std::string_view text, bool allow_host_bits) {
  const auto slash = text.find('/');
  const auto ip = parse_ipv4(text.substr(0, slash));
  if (!ip) return std::nullopt;
  unsigned len = 32;
  if (slash != std::string_view::npos) {
    const auto digits = text.substr(slash + 1);
    const auto r = std::from_chars(digits.data(), digits.data() + digits.size(), len);
    if (r.ec != std::errc{} || r.ptr != digits.data() + digits.size() || len > 32) return std::nullopt;
  }
  Prefix p{*ip, static_cast<std::uint8_t>(len)};
  const std::uint32_t mask = prefix_mask_v4(len);
  if (!allow_host_bits && (p.addr & ~mask) != 0) return std::nullopt;
  return p;
}

bool Prefix6::contains(const std::array<std::uint8_t, 16>& a) const {
  for (unsigned bit = 0; bit < len; ++bit) {
    const std::uint8_t m = static_cast<std::uint8_t>(0x80u >> (bit % 8));
    if ((a[bit / 8] & m) != (addr[bit / 8] & m)) return false;
  }
  return true;
}

std::string Prefix6::address_string() const {
  Endpoint e;
  e.family = 6;
  e.addr = addr;
  return e.address_string();
}

std::string Prefix6::to_string() const { return address_string() + "/" + std::to_string(len); }

std::optional<Prefix6> parse_prefix6(std::string_view text, bool allow_host_bits) {
  const auto slash = text.find('/');
  const std::string ip(text.substr(0, slash));
  Prefix6 p;
  if (inet_pton(AF_INET6, ip.c_str(), p.addr.data()) != 1) return std::nullopt;
  unsigned len = 128;
  if (slash != std::string_view::npos) {
    const auto digits = text.substr(slash + 1);
    const auto r = std::from_chars(digits.data(), digits.data() + digits.size(), len);
    if (r.ec != std::errc{} || r.ptr != digits.data() + digits.size() || len > 128) return std::nullopt;
  }
  p.len = static_cast<std::uint8_t>(len);
  for (unsigned bit = len; bit < 128; ++bit)
    if (!allow_host_bits && (p.addr[bit / 8] & (0x80u >> (bit % 8)))) return std::nullopt;
  return p;
}

namespace {
std::optional<std::uint16_t> parse_port(std::string_view digits) {
  unsigned port = 0;
  const auto r = std::from_chars(digits.data(), digits.data() + digits.size(), port);
  if (digits.empty() || r.ec != std::errc{} || r.ptr != digits.data() + digits.size() || port > 65535)
    return std::nullopt;
  return static_cast<std::uint16_t>(port);
}
}  // namespace

std::optional<Endpoint> parse_ip(std::string_view text) {
  const std::string s(text);
  Endpoint e;
  if (inet_pton(AF_INET, s.c_str(), e.addr.data()) == 1) {
    e.family = 4;
    return e;
  }
  if (inet_pton(AF_INET6, s.c_str(), e.addr.data()) == 1) {
    e.family = 6;
    return e;
  }
  return std::nullopt;
}

std::optional<HostPort> parse_host_port(std::string_view text) {
  HostPort out;
  std::string_view host;
  std::optional<std::uint16_t> port;
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') return std::nullopt;
    host = text.substr(1, close - 1);
    port = parse_port(text.substr(close + 2));
    const auto ip = parse_ip(host);
    if (!ip || ip->family != 6 || !port) return std::nullopt;
    out.literal = *ip;
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos || text.find(':') != colon) return std::nullopt;
    host = text.substr(0, colon);
    port = parse_port(text.substr(colon + 1));
    if (!port || host.empty()) return std::nullopt;
    if (const auto ip = parse_ip(host); ip && ip->family == 4) {
      out.literal = *ip;
    } else {
      // A DNS name (RFC 1123 labels): letters, digits, '-', '.', 253 at most.
      if (host.size() > 253 || host.front() == '.' || host.front() == '-') return std::nullopt;
      bool digits_only = true;
      for (char c : host) {
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '.') return std::nullopt;
        if (std::isalpha(static_cast<unsigned char>(c))) digits_only = false;
      }
      if (digits_only) return std::nullopt;  // "1.2.3" is a broken address, not a name
    }
  }
  out.host = std::string(host);
  out.port = *port;
  if (out.literal) out.literal->port = out.port;
  return out;
}

std::optional<Endpoint> parse_endpoint(std::string_view text) {
  const auto hp = parse_host_port(text);
  if (!hp || !hp->literal) return std::nullopt;
  return hp->literal;
}

std::string HostPort::to_string() const {
  return literal ? literal->to_string() : host + ":" + std::to_string(port);
}

void read_handover_table(const toml::value& root, bool hub, ResendSettings& out) {
  const auto* t = get_optional_table(root, "handover");
  if (!t) return;
  if (hub)
    check_keys(*t, {"resend_max_bytes", "resend_max_packets", "resend_max_age_ms", "resend_total_bytes", "redundant"},
               "[handover]");
  else check_keys(*t, {"resend_max_bytes", "resend_max_packets", "resend_max_age_ms"}, "[handover]");
  if (auto v = get_optional_int(*t, "resend_max_bytes", 0, 1ll << 30)) out.max_bytes = static_cast<std::size_t>(*v);
  if (auto v = get_optional_int(*t, "resend_max_packets", 0, 1 << 20)) out.max_packets = static_cast<std::size_t>(*v);
  if (auto v = get_optional_int(*t, "resend_max_age_ms", 0, 10000)) out.max_age_ms = static_cast<std::size_t>(*v);
  if (auto v = get_optional_int(*t, "resend_total_bytes", 0, 1ll << 34)) out.total_bytes = static_cast<std::size_t>(*v);
  if (hub) out.redundant = read_redundant(*t, "redundant");
}

namespace {

// A decimal number in [low, high], the whole text.
template <class T>
bool parse_number(std::string_view t, unsigned low, unsigned high, T& out) {
  unsigned v = 0;
  const auto r = std::from_chars(t.data(), t.data() + t.size(), v);
  if (t.empty() || r.ec != std::errc{} || r.ptr != t.data() + t.size() || v < low || v > high) return false;
  out = static_cast<T>(v);
  return true;
}

// "udp:5004" or "tcp:5000-5010": the range, when well formed.
bool parse_port_range(std::string_view text, std::uint16_t& low, std::uint16_t& high) {
  const auto dash = text.find('-');
  if (dash == std::string_view::npos) return parse_number(text, 1, 65535, low) && ((high = low), true);
  return parse_number(text.substr(0, dash), 1, 65535, low) && parse_number(text.substr(dash + 1), 1, 65535, high) &&
         low <= high;
}

}  // namespace

session::RedundancyPolicy read_redundant(const toml::value& table, const std::string& key) {
  session::RedundancyPolicy out;
  const auto* at = find(table, key);
  if (!at) return out;
  using K = session::RedundancySelector::Kind;
  for (const auto& text : get_string_array(table, key)) {
    session::RedundancySelector s;
    const std::string_view t = text;
    bool ok = false;
    if (t.rfind("dscp:", 0) == 0) {
      s.kind = K::kDscp;
      ok = parse_number(t.substr(5), 0, 63, s.dscp);
    } else if (t.rfind("udp:", 0) == 0 || t.rfind("tcp:", 0) == 0) {
      s.kind = t[0] == 'u' ? K::kUdp : K::kTcp;
      ok = parse_port_range(t.substr(4), s.port_low, s.port_high);
    } else if (const auto p4 = parse_prefix(t, false)) {
      s.kind = K::kPrefix;
      s.prefix = session::IpPrefix::v4(p4->addr, p4->len);
      ok = true;
    } else if (const auto p6 = parse_prefix6(t, false)) {
      s.kind = K::kPrefix;
      s.prefix = session::IpPrefix::v6(p6->addr.data(), p6->len);
      ok = true;
    }
    if (!ok)
      fail(*at, "redundant '" + text + "' is not a selector: dscp:0-63, udp:PORT, tcp:PORT (or LOW-HIGH), or a prefix");
    if (out.size() == limits::kMaxRedundantSelectors)
      fail(*at, "redundant: at most " + std::to_string(limits::kMaxRedundantSelectors) + " selectors");
    out.push_back(s);
  }
  return out;
}

std::optional<Endpoint> read_metrics_listen(const toml::value& root) {
  const auto text = get_optional_string(root, "metrics_listen");
  if (!text) return std::nullopt;
  const auto ep = parse_endpoint(*text);
  if (!ep || ep->port == 0) fail(*find(root, "metrics_listen"), "metrics_listen '" + *text + "' is not ip:port");
  return ep;
}

DataPathSettings read_performance_table(const toml::value& root) {
  DataPathSettings s;
  const unsigned cores = std::thread::hardware_concurrency();
  s.crypto_threads = cores > 1 ? std::min(cores - 1, 8u) : 0;
  const auto* t = get_optional_table(root, "performance");
  if (!t) return s;
  check_keys(*t, {"offload", "crypto_threads", "cipher", "pacing"}, "[performance]");
  if (const auto* v = find(*t, "pacing")) {
    if (!v->is_boolean()) fail(*v, "pacing must be true or false");
    s.pacing = v->as_boolean();
  }
  if (auto c = get_optional_string(*t, "cipher")) {
    if (*c != "auto" && *c != "chacha20-poly1305")
      fail(*find(*t, "cipher"), "cipher must be \"auto\" or \"chacha20-poly1305\"");
    s.allow_aes = *c == "auto";
  }
  if (const auto* v = find(*t, "offload")) {
    if (!v->is_boolean()) fail(*v, "offload must be true or false");
    s.offload = v->as_boolean();
  }
  if (auto v = get_optional_int(*t, "crypto_threads", 0, 64)) s.crypto_threads = static_cast<unsigned>(*v);
  return s;
}

PrivateKey load_private_key(const toml::value& at, const std::string& config_path,
                            const std::string& key_file) {
  std::filesystem::path p(key_file);
  if (p.is_relative()) p = std::filesystem::path(config_path).parent_path() / p;
  std::ifstream in(p);
  if (!in) fail(at, "cannot read private key file '" + p.string() + "'");
  std::stringstream ss;
  ss << in.rdbuf();
  PrivateKey key;
  if (!crypto::key_from_base64(ss.str(), key))
    fail(at, "private key file '" + p.string() + "' does not hold a base64 32-byte key");
  return key;
}

PublicKey parse_public_key(const toml::value& at, const std::string& text) {
  PublicKey key;
  if (!crypto::key_from_base64(text, key)) fail(at, "'" + text + "' is not a base64 32-byte public key");
  if (crypto::is_low_order(key)) fail(at, "public key '" + text + "' is a low-order point and cannot be used");
  return key;
}

}  // namespace tund::config
