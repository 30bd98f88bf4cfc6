// A remote UDP endpoint as plain data (no socket types), so the core can key
// state and cookies on it without doing I/O.
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "tund/types.hpp"

namespace tund {

struct Endpoint {
  std::uint8_t family = 0;  // 4 or 6; 0 = none
  std::array<std::uint8_t, 16> addr{};  // IPv4 in the first 4 bytes, network order
  std::uint16_t port = 0;               // host order

  static Endpoint v4(std::uint32_t ip_host_order, std::uint16_t port) {
    Endpoint e;
    e.family = 4;
    store_be32(e.addr.data(), ip_host_order);
    e.port = port;
    return e;
  }
  bool valid() const { return family != 0; }
  // 0.0.0.0 or ::, a wildcard to listen on, never an address to send to.
  bool unspecified() const {
    for (const auto b : addr)
      if (b) return false;
    return true;
  }
  bool operator==(const Endpoint&) const = default;

  // Address and port as bytes, the input of a cookie MAC.
  std::array<std::uint8_t, 18> key_bytes() const {
    std::array<std::uint8_t, 18> b{};
    const std::size_t n = family == 4 ? 4 : 16;
    for (std::size_t i = 0; i < n; ++i) b[i] = addr[i];
    store_be16(b.data() + 16, port);
    return b;
  }
  // Address and port folded into one word (FNV-1a), to tell a session's few
  // endpoints apart; not keyed, so never a key of a table a peer can fill.
  std::uint64_t tag() const {
    std::uint64_t h = 0xcbf29ce484222325u;
    for (const auto b : key_bytes()) h = (h ^ b) * 0x100000001b3u;
    return h;
  }
  std::string to_string() const;  // "ip:port" or "[ip6]:port"
  std::string address_string() const;  // "ip" or "ip6" (RFC 5952), no port
};

inline std::string Endpoint::to_string() const {
  if (family == 4) return address_string() + ":" + std::to_string(port);
  if (family == 6) return "[" + address_string() + "]:" + std::to_string(port);
  return "(none)";
}

inline std::string Endpoint::address_string() const {
  if (family == 4) {
    return std::to_string(addr[0]) + "." + std::to_string(addr[1]) + "." + std::to_string(addr[2]) + "." +
           std::to_string(addr[3]);
  }
  if (family == 6) {
    // RFC 5952: lower case, no leading zeros, the longest run of two or
    // more zero groups as "::" (the first such run on a tie).
    std::uint16_t g[8];
    for (int i = 0; i < 8; ++i) g[i] = static_cast<std::uint16_t>(addr[2 * i] << 8 | addr[2 * i + 1]);
    int best = -1, best_len = 1;
    for (int i = 0; i < 8;) {
      int j = i;
      while (j < 8 && g[j] == 0) ++j;
      if (j - i > best_len) best = i, best_len = j - i;
      i = j == i ? i + 1 : j;
    }
    static const char* hex = "0123456789abcdef";
    std::string s;
    for (int i = 0; i < 8; ++i) {
      if (i == best) {
        s += "::";
        i += best_len - 1;
        continue;
      }
      if (i && s.back() != ':') s += ':';
      bool lead = true;
      for (int shift = 12; shift >= 0; shift -= 4) {
        const int d = g[i] >> shift & 15;
        if (lead && d == 0 && shift) continue;
        lead = false;
        s += hex[d];
      }
    }
    return s;
  }
  return "(none)";
}

}  // namespace tund
