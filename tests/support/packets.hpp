// Hand-built inner IP packets for the offload tests, with checksums computed
// by a plain byte-at-a-time reference (independent of offload/checksum).
#pragma once

#include <cstdint>
#include <vector>

namespace tund::test {

struct PacketSpec {
  int version = 4;
  std::uint8_t proto = 6;  // 6 TCP, 17 UDP
  std::uint32_t seq = 1000;
  std::uint32_t ack = 77;
  std::uint8_t tcp_flags = 0x10;  // ACK
  std::uint16_t window = 512;
  std::uint16_t ip_id = 100;
  std::uint8_t ttl = 64;
  std::vector<std::uint8_t> tcp_options;  // multiple of 4
  std::vector<std::uint8_t> ip_options;   // IPv4 only, multiple of 4
  std::uint16_t sport = 40000, dport = 5201;
  std::uint8_t src_last = 2, dst_last = 1;
};

// The reference Internet checksum, one 16-bit word at a time.
inline std::uint16_t ref_checksum(const std::uint8_t* p, std::size_t n, std::uint32_t sum = 0) {
  for (std::size_t i = 0; i + 1 < n; i += 2) sum += std::uint32_t(p[i] << 8 | p[i + 1]);
  if (n & 1) sum += std::uint32_t(p[n - 1] << 8);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(sum);
}

inline std::size_t ip_header_len(const std::vector<std::uint8_t>& p) {
  return (p[0] >> 4) == 4 ? std::size_t(p[0] & 0xf) * 4 : 40;
}

inline std::uint32_t ref_pseudo(const std::vector<std::uint8_t>& p, std::uint8_t proto, std::size_t l4_len) {
  std::uint32_t s = 0;
  const bool v4 = (p[0] >> 4) == 4;
  const std::size_t off = v4 ? 12 : 8, len = v4 ? 8 : 32;
  for (std::size_t i = 0; i < len; i += 2) s += std::uint32_t(p[off + i] << 8 | p[off + i + 1]);
  return s + proto + std::uint32_t(l4_len >> 16) + std::uint32_t(l4_len & 0xffff);
}

// True when the L4 checksum of a complete packet verifies.
inline bool l4_checksum_ok(const std::vector<std::uint8_t>& p) {
  const std::size_t ihl = ip_header_len(p);
  const std::uint8_t proto = (p[0] >> 4) == 4 ? p[9] : p[6];
  return ref_checksum(p.data() + ihl, p.size() - ihl, ref_pseudo(p, proto, p.size() - ihl)) == 0xffff;
}
inline bool ipv4_header_ok(const std::vector<std::uint8_t>& p) {
  return ref_checksum(p.data(), ip_header_len(p)) == 0xffff;
}

inline std::vector<std::uint8_t> build_packet(const PacketSpec& s, const std::vector<std::uint8_t>& payload) {
  std::vector<std::uint8_t> p;
  auto put16 = [&](std::uint16_t v) { p.push_back(std::uint8_t(v >> 8)); p.push_back(std::uint8_t(v)); };
  auto put32 = [&](std::uint32_t v) { put16(std::uint16_t(v >> 16)); put16(std::uint16_t(v)); };
  const std::size_t l4_hdr = s.proto == 6 ? 20 + s.tcp_options.size() : 8;
  const std::size_t l4_len = l4_hdr + payload.size();
  if (s.version == 4) {
    const std::size_t ihl = 20 + s.ip_options.size();
    p.push_back(std::uint8_t(0x40 | ihl / 4));
    p.push_back(0);
    put16(std::uint16_t(ihl + l4_len));
    put16(s.ip_id);
    put16(0x4000);  // DF
    p.push_back(s.ttl);
    p.push_back(s.proto);
    put16(0);
    for (std::uint8_t b : {10, 77, 0, int(s.src_last)}) p.push_back(b);
    for (std::uint8_t b : {10, 77, 0, int(s.dst_last)}) p.push_back(b);
    p.insert(p.end(), s.ip_options.begin(), s.ip_options.end());
    const std::uint16_t c = static_cast<std::uint16_t>(~ref_checksum(p.data(), ihl));
    p[10] = std::uint8_t(c >> 8);
    p[11] = std::uint8_t(c);
  } else {
    put32(0x60000000);
    put16(std::uint16_t(l4_len));
    p.push_back(s.proto);
    p.push_back(s.ttl);
    for (int i = 0; i < 15; ++i) p.push_back(i == 0 ? 0xfd : 0);
    p.push_back(s.src_last);
    for (int i = 0; i < 15; ++i) p.push_back(i == 0 ? 0xfd : 0);
    p.push_back(s.dst_last);
  }
  const std::size_t l4 = p.size();
  put16(s.sport);
  put16(s.dport);
  if (s.proto == 6) {
    put32(s.seq);
    put32(s.ack);
    p.push_back(std::uint8_t((l4_hdr / 4) << 4));
    p.push_back(s.tcp_flags);
    put16(s.window);
    put16(0);
    put16(0);
    p.insert(p.end(), s.tcp_options.begin(), s.tcp_options.end());
  } else {
    put16(std::uint16_t(l4_len));
    put16(0);
  }
  p.insert(p.end(), payload.begin(), payload.end());
  std::uint16_t c = static_cast<std::uint16_t>(~ref_checksum(p.data() + l4, l4_len, ref_pseudo(p, s.proto, l4_len)));
  if (s.proto == 17 && c == 0) c = 0xffff;
  const std::size_t field = l4 + (s.proto == 6 ? 16 : 6);
  p[field] = std::uint8_t(c >> 8);
  p[field + 1] = std::uint8_t(c);
  return p;
}

inline std::vector<std::uint8_t> pattern(std::size_t n, std::uint8_t seed = 1) {
  std::vector<std::uint8_t> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = std::uint8_t(seed + i * 7 + (i >> 8));
  return v;
}

}  // namespace tund::test
