// Common vocabulary types shared by every layer. No logic.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>

namespace tund {

// Monotonic time as seen by the core. The core never reads a clock: the caller
// passes `Time` in and the core reports deadlines back as `Time`.
using Clock = std::chrono::steady_clock;
using Time = Clock::time_point;
using Duration = std::chrono::nanoseconds;
inline constexpr Time kNever = Time::max();

using Bytes = std::span<const std::uint8_t>;
using MutableBytes = std::span<std::uint8_t>;

inline constexpr std::size_t kKeySize = 32;
using Key = std::array<std::uint8_t, kKeySize>;
using PublicKey = Key;
using PrivateKey = Key;

// A wall-clock instant used only inside the handshake as a replay guard
// (strictly increasing per initiator). Nanoseconds since the Unix epoch.
using WallTime = std::uint64_t;

// Little/big endian loads and stores on unaligned byte buffers.
inline std::uint16_t load_le16(const std::uint8_t* p) { return std::uint16_t(p[0] | p[1] << 8); }
inline void store_le16(std::uint8_t* p, std::uint16_t v) {
  p[0] = static_cast<std::uint8_t>(v);
  p[1] = static_cast<std::uint8_t>(v >> 8);
}
inline std::uint32_t load_le32(const std::uint8_t* p) {
  return std::uint32_t(p[0]) | std::uint32_t(p[1]) << 8 | std::uint32_t(p[2]) << 16 |
         std::uint32_t(p[3]) << 24;
}
inline std::uint64_t load_le64(const std::uint8_t* p) {
  return std::uint64_t(load_le32(p)) | std::uint64_t(load_le32(p + 4)) << 32;
}
inline void store_le32(std::uint8_t* p, std::uint32_t v) {
  p[0] = std::uint8_t(v);
  p[1] = std::uint8_t(v >> 8);
  p[2] = std::uint8_t(v >> 16);
  p[3] = std::uint8_t(v >> 24);
}
inline void store_le64(std::uint8_t* p, std::uint64_t v) {
  store_le32(p, std::uint32_t(v));
  store_le32(p + 4, std::uint32_t(v >> 32));
}
inline std::uint16_t load_be16(const std::uint8_t* p) { return std::uint16_t(p[0] << 8 | p[1]); }
// The netmask of an IPv4 prefix length (host order); 0 for /0 and the full
// mask from /32 on. The one place such a mask is built: a shift by 32 - len
// is undefined for len 0, and for a len above 32 that a peer could send.
inline constexpr std::uint32_t prefix_mask_v4(unsigned len) {
  return len == 0 ? 0u : len >= 32 ? ~0u : ~0u << (32 - len);
}

inline std::uint32_t load_be32(const std::uint8_t* p) {
  return std::uint32_t(p[0]) << 24 | std::uint32_t(p[1]) << 16 | std::uint32_t(p[2]) << 8 |
         std::uint32_t(p[3]);
}
inline std::uint64_t load_be64(const std::uint8_t* p) {
  return std::uint64_t(load_be32(p)) << 32 | load_be32(p + 4);
}
inline void store_be16(std::uint8_t* p, std::uint16_t v) {
  p[0] = std::uint8_t(v >> 8);
  p[1] = std::uint8_t(v);
}
inline void store_be32(std::uint8_t* p, std::uint32_t v) {
  p[0] = std::uint8_t(v >> 24);
  p[1] = std::uint8_t(v >> 16);
  p[2] = std::uint8_t(v >> 8);
  p[3] = std::uint8_t(v);
}
inline void store_be64(std::uint8_t* p, std::uint64_t v) {
  store_be32(p, std::uint32_t(v >> 32));
  store_be32(p + 4, std::uint32_t(v));
}

}  // namespace tund
