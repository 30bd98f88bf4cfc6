#include "session/flow_fields.hpp"

#include <cstring>

namespace tund::session {

bool read_flow_fields(Bytes p, FlowFields& f) {
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
  if (l4 && (f.proto == kProtoTcp || f.proto == kProtoUdp) && p.size() >= l4 + 4) {
    f.has_ports = true;
    f.sport = load_be16(p.data() + l4);
    f.dport = load_be16(p.data() + l4 + 2);
  }
  return true;
}

namespace {
// A multiply-xorshift step (the finaliser of splitmix64): each input word
// changes every output bit.
std::uint64_t mix(std::uint64_t h, std::uint64_t word) {
  h ^= word + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ull;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebull;
  return h ^ (h >> 31);
}
std::uint64_t load_word(const std::uint8_t* p, std::size_t n) {
  std::uint64_t w = 0;
  std::memcpy(&w, p, n);
  return w;
}
}  // namespace

std::uint64_t flow_hash(const FlowFields& f, std::uint64_t seed) {
  const std::size_t len = f.family == 4 ? 4 : 16;
  std::uint64_t h = mix(seed, (std::uint64_t{f.family} << 8) | f.proto);
  for (std::size_t i = 0; i < len; i += 8) {
    h = mix(h, load_word(f.src + i, len - i < 8 ? len - i : 8));
    h = mix(h, load_word(f.dst + i, len - i < 8 ? len - i : 8));
  }
  if (f.has_ports) h = mix(h, (std::uint64_t{f.sport} << 16) | f.dport);
  return h;
}

}  // namespace tund::session
