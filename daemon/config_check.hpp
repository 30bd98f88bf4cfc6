// Strict reading of TOML configs (toml11 v3). Every error names the file, the
// line and column where toml11 knows them, and the reason; the daemons print it
// and exit 2. Unknown keys and wrong types are errors, never silently ignored
// (toml11's find_or would return the default on a wrong type).
#pragma once

#include <array>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <toml.hpp>

#include "session/redundancy.hpp"
#include "tund/endpoint.hpp"
#include "tund/types.hpp"

namespace tund::config {

// A config error, already formatted as "file:line:column: reason".
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Parses the file; syntax errors become ConfigError.
toml::value parse_file(const std::string& path);
// The same from text in memory (the C API's config); `path` names it in errors.
toml::value parse_text(const std::string& text, const std::string& path);

[[noreturn]] void fail(const toml::value& at, const std::string& reason);
[[noreturn]] void fail_file(const std::string& file, const std::string& reason);

// Offset of the first byte that does not start a valid UTF-8 sequence.
std::optional<std::size_t> first_invalid_utf8(std::string_view text);

// Refuses any key of `table` not in `allowed`.
void check_keys(const toml::value& table, std::initializer_list<std::string_view> allowed,
                std::string_view where);

const toml::value* find(const toml::value& table, const std::string& key);
std::string get_string(const toml::value& table, const std::string& key);  // required
std::optional<std::string> get_optional_string(const toml::value& table, const std::string& key);
std::optional<std::int64_t> get_optional_int(const toml::value& table, const std::string& key,
                                             std::int64_t min, std::int64_t max);
std::optional<double> get_optional_number(const toml::value& table, const std::string& key, double min,
                                          double max);
std::optional<bool> get_optional_bool(const toml::value& table, const std::string& key);
std::vector<std::string> get_string_array(const toml::value& table, const std::string& key);
// An array of tables ([[name]]); empty when absent.
std::vector<toml::value> get_table_array(const toml::value& table, const std::string& key);
const toml::value* get_optional_table(const toml::value& table, const std::string& key);

struct Prefix {
  std::uint32_t addr = 0;  // host order, IPv4
  std::uint8_t len = 0;
  bool contains(std::uint32_t ip) const {
    return (ip & prefix_mask_v4(len)) == (addr & prefix_mask_v4(len));
  }
  std::string to_string() const;
  bool operator==(const Prefix&) const = default;
};

// An IPv6 prefix ("fd77::1/64"), network order.
struct Prefix6 {
  std::array<std::uint8_t, 16> addr{};
  std::uint8_t len = 0;
  bool contains(const std::array<std::uint8_t, 16>& a) const;
  std::string to_string() const;
  std::string address_string() const;  // the address alone
  bool operator==(const Prefix6&) const = default;
};
std::optional<Prefix6> parse_prefix6(std::string_view text, bool allow_host_bits);

// Parsers for values; each returns nothing on bad syntax.
std::optional<std::uint32_t> parse_ipv4(std::string_view text);
std::optional<Prefix> parse_prefix(std::string_view text, bool allow_host_bits);
// "a.b.c.d" or an IPv6 address (without brackets), port 0.
std::optional<Endpoint> parse_ip(std::string_view text);
// "a.b.c.d:port", "[v6]:port" or "name:port".
struct HostPort {
  std::string host;                 // the address or name as written (no brackets)
  std::uint16_t port = 0;
  std::optional<Endpoint> literal;  // set when host is an address
  std::string to_string() const;
  bool operator==(const HostPort&) const = default;
};
std::optional<HostPort> parse_host_port(std::string_view text);
std::optional<Endpoint> parse_endpoint(std::string_view text);  // "a.b.c.d:port" or "[v6]:port"
std::string ipv4_to_string(std::uint32_t ip);

// The optional [handover] table: resend_max_bytes, resend_max_packets,
// resend_max_age_ms (and, for the hub, resend_total_bytes and redundant).
struct ResendSettings {
  std::size_t max_bytes, max_packets, max_age_ms, total_bytes;
  session::RedundancyPolicy redundant;  // the hub's
};
void read_handover_table(const toml::value& root, bool hub, ResendSettings& out);

// A list of redundancy selectors (session/redundancy.hpp), at most
// limits::kMaxRedundantSelectors: "dscp:46", "udp:5004", "tcp:5000-5010",
// "10.4.0.0/24", "fd04::/64". Absent: none.
session::RedundancyPolicy read_redundant(const toml::value& table, const std::string& key);

// The optional [performance] table, the same for both daemons:
//   offload = true        TUN TSO/GRO and UDP GSO/GRO where the kernel has them
//   crypto_threads = N    extra threads for the AEAD of a batch (absent: one
//                         per core beyond the first, at most 8; 0: none)
//   cipher = "auto"       AES-256-GCM when both ends have hardware AES, else
//                         ChaCha20-Poly1305; "chacha20-poly1305" never offers
//                         or chooses AES
struct DataPathSettings {
  bool offload = true;
  unsigned crypto_threads = 0;
  bool allow_aes = true;
  bool pacing = true;  // [performance] pacing (issue 29; docs/queueing.md)
};
DataPathSettings read_performance_table(const toml::value& root);

// The optional top-level `metrics_listen = "127.0.0.1:9586"` (Prometheus).
std::optional<Endpoint> read_metrics_listen(const toml::value& root);

// Reads a base64 key from a file named in the config (relative to the config's
// directory). Errors point at the config value.
PrivateKey load_private_key(const toml::value& at, const std::string& config_path,
                            const std::string& key_file);
PublicKey parse_public_key(const toml::value& at, const std::string& text);

}  // namespace tund::config
