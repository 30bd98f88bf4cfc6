// The virtio_net_hdr that a TUN opened with IFF_VNET_HDR puts before every
// packet it hands out and expects before every packet written to it. Fields
// are in the host's byte order (a TUN without TUNSETVNETLE/BE is "native").
#pragma once

#include <cstdint>
#include <cstring>

namespace tund::offload {

inline constexpr std::size_t kVnetHeaderSize = 10;

// flags
inline constexpr std::uint8_t kNeedsCsum = 1;  // L4 checksum to complete: csum_start/csum_offset
inline constexpr std::uint8_t kDataValid = 2;  // checksums already verified
// gso_type
inline constexpr std::uint8_t kGsoNone = 0;
inline constexpr std::uint8_t kGsoTcpV4 = 1;
inline constexpr std::uint8_t kGsoUdp = 3;  // UFO: never enabled, refused
inline constexpr std::uint8_t kGsoTcpV6 = 4;
inline constexpr std::uint8_t kGsoUdpL4 = 5;  // USO (Linux 6.2+)
inline constexpr std::uint8_t kGsoEcn = 0x80;

struct VnetHeader {
  std::uint8_t flags = 0;
  std::uint8_t gso_type = kGsoNone;
  std::uint16_t hdr_len = 0;   // hint only: recomputed from the packet
  std::uint16_t gso_size = 0;  // payload bytes per segment
  std::uint16_t csum_start = 0;
  std::uint16_t csum_offset = 0;

  static VnetHeader read(const std::uint8_t* p) {
    VnetHeader h;
    h.flags = p[0];
    h.gso_type = p[1];
    std::memcpy(&h.hdr_len, p + 2, 2);
    std::memcpy(&h.gso_size, p + 4, 2);
    std::memcpy(&h.csum_start, p + 6, 2);
    std::memcpy(&h.csum_offset, p + 8, 2);
    return h;
  }
  void write(std::uint8_t* p) const {
    p[0] = flags;
    p[1] = gso_type;
    std::memcpy(p + 2, &hdr_len, 2);
    std::memcpy(p + 4, &gso_size, 2);
    std::memcpy(p + 6, &csum_start, 2);
    std::memcpy(p + 8, &csum_offset, 2);
  }
};

}  // namespace tund::offload
