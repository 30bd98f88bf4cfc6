// Sliding anti-replay window over 64-bit counters, RFC 6479 style: a ring of
// 64-bit blocks indexed by counter / 64, so advancing the window clears whole
// blocks instead of shifting a bitmap. Guarantees limits::kReplayWindow (8192)
// counters below the highest one seen.
//
// Split in two so a receiver can reject cheaply before spending an AEAD open
// and commit only after the packet authenticated:
//   if (!w.may_accept(c)) drop;  if (!open(...)) drop;  if (!w.accept(c)) drop;
#pragma once

#include <array>
#include <cstdint>

#include "tund/limits.hpp"

namespace tund::crypto {

class ReplayWindow {
 public:
  // True when `counter` is new: not seen, not too old, below the hard limit.
  bool may_accept(std::uint64_t counter) const;
  // Marks `counter` seen; false if it was not acceptable (replay or too old).
  bool accept(std::uint64_t counter);

  // Highest counter accepted so far, or nullopt-like: has_any() is false when empty.
  bool has_any() const { return next_ != 0; }
  std::uint64_t highest() const { return next_ - 1; }
  // Whether `counter` (≤ highest, within the window) was seen. For acknowledgements.
  bool seen(std::uint64_t counter) const;

 private:
  static constexpr std::uint64_t kBlockBits = 64;
  static constexpr std::uint64_t kBlocks = limits::kReplayBlocks;

  // One past the highest counter accepted; 0 when nothing was accepted yet.
  std::uint64_t next_ = 0;
  std::array<std::uint64_t, kBlocks> bitmap_{};
};

}  // namespace tund::crypto
