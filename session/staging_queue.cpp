#include "session/staging_queue.hpp"

#include <algorithm>
#include <cstring>

#include "tund/limits.hpp"

namespace tund::session {

std::optional<DropReason> StagingQueue::push(Bytes inner) {
  if (packets_.size() >= limits::kStagedPackets) return DropReason::kStagingFull;
  // The copy, and the ring's next size when the ring is full.
  const std::size_t slots = packets_.size() == packets_.capacity() ? packets_.grown_capacity() - packets_.capacity() : 0;
  if (!account_.allows(inner.size() + slots * sizeof(Buffer))) return DropReason::kStagingTotalFull;
  const std::size_t before = slot_bytes();
  Buffer copy(inner.begin(), inner.end());
  const std::size_t copied = copy.capacity();
  packets_.push_back(std::move(copy));
  account_.changed(before, slot_bytes() + copied);
  return std::nullopt;
}

std::size_t StagingQueue::pop(MutableBytes out) {
  if (packets_.empty()) return 0;
  const Buffer& front = packets_.front();
  const std::size_t n = std::min(front.size(), out.size());
  std::memcpy(out.data(), front.data(), n);
  drop_front();
  return n;
}

void StagingQueue::clear() {
  while (!packets_.empty()) drop_front();
}

void StagingQueue::drop_front() {
  account_.less(packets_.front().capacity());
  packets_.front() = Buffer();  // freed now: the ring keeps slots, not packets
  packets_.pop_front();
  if (packets_.empty()) {
    const std::size_t before = slot_bytes();
    packets_.shrink(0);
    account_.changed(before, slot_bytes());
  }
}

}  // namespace tund::session
