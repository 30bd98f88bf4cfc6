#include "offload/gso_split.hpp"

#include <algorithm>
#include <cstring>

#include "offload/checksum.hpp"

namespace tund::offload {

namespace {

constexpr std::uint8_t kTcp = 6;
constexpr std::uint8_t kUdp = 17;
constexpr std::uint8_t kTcpFin = 0x01;
constexpr std::uint8_t kTcpPsh = 0x08;
constexpr std::uint8_t kTcpCwr = 0x80;

SplitResult fail(SplitError e) { return {0, e}; }

// The IP header of a packet: version, header length, L4 protocol. Lengths are
// checked against the bytes present; trailing padding beyond the IP length is cut.
struct IpInfo {
  int version = 0;
  std::size_t ip_len = 0;     // header bytes
  std::size_t total = 0;      // IP length (≤ packet size)
  std::uint8_t proto = 0;
};

bool parse_ip(Bytes p, IpInfo& ip) {
  if (p.empty()) return false;
  ip.version = p[0] >> 4;
  if (ip.version == 4) {
    if (p.size() < 20) return false;
    ip.ip_len = std::size_t(p[0] & 0x0f) * 4;
    ip.total = load_be16(p.data() + 2);
    ip.proto = p[9];
    return ip.ip_len >= 20 && ip.total >= ip.ip_len && ip.total <= p.size();
  }
  if (ip.version == 6) {
    if (p.size() < 40) return false;
    ip.ip_len = 40;
    ip.total = 40 + std::size_t(load_be16(p.data() + 4));
    ip.proto = p[6];
    return ip.total <= p.size();
  }
  return false;
}

std::uint64_t pseudo(const IpInfo& ip, const std::uint8_t* pkt, std::uint8_t proto, std::size_t l4_len) {
  return ip.version == 4 ? pseudo_header_v4(pkt + 12, pkt + 16, proto, static_cast<std::uint32_t>(l4_len))
                         : pseudo_header_v6(pkt + 8, pkt + 24, proto, static_cast<std::uint32_t>(l4_len));
}

void set_ip_length(const IpInfo& ip, std::uint8_t* pkt, std::size_t total) {
  if (ip.version == 4) {
    store_be16(pkt + 2, static_cast<std::uint16_t>(total));
    fix_ipv4_header_checksum(pkt, ip.ip_len);
  } else {
    store_be16(pkt + 4, static_cast<std::uint16_t>(total - 40));
  }
}

SplitResult copy_one(const VnetHeader& h, Bytes p, const IpInfo& ip, const SegmentSlots& out) {
  if (out.slots < 1) return fail(SplitError::kTooManySegments);
  if (ip.total > out.capacity) return fail(SplitError::kSegmentTooBig);
  std::uint8_t* dst = out.base;
  std::memcpy(dst, p.data(), ip.total);
  if (h.flags & kNeedsCsum) {
    // The field holds the pseudo-header sum; summing over it completes it.
    const std::size_t start = h.csum_start, field = std::size_t(h.csum_start) + h.csum_offset;
    if (start >= ip.total || field + 2 > ip.total) return fail(SplitError::kMalformed);
    store_be16(dst + field,
               static_cast<std::uint16_t>(~checksum_fold(checksum_add(Bytes(dst + start, ip.total - start)))));
  }
  out.lengths[0] = ip.total;
  return {1, SplitError::kNone};
}

}  // namespace

SplitResult gso_split(const VnetHeader& h, Bytes p, const SegmentSlots& out) {
  IpInfo ip;
  if (!parse_ip(p, ip)) return fail(SplitError::kMalformed);
  const std::uint8_t gso = h.gso_type & ~kGsoEcn;
  if (gso == kGsoNone) return copy_one(h, p, ip, out);

  const bool tcp = gso == kGsoTcpV4 || gso == kGsoTcpV6;
  if (!tcp && gso != kGsoUdpL4) return fail(SplitError::kUnsupported);
  if ((gso == kGsoTcpV4 && ip.version != 4) || (gso == kGsoTcpV6 && ip.version != 6))
    return fail(SplitError::kMalformed);
  if (ip.proto != (tcp ? kTcp : kUdp)) return fail(ip.version == 6 ? SplitError::kUnsupported : SplitError::kMalformed);
  if (ip.version == 4 && (load_be16(p.data() + 6) & 0x3fff)) return fail(SplitError::kMalformed);  // a fragment

  std::size_t l4_hdr = 8;
  if (tcp) {
    if (ip.total < ip.ip_len + 20) return fail(SplitError::kMalformed);
    l4_hdr = std::size_t(p[ip.ip_len + 12] >> 4) * 4;
    if (l4_hdr < 20) return fail(SplitError::kMalformed);
  }
  const std::size_t hdr = ip.ip_len + l4_hdr;
  if (hdr > ip.total || h.gso_size == 0) return fail(SplitError::kMalformed);
  const std::size_t payload = ip.total - hdr;
  if (payload == 0) {
    VnetHeader plain = h;
    plain.gso_type = kGsoNone;
    return copy_one(plain, p, ip, out);
  }
  const std::size_t mss = h.gso_size;
  const std::size_t count = (payload + mss - 1) / mss;
  if (count > out.slots) return fail(SplitError::kTooManySegments);
  if (hdr + std::min(mss, payload) > out.capacity) return fail(SplitError::kSegmentTooBig);

  const std::uint16_t first_id = ip.version == 4 ? load_be16(p.data() + 4) : 0;
  const std::uint32_t first_seq = tcp ? load_be32(p.data() + ip.ip_len + 4) : 0;
  const std::uint8_t flags = tcp ? p[ip.ip_len + 13] : 0;
  for (std::size_t i = 0; i < count; ++i) {
    const std::size_t off = i * mss;
    const std::size_t chunk = std::min(mss, payload - off);
    std::uint8_t* seg = out.base + i * out.stride;
    std::memcpy(seg, p.data(), hdr);
    std::memcpy(seg + hdr, p.data() + hdr + off, chunk);
    const std::size_t seg_len = hdr + chunk;
    if (ip.version == 4) store_be16(seg + 4, static_cast<std::uint16_t>(first_id + i));
    set_ip_length(ip, seg, seg_len);
    std::uint8_t* l4 = seg + ip.ip_len;
    const std::size_t l4_len = seg_len - ip.ip_len;
    if (tcp) {
      store_be32(l4 + 4, static_cast<std::uint32_t>(first_seq + off));
      std::uint8_t f = flags;
      if (i + 1 < count) f &= static_cast<std::uint8_t>(~(kTcpFin | kTcpPsh));
      if (i > 0) f &= static_cast<std::uint8_t>(~kTcpCwr);
      l4[13] = f;
      l4[16] = l4[17] = 0;
      const std::uint16_t c = static_cast<std::uint16_t>(
          ~checksum_fold(checksum_add(Bytes(l4, l4_len), pseudo(ip, seg, kTcp, l4_len))));
      store_be16(l4 + 16, c);
    } else {
      store_be16(l4 + 4, static_cast<std::uint16_t>(l4_len));
      l4[6] = l4[7] = 0;
      std::uint16_t c = static_cast<std::uint16_t>(
          ~checksum_fold(checksum_add(Bytes(l4, l4_len), pseudo(ip, seg, kUdp, l4_len))));
      if (c == 0) c = 0xffff;  // zero means "no checksum" in UDP
      store_be16(l4 + 6, c);
    }
    out.lengths[i] = seg_len;
  }
  return {count, SplitError::kNone};
}

}  // namespace tund::offload
