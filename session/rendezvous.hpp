// Which member of a hub cluster a client calls home, without coordination:
// rendezvous (highest random weight) hashing of the client's public key with
// each member's position in the cluster's member list. The client (over its
// [[hub]] endpoints) and every member (over [cluster] members, in the same
// order) compute the same order, so load spreads evenly and a member that goes
// away moves only its own clients, each to its own next choice.
//
// The home member's block of the VIP pool: the pool split into the smallest
// power of two of equal blocks that gives every member one. A member
// announces its block as one aggregate route; its home clients get VIPs from
// it, so BGP carries host routes only for clients away from home.
#pragma once

#include <cstdint>
#include <vector>

#include "tund/types.hpp"

namespace tund::session {

// Member positions, best first (a permutation of 0..members-1).
std::vector<std::size_t> member_order(const PublicKey& client, std::size_t members);
inline std::size_t home_member(const PublicKey& client, std::size_t members) {
  return member_order(client, members).front();
}

struct PoolBlock {
  std::uint32_t network = 0;  // host order
  std::uint8_t len = 0;       // prefix length
  bool contains(std::uint32_t a) const { return len == 0 || ((a ^ network) >> (32 - len)) == 0; }
};
// Member `index`'s block of `pool` (network and length). When the pool is too
// small to split (fewer than 4 addresses a block), every block is the pool.
PoolBlock home_block(std::uint32_t pool_network, std::uint8_t pool_len, std::size_t members, std::size_t index);

}  // namespace tund::session
