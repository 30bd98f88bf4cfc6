// Splits one packet read from a TUN opened with IFF_VNET_HDR into inner
// packets no larger than the tunnel MTU, as the kernel's own GSO would have
// put them on a wire: a TCP super-packet (TSO, IPv4 or IPv6) becomes segments
// of gso_size payload bytes with their own IP lengths, IPv4 IDs and header
// checksums, TCP sequence numbers and checksums (FIN/PSH only on the last,
// CWR only on the first); a UDP one (USO) becomes datagrams with their own
// UDP lengths and checksums. A packet without GSO is copied, its checksum
// completed when the kernel left it partial (NEEDS_CSUM).
#pragma once

#include <cstddef>
#include <cstdint>

#include "offload/vnet_header.hpp"
#include "tund/types.hpp"

namespace tund::offload {

enum class SplitError : std::uint8_t {
  kNone,
  kMalformed,        // lengths or headers that do not add up
  kUnsupported,      // GSO type or IPv6 extension headers we do not split
  kTooManySegments,  // more segments than output slots
  kSegmentTooBig,    // one segment would not fit an output slot (MTU)
};

// Where segments go: segment i at base + i * stride, at most `capacity` bytes,
// at most `slots` of them. Lengths are written to lengths[i].
struct SegmentSlots {
  std::uint8_t* base = nullptr;
  std::size_t stride = 0;
  std::size_t capacity = 0;
  std::size_t slots = 0;
  std::size_t* lengths = nullptr;
};

struct SplitResult {
  std::size_t count = 0;
  SplitError error = SplitError::kNone;
};

// `packet` is what followed the vnet header. It is not modified.
SplitResult gso_split(const VnetHeader& header, Bytes packet, const SegmentSlots& out);

}  // namespace tund::offload
