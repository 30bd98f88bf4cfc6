// Minimal parsing of inner IP packets: enough to find their true length (so
// padding is never delivered), their version and addresses. Never trusts a
// length field beyond the bytes that are there.
#pragma once

#include <cstdint>
#include <optional>

#include "tund/types.hpp"

namespace tund::session {

struct InnerPacket {
  std::uint8_t version = 0;   // 4 or 6
  std::size_t length = 0;     // from the IP header, ≤ the bytes given
  std::uint32_t src4 = 0;     // host order, IPv4 only
  std::uint32_t dst4 = 0;
  const std::uint8_t* src6 = nullptr;  // 16 bytes, IPv6 only
  const std::uint8_t* dst6 = nullptr;
};

std::optional<InnerPacket> parse_inner(Bytes packet);

}  // namespace tund::session
