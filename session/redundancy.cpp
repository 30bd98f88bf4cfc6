#include "session/redundancy.hpp"

namespace tund::session {

namespace {

constexpr std::uint8_t kTcp = 6, kUdp = 17;

struct Fields {
  std::uint8_t family = 0, dscp = 0, proto = 0;
  const std::uint8_t* src = nullptr;
  const std::uint8_t* dst = nullptr;
  bool has_ports = false;
  std::uint16_t sport = 0, dport = 0;
};

bool read_fields(Bytes p, Fields& f) {
  std::size_t l4 = 0;
  if (p.size() >= 20 && (p[0] >> 4) == 4) {
    f.family = 4;
    f.dscp = p[1] >> 2;
    f.proto = p[9];
    f.src = p.data() + 12;
    f.dst = p.data() + 16;
    l4 = (p[0] & 0x0f) * 4u;
    if (l4 < 20 || (load_be16(p.data() + 6) & 0x1fff) != 0) l4 = 0;  // options gone wrong, or a later fragment
  } else if (p.size() >= 40 && (p[0] >> 4) == 6) {
    f.family = 6;
    f.dscp = static_cast<std::uint8_t>(((p[0] & 0x0f) << 2) | (p[1] >> 6));
    f.proto = p[6];
    f.src = p.data() + 8;
    f.dst = p.data() + 24;
    l4 = 40;
  } else {
    return false;
  }
  if (l4 && (f.proto == kTcp || f.proto == kUdp) && p.size() >= l4 + 4) {
    f.has_ports = true;
    f.sport = load_be16(p.data() + l4);
    f.dport = load_be16(p.data() + l4 + 2);
  }
  return true;
}

bool matches(const RedundancySelector& s, const Fields& f) {
  using K = RedundancySelector::Kind;
  switch (s.kind) {
    case K::kDscp: return f.dscp == s.dscp;
    case K::kUdp:
    case K::kTcp: {
      if (!f.has_ports || f.proto != (s.kind == K::kUdp ? kUdp : kTcp)) return false;
      const auto in = [&](std::uint16_t port) { return port >= s.port_low && port <= s.port_high; };
      return in(f.sport) || in(f.dport);
    }
    case K::kPrefix: return s.prefix.contains(f.family, f.src) || s.prefix.contains(f.family, f.dst);
  }
  return false;
}

}  // namespace

bool redundant(const RedundancyPolicy& policy, Bytes inner) {
  if (policy.empty()) return false;
  Fields f;
  if (!read_fields(inner, f)) return false;
  for (const auto& s : policy)
    if (matches(s, f)) return true;
  return false;
}

}  // namespace tund::session
