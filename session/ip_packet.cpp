#include "session/ip_packet.hpp"

namespace tund::session {

std::optional<InnerPacket> parse_inner(Bytes p) {
  if (p.empty()) return std::nullopt;
  InnerPacket info;
  info.version = p[0] >> 4;
  if (info.version == 4) {
    if (p.size() < 20) return std::nullopt;
    const std::size_t ihl = (p[0] & 0x0f) * 4u;
    const std::size_t total = load_be16(p.data() + 2);
    if (ihl < 20 || total < ihl || total > p.size()) return std::nullopt;
    info.length = total;
    info.src4 = load_be32(p.data() + 12);
    info.dst4 = load_be32(p.data() + 16);
    return info;
  }
  if (info.version == 6) {
    if (p.size() < 40) return std::nullopt;
    const std::size_t total = 40u + load_be16(p.data() + 4);
    if (total > p.size()) return std::nullopt;
    info.length = total;
    info.src6 = p.data() + 8;
    info.dst6 = p.data() + 24;
    return info;
  }
  return std::nullopt;
}

}  // namespace tund::session
