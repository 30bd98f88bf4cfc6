// Receiver indices: random 32-bit values chosen by the receiving side, unique
// among its live keypairs and pending handshakes. Sessions are found by index,
// never by address, so a peer's address can change under a live session.
#pragma once

#include <cstdint>
#include <unordered_map>

#include "tund/rng.hpp"

namespace tund::session {

template <class Owner>
class IndexTable {
 public:
  explicit IndexTable(Rng& rng) : rng_(rng) {}

  // A fresh index owned by `owner` (never 0, never one in use).
  std::uint32_t allocate(Owner* owner) {
    for (;;) {
      const std::uint32_t idx = rng_.next_u32();
      if (idx != 0 && map_.emplace(idx, owner).second) return idx;
    }
  }
  // An index held for an owner that does not exist yet (find() gives nullptr
  // until assign()): lets a handshake be answered before state is committed.
  std::uint32_t reserve() { return allocate(nullptr); }
  void assign(std::uint32_t idx, Owner* owner) { map_[idx] = owner; }
  void release(std::uint32_t idx) { map_.erase(idx); }
  Owner* find(std::uint32_t idx) const {
    const auto it = map_.find(idx);
    return it == map_.end() ? nullptr : it->second;
  }
  std::size_t size() const { return map_.size(); }

 private:
  Rng& rng_;
  std::unordered_map<std::uint32_t, Owner*> map_;
};

}  // namespace tund::session
