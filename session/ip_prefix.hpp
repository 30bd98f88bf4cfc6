// An IP prefix of either family, compared byte-wise in network order so one
// type serves IPv4 and IPv6 (the route table, the assignment checks). No shift
// here ever reaches the word width: masks are built a byte at a time.
#pragma once

#include <array>
#include <cstdint>

namespace tund::session {

struct IpPrefix {
  std::uint8_t family = 4;                // 4 or 6
  std::array<std::uint8_t, 16> addr{};    // network order; IPv4 uses the first 4 bytes
  std::uint8_t len = 0;                   // ≤ 32 (IPv4) or ≤ 128 (IPv6)

  static IpPrefix v4(std::uint32_t host_order_addr, std::uint8_t len) {
    IpPrefix p;
    p.family = 4;
    for (int i = 0; i < 4; ++i) p.addr[i] = static_cast<std::uint8_t>(host_order_addr >> (24 - 8 * i));
    p.len = len > 32 ? 32 : len;
    return p;
  }
  static IpPrefix v6(const std::uint8_t* a, std::uint8_t len) {
    IpPrefix p;
    p.family = 6;
    for (int i = 0; i < 16; ++i) p.addr[i] = a[i];
    p.len = len > 128 ? 128 : len;
    return p;
  }
  // Does `a` (4 or 16 bytes as the family says, network order) fall inside?
  bool contains(std::uint8_t fam, const std::uint8_t* a) const {
    if (fam != family) return false;
    std::size_t bits = len;
    for (std::size_t i = 0; bits > 0; ++i) {
      const unsigned take = bits >= 8 ? 8 : static_cast<unsigned>(bits);
      const auto mask = static_cast<std::uint8_t>(0xFF00u >> take);
      if ((a[i] & mask) != (addr[i] & mask)) return false;
      bits -= take;
    }
    return true;
  }
  bool contains(const IpPrefix& other) const { return other.len >= len && contains(other.family, other.addr.data()); }
  bool overlaps(const IpPrefix& other) const { return contains(other) || other.contains(*this); }
  bool operator==(const IpPrefix&) const = default;
};

}  // namespace tund::session
