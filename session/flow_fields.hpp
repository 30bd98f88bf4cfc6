// The fields that name an inner packet's flow and its class: family, DSCP,
// protocol, addresses and, for TCP and UDP, ports. Shared by the redundancy
// policy (which packets travel twice) and the flow queue (which flow a packet
// waits in). Never reads beyond the bytes given.
#pragma once

#include <cstdint>

#include "tund/types.hpp"

namespace tund::session {

inline constexpr std::uint8_t kProtoTcp = 6, kProtoUdp = 17;

struct FlowFields {
  std::uint8_t family = 0, dscp = 0, proto = 0;
  const std::uint8_t* src = nullptr;  // 4 or 16 bytes, in the packet
  const std::uint8_t* dst = nullptr;
  // Ports are read only from an unfragmented IPv4 packet or an IPv6 one whose
  // next header is TCP or UDP itself (extension headers are not walked).
  bool has_ports = false;
  std::uint16_t sport = 0, dport = 0;
};

// False for anything that is not an IPv4 or IPv6 header.
bool read_flow_fields(Bytes packet, FlowFields& f);

// The flow's hash under `seed` (a secret per queue, so that nobody outside
// can aim flows at one bucket): the same for every packet of one 5-tuple, in
// one direction.
std::uint64_t flow_hash(const FlowFields& f, std::uint64_t seed);

}  // namespace tund::session
