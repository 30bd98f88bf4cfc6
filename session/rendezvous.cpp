#include "session/rendezvous.hpp"

#include <algorithm>
#include <array>

#include "crypto/primitives.hpp"

namespace tund::session {

std::vector<std::size_t> member_order(const PublicKey& client, std::size_t members) {
  std::vector<std::pair<std::uint64_t, std::size_t>> scored;
  scored.reserve(members);
  for (std::size_t i = 0; i < members; ++i) {
    std::array<std::uint8_t, 4> index{};
    store_le32(index.data(), static_cast<std::uint32_t>(i));
    crypto::Hash h;
    crypto::sha256(Bytes(client.data(), client.size()), Bytes(index.data(), index.size()), h);
    scored.emplace_back(load_le64(h.data()), i);
  }
  // Highest weight first; equal weights (never seen with SHA-256) by position.
  std::sort(scored.begin(), scored.end(), [](const auto& a, const auto& b) {
    return a.first != b.first ? a.first > b.first : a.second < b.second;
  });
  std::vector<std::size_t> order;
  order.reserve(members);
  for (const auto& s : scored) order.push_back(s.second);
  return order;
}

PoolBlock home_block(std::uint32_t pool_network, std::uint8_t pool_len, std::size_t members, std::size_t index) {
  unsigned split_bits = 0;
  while ((std::size_t{1} << split_bits) < members) ++split_bits;
  const unsigned len = pool_len + split_bits;
  const std::uint32_t mask = pool_len == 0 ? 0 : ~0u << (32 - pool_len);
  if (len > 30 || members == 0) return {pool_network & mask, pool_len};
  const std::uint32_t block_size = 1u << (32 - len);
  return {(pool_network & mask) + static_cast<std::uint32_t>(index) * block_size, static_cast<std::uint8_t>(len)};
}

}  // namespace tund::session
