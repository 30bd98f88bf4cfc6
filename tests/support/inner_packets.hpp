// Inner IPv4 packets for the flow queue's and the pacer's tests.
#pragma once

#include <cstdint>
#include <vector>

#include "tund/types.hpp"

namespace tund::test {

// An IPv4 UDP (or TCP) packet of `size` bytes from port `sport`; `ecn` in the
// low bits of the traffic class; a valid header checksum.
inline std::vector<std::uint8_t> packet4(std::uint16_t sport, std::size_t size, std::uint8_t ecn = 0,
                                  std::uint8_t proto = 17) {
  std::vector<std::uint8_t> p(size, 0);
  p[0] = 0x45;
  p[1] = ecn;
  store_be16(p.data() + 2, static_cast<std::uint16_t>(size));
  p[8] = 64;
  p[9] = proto;
  store_be32(p.data() + 12, 0x0a000002);
  store_be32(p.data() + 16, 0x0a040002);
  std::uint32_t sum = 0;
  for (std::size_t i = 0; i < 20; i += 2) sum += load_be16(p.data() + i);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  store_be16(p.data() + 10, static_cast<std::uint16_t>(~sum));
  store_be16(p.data() + 20, sport);
  store_be16(p.data() + 22, 5000);
  return p;
}

}  // namespace tund::test
