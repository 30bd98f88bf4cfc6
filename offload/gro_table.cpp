#include "offload/gro_table.hpp"

#include <cstring>

#include "offload/checksum.hpp"

namespace tund::offload {

namespace {

constexpr std::uint8_t kTcp = 6;
constexpr std::uint8_t kTcpAck = 0x10;
constexpr std::uint8_t kTcpPsh = 0x08;

std::uint64_t mix(std::uint64_t h, std::uint64_t v) { return (h ^ v) * 0x100000001b3ull; }

std::uint64_t tcp_pseudo(const std::uint8_t* pkt, int version, std::size_t l4_len) {
  return version == 4 ? pseudo_header_v4(pkt + 12, pkt + 16, kTcp, static_cast<std::uint32_t>(l4_len))
                      : pseudo_header_v6(pkt + 8, pkt + 24, kTcp, static_cast<std::uint32_t>(l4_len));
}

}  // namespace

GroTable::GroTable(std::size_t items, bool merge)
    // Zeroed: every page resident from the start (see daemon/udp_socket.cpp).
    : storage_(new std::uint8_t[items * (kVnetHeaderSize + kMaxPacket)]()), items_(items), merge_(merge) {
  for (std::size_t i = 0; i < items; ++i) items_[i].data = storage_.get() + i * (kVnetHeaderSize + kMaxPacket);
}

bool GroTable::add(Bytes p) {
  // Find the IP and TCP headers; anything we do not coalesce passes alone.
  std::size_t ip_len = 0, total = 0;
  int version = p.empty() ? 0 : p[0] >> 4;
  std::uint8_t proto = 0;
  bool plain_ip = false;  // no options, not a fragment
  if (version == 4 && p.size() >= 20) {
    ip_len = std::size_t(p[0] & 0x0f) * 4;
    total = load_be16(p.data() + 2);
    proto = p[9];
    plain_ip = ip_len == 20 && (load_be16(p.data() + 6) & 0x3fff) == 0;
  } else if (version == 6 && p.size() >= 40) {
    ip_len = 40;
    total = 40 + std::size_t(load_be16(p.data() + 4));
    proto = p[6];
    plain_ip = true;
  }
  const bool sized = ip_len >= 20 && total >= ip_len && total <= p.size();
  if (sized) p = p.first(total);  // link padding is not part of the packet
  const bool has_ports = sized && proto == kTcp && total >= ip_len + 20;
  std::uint64_t flow = 0;
  if (has_ports) {
    const std::size_t addr_off = version == 4 ? 12 : 8, addr_len = version == 4 ? 8 : 32;
    flow = mix(0xcbf29ce484222325ull, static_cast<std::uint64_t>(version));
    for (std::size_t i = 0; i < addr_len; i += 4) flow = mix(flow, load_be32(p.data() + addr_off + i));
    flow = mix(flow, load_be32(p.data() + ip_len));  // both ports
  }
  std::size_t tcp_len = 0;
  bool candidate = merge_ && has_ports && plain_ip;
  if (candidate) {
    tcp_len = std::size_t(p[ip_len + 12] >> 4) * 4;
    const std::uint8_t flags = p[ip_len + 13];
    candidate = tcp_len >= 20 && ip_len + tcp_len < total && (flags & ~kTcpPsh) == kTcpAck;
  }
  const bool csum_ok =
      candidate &&
      checksum_fold(checksum_add(p.subspan(ip_len), tcp_pseudo(p.data(), version, total - ip_len))) == 0xffff;

  // Only the newest item of this flow may grow; an older one, or one this
  // packet cannot extend (a FIN, a gap, a bad checksum), is closed so that
  // nothing of the flow is ever merged ahead of a packet that came before it.
  if (has_ports) {
    for (std::size_t i = used_; i-- > 0;) {
      Item& it = items_[i];
      if (it.flow != flow || !it.flow_key) continue;
      if (candidate && it.open && csum_ok && try_merge(it, p, ip_len, tcp_len, total - ip_len - tcp_len))
        return true;
      it.open = false;
      break;
    }
  }
  if (used_ == items_.size()) return false;
  start(p, candidate, csum_ok, ip_len, tcp_len, flow);
  items_[used_ - 1].flow_key = has_ports;
  return true;
}

void GroTable::start(Bytes p, bool tcp_candidate, bool csum_ok, std::size_t ip_len, std::size_t tcp_len,
                     std::uint64_t flow) {
  Item& it = items_[used_++];
  const std::size_t n = std::min(p.size(), kMaxPacket);
  if (n) std::memcpy(packet(it), p.data(), n);  // an empty packet may come with no buffer at all
  it.len = n;
  it.segments = 1;
  it.valid_csum = tcp_candidate && csum_ok;
  it.flow = flow;
  it.version = static_cast<std::uint8_t>(n ? p[0] >> 4 : 0);
  it.ip_len = static_cast<std::uint8_t>(ip_len);
  it.tcp_len = static_cast<std::uint8_t>(tcp_len);
  it.open = false;
  if (!tcp_candidate) return;
  const std::uint8_t* tcp = p.data() + ip_len;
  const std::size_t payload = n - ip_len - tcp_len;
  it.gso_size = static_cast<std::uint16_t>(payload);
  it.next_seq = load_be32(tcp + 4) + static_cast<std::uint32_t>(payload);
  it.next_ip_id = it.version == 4 ? static_cast<std::uint16_t>(load_be16(p.data() + 4) + 1) : 0;
  it.open = csum_ok && !(tcp[13] & kTcpPsh);
}

bool GroTable::try_merge(Item& it, Bytes p, std::size_t ip_len, std::size_t tcp_len, std::size_t payload) {
  const std::uint8_t* a = packet(it);
  const std::uint8_t* b = p.data();
  const int version = b[0] >> 4;
  if (it.version != version || it.ip_len != ip_len || it.tcp_len != tcp_len) return false;
  if (version == 4) {
    // version/IHL, TOS; flags and fragment offset; TTL, protocol; addresses.
    if (std::memcmp(a, b, 2) || std::memcmp(a + 6, b + 6, 4) || std::memcmp(a + 12, b + 12, 8)) return false;
    if (load_be16(b + 4) != it.next_ip_id) return false;
  } else {
    // version, traffic class, flow label; next header, hop limit; addresses.
    if (std::memcmp(a, b, 4) || std::memcmp(a + 6, b + 6, 34)) return false;
  }
  const std::uint8_t* ta = a + ip_len;
  const std::uint8_t* tb = b + ip_len;
  // Ports; ACK; data offset; window and urgent pointer; options. Flags: the
  // item's are plain ACK (a PSH closes it), the newcomer's ACK or ACK|PSH.
  if (std::memcmp(ta, tb, 4) || std::memcmp(ta + 8, tb + 8, 5) || std::memcmp(ta + 14, tb + 14, 2) ||
      std::memcmp(ta + 18, tb + 18, tcp_len - 18))
    return false;
  if (load_be32(tb + 4) != it.next_seq || payload > it.gso_size || it.len + payload > kMaxPacket) return false;

  std::memcpy(packet(it) + it.len, b + ip_len + tcp_len, payload);
  it.len += payload;
  ++it.segments;
  it.next_seq += static_cast<std::uint32_t>(payload);
  ++it.next_ip_id;
  ++merged_;
  if (payload < it.gso_size) it.open = false;  // a short segment ends a super-packet
  if (tb[13] & kTcpPsh) {
    packet(it)[ip_len + 13] |= kTcpPsh;
    it.open = false;
  }
  return true;
}

void GroTable::finish() {
  for (std::size_t i = 0; i < used_; ++i) {
    Item& it = items_[i];
    VnetHeader h;
    if (it.segments > 1) {
      std::uint8_t* pkt = packet(it);
      if (it.version == 4) {
        store_be16(pkt + 2, static_cast<std::uint16_t>(it.len));
        fix_ipv4_header_checksum(pkt, it.ip_len);
      } else {
        store_be16(pkt + 4, static_cast<std::uint16_t>(it.len - 40));
      }
      // A partial checksum: the kernel completes it per segment, or trusts it.
      store_be16(pkt + it.ip_len + 16, checksum_fold(tcp_pseudo(pkt, it.version, it.len - it.ip_len)));
      h.flags = kNeedsCsum;
      h.gso_type = it.version == 4 ? kGsoTcpV4 : kGsoTcpV6;
      h.hdr_len = static_cast<std::uint16_t>(it.ip_len + it.tcp_len);
      h.gso_size = it.gso_size;
      h.csum_start = it.ip_len;
      h.csum_offset = 16;
    } else if (it.valid_csum) {
      h.flags = kDataValid;
    }
    h.write(it.data);
  }
}

}  // namespace tund::offload
