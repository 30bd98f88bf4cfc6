#include "crypto/replay_window.hpp"

namespace tund::crypto {

bool ReplayWindow::may_accept(std::uint64_t counter) const {
  if (counter >= limits::kRejectAfterMessages) return false;
  if (next_ == 0 || counter >= next_) return true;
  if (next_ - 1 - counter >= limits::kReplayWindow) return false;
  return !seen(counter);
}

bool ReplayWindow::seen(std::uint64_t counter) const {
  if (next_ == 0 || counter >= next_ || next_ - 1 - counter >= limits::kReplayWindow) return false;
  const std::uint64_t block = (counter / kBlockBits) % kBlocks;
  return (bitmap_[block] >> (counter % kBlockBits)) & 1;
}

bool ReplayWindow::accept(std::uint64_t counter) {
  if (!may_accept(counter)) return false;
  const std::uint64_t block_index = counter / kBlockBits;
  if (next_ == 0 || counter >= next_) {
    // Advance: clear every block between the old top block and the new one.
    const std::uint64_t old_top = next_ == 0 ? block_index : (next_ - 1) / kBlockBits;
    std::uint64_t diff = block_index - old_top;
    if (next_ == 0) diff = kBlocks;  // first packet: start from a clean ring
    if (diff > kBlocks) diff = kBlocks;
    for (std::uint64_t i = 1; i <= diff; ++i)
      bitmap_[(old_top + i) % kBlocks] = 0;
    if (next_ == 0) bitmap_[block_index % kBlocks] = 0;
    next_ = counter + 1;
  }
  bitmap_[block_index % kBlocks] |= std::uint64_t{1} << (counter % kBlockBits);
  return true;
}

}  // namespace tund::crypto
