// The Internet checksum (RFC 1071) and the TCP/UDP pseudo-header sums, as the
// splitter and the coalescer need them. Sums are kept unfolded in 64 bits so
// pieces can be added before one final fold.
#pragma once

#include <cstdint>

#include "tund/types.hpp"

namespace tund::offload {

// Ones'-complement partial sum of `data` (big-endian 16-bit words; an odd
// last byte is padded with zero), added to `initial`.
std::uint64_t checksum_add(Bytes data, std::uint64_t initial = 0);
// Folds a partial sum to 16 bits (not inverted).
std::uint16_t checksum_fold(std::uint64_t sum);

// Pseudo-header sums for an L4 segment of `l4_len` bytes.
std::uint64_t pseudo_header_v4(const std::uint8_t* src, const std::uint8_t* dst, std::uint8_t proto,
                               std::uint32_t l4_len);
std::uint64_t pseudo_header_v6(const std::uint8_t* src, const std::uint8_t* dst, std::uint8_t proto,
                               std::uint32_t l4_len);

// A checksum field after one 16-bit word it covers changed from `old_word`
// to `new_word`, without summing the rest again (RFC 1624 eqn. 3).
void checksum_update_word(std::uint8_t* field, std::uint16_t old_word, std::uint16_t new_word);

// Recomputes the IPv4 header checksum in place (header of `ihl_bytes`).
void fix_ipv4_header_checksum(std::uint8_t* ip, std::size_t ihl_bytes);

}  // namespace tund::offload
