#include "session/inner_mtu.hpp"

#include <algorithm>
#include <cstring>

#include "offload/checksum.hpp"

namespace tund::session {

namespace {
constexpr std::uint8_t kTcp = 6;
constexpr std::uint8_t kIcmp = 1;
constexpr std::uint8_t kIcmp6 = 58;
constexpr std::uint8_t kTcpSyn = 0x02;
constexpr std::uint8_t kOptionEnd = 0, kOptionNop = 1, kOptionMss = 2;

using offload::checksum_update_word;

bool unanswerable_v4(const std::uint8_t* src) {
  return src[0] == 0 || src[0] >= 224 || src[0] == 127;  // this network, multicast, class E, loopback
}
}  // namespace

bool clamp_mss(MutableBytes p, std::uint16_t mss_v4, std::uint16_t mss_v6) {
  if (p.size() < 20) return false;
  const std::uint8_t version = p[0] >> 4;
  std::size_t l4 = 0;
  std::uint16_t mss = 0;
  if (version == 4) {
    l4 = (p[0] & 0x0f) * 4u;
    // Not TCP, or a fragment (only the first one's header would be there).
    if (p[9] != kTcp || (load_be16(p.data() + 6) & 0x3fff) != 0) return false;
    mss = mss_v4;
  } else if (version == 6) {
    if (p.size() < 40 || p[6] != kTcp) return false;  // extension headers: left alone
    l4 = 40;
    mss = mss_v6;
  } else {
    return false;
  }
  if (p.size() < l4 + 20 || !(p[l4 + 13] & kTcpSyn)) return false;
  const std::size_t tcp_len = (p[l4 + 12] >> 4) * 4u;
  if (tcp_len < 20 || l4 + tcp_len > p.size()) return false;
  for (std::size_t i = l4 + 20; i < l4 + tcp_len;) {
    const std::uint8_t kind = p[i];
    if (kind == kOptionEnd) break;
    if (kind == kOptionNop) {
      ++i;
      continue;
    }
    if (i + 1 >= l4 + tcp_len || p[i + 1] < 2 || i + p[i + 1] > l4 + tcp_len) break;  // malformed: leave it
    if (kind == kOptionMss && p[i + 1] == 4) {
      const std::uint16_t old = load_be16(p.data() + i + 2);
      if (old <= mss) return false;
      store_be16(p.data() + i + 2, mss);
      // The checksum is over 16-bit words from the TCP header's start: the
      // value is one word at an even offset, or straddles two after an odd
      // number of NOPs.
      if (((i + 2 - l4) & 1) == 0) {
        checksum_update_word(p.data() + l4 + 16, old, mss);
      } else {
        const std::size_t w = i + 1;  // the option length byte and the value's high byte
        const std::uint16_t old_a = static_cast<std::uint16_t>(p[w] << 8 | (old >> 8));
        const std::uint16_t new_a = static_cast<std::uint16_t>(p[w] << 8 | (mss >> 8));
        const std::uint16_t old_b = static_cast<std::uint16_t>((old & 0xff) << 8 | (w + 3 < p.size() ? p[w + 3] : 0));
        const std::uint16_t new_b = static_cast<std::uint16_t>((mss & 0xff) << 8 | (w + 3 < p.size() ? p[w + 3] : 0));
        checksum_update_word(p.data() + l4 + 16, old_a, new_a);
        checksum_update_word(p.data() + l4 + 16, old_b, new_b);
      }
      return true;
    }
    i += p[i + 1];
  }
  return false;
}

std::size_t too_big_reply(Bytes o, std::size_t inner_mtu, MutableBytes out) {
  if (o.size() < 20 || out.size() < kTooBigReplyMax) return 0;
  const std::uint8_t version = o[0] >> 4;
  if (version == 4) {
    const std::size_t ihl = (o[0] & 0x0f) * 4u;
    const std::uint16_t frag = load_be16(o.data() + 6);
    if (ihl < 20 || o.size() < ihl + 8 || !(frag & 0x4000) || (frag & 0x1fff) != 0) return 0;  // no DF, or not first
    if (unanswerable_v4(o.data() + 12)) return 0;
    if (o[9] == kIcmp && o[ihl] != 0 && o[ihl] != 8 && o[ihl] != 13 && o[ihl] != 15 && o[ihl] != 17) return 0;  // an error itself
    // RFC 1812 4.3.2.3: as much of the original as fits in 576 bytes.
    const std::size_t quoted = std::min<std::size_t>(o.size(), 576 - 28);
    const std::size_t len = 28 + quoted;
    std::memset(out.data(), 0, 28);
    out[0] = 0x45;
    store_be16(out.data() + 2, static_cast<std::uint16_t>(len));
    out[8] = 64;
    out[9] = kIcmp;
    std::memcpy(out.data() + 12, o.data() + 16, 4);  // from the original destination
    std::memcpy(out.data() + 16, o.data() + 12, 4);  // to its source
    offload::fix_ipv4_header_checksum(out.data(), 20);
    std::uint8_t* icmp = out.data() + 20;
    icmp[0] = 3;  // destination unreachable
    icmp[1] = 4;  // fragmentation needed and DF set
    store_be16(icmp + 6, static_cast<std::uint16_t>(std::min<std::size_t>(inner_mtu, 0xffff)));
    std::memcpy(icmp + 8, o.data(), quoted);
    store_be16(icmp + 2, static_cast<std::uint16_t>(~offload::checksum_fold(offload::checksum_add(Bytes(icmp, 8 + quoted)))));
    return len;
  }
  if (version == 6) {
    if (o.size() < 40 || inner_mtu < 1280) return 0;  // IPv6 links carry 1280 at least
    const std::uint8_t* src = o.data() + 8;
    static const std::uint8_t kUnspecified[16] = {};
    if (src[0] == 0xff || std::memcmp(src, kUnspecified, 16) == 0) return 0;  // multicast or unspecified source
    if (o[6] == kIcmp6 && o.size() > 40 && o[40] < 128) return 0;             // an ICMPv6 error itself
    const std::size_t quoted = std::min<std::size_t>(o.size(), kTooBigReplyMax - 48);
    const std::size_t len = 48 + quoted;
    std::memset(out.data(), 0, 48);
    out[0] = 0x60;
    store_be16(out.data() + 4, static_cast<std::uint16_t>(8 + quoted));
    out[6] = kIcmp6;
    out[7] = 64;
    std::memcpy(out.data() + 8, o.data() + 24, 16);
    std::memcpy(out.data() + 24, o.data() + 8, 16);
    std::uint8_t* icmp = out.data() + 40;
    icmp[0] = 2;  // Packet Too Big
    store_be32(icmp + 4, static_cast<std::uint32_t>(inner_mtu));
    std::memcpy(icmp + 8, o.data(), quoted);
    const auto sum = offload::checksum_add(Bytes(icmp, 8 + quoted),
                                           offload::pseudo_header_v6(out.data() + 8, out.data() + 24, kIcmp6,
                                                                     static_cast<std::uint32_t>(8 + quoted)));
    store_be16(icmp + 2, static_cast<std::uint16_t>(~offload::checksum_fold(sum)));
    return len;
  }
  return 0;
}

std::size_t ipv4_fragment_count(Bytes p, std::size_t inner_mtu) {
  if (p.size() < 20 || (p[0] >> 4) != 4 || (p[0] & 0x0f) != 5) return 0;  // options: not copied, so refused
  if (load_be16(p.data() + 6) & 0x4000) return 0;                        // DF: too_big_reply's case
  if (load_be16(p.data() + 2) != p.size() || inner_mtu < 28 || p.size() <= inner_mtu) return 0;
  // A fragment's pieces must stay within the 13-bit offset (a longer one is
  // no packet a host could reassemble).
  if ((load_be16(p.data() + 6) & 0x1fff) * 8u + (p.size() - 20) > 0xffff - 20) return 0;
  const std::size_t chunk = (inner_mtu - 20) & ~std::size_t{7};
  return (p.size() - 20 + chunk - 1) / chunk;
}

std::size_t ipv4_fragment(Bytes p, std::size_t inner_mtu, std::size_t index, MutableBytes out) {
  const std::size_t count = ipv4_fragment_count(p, inner_mtu);
  if (index >= count) return 0;
  const std::size_t chunk = (inner_mtu - 20) & ~std::size_t{7};
  const std::size_t offset = index * chunk;
  const std::size_t len = std::min(chunk, p.size() - 20 - offset);
  if (out.size() < 20 + len) return 0;
  const std::uint16_t frag = load_be16(p.data() + 6);
  // The original may be a fragment already: offsets add up, and only its last
  // piece keeps its more-fragments bit.
  const bool more = index + 1 < count || (frag & 0x2000);
  std::memmove(out.data() + 20, p.data() + 20 + offset, len);
  std::memmove(out.data(), p.data(), 20);
  store_be16(out.data() + 2, static_cast<std::uint16_t>(20 + len));
  store_be16(out.data() + 6, static_cast<std::uint16_t>((more ? 0x2000 : 0) | ((frag & 0x1fff) + offset / 8)));
  offload::fix_ipv4_header_checksum(out.data(), 20);
  return 20 + len;
}

}  // namespace tund::session
