// Inner packets that wait for a key (the first handshake, keys the peer has
// not confirmed yet) or, on a hub, for a new return path's validation: copies
// in arrival order, at most limits::kStagedPackets a session and, on a hub,
// within one budget for all sessions (HubConfig::staged_total_bytes). Staging
// lasts a round trip and is rare, so nothing is kept for reuse: a queue that
// empties gives its slots back and holds no memory at all.
#pragma once

#include <optional>
#include <vector>

#include "session/memory_budget.hpp"
#include "session/ring.hpp"
#include "tund/drop_reason.hpp"
#include "tund/types.hpp"

namespace tund::session {

class StagingQueue {
 public:
  // `shared`: what all sessions' queues may hold together (a hub's).
  explicit StagingQueue(MemoryBudget* shared = nullptr) : account_(shared) {}

  // Nothing when staged; else why not: this queue is full (kStagingFull), or
  // the budget all sessions share is (kStagingTotalFull).
  std::optional<DropReason> push(Bytes inner);
  bool empty() const { return packets_.empty(); }
  // Copies the oldest packet to `out` (cut to its size) and drops it; its length.
  std::size_t pop(MutableBytes out);
  void clear();
  // Heap bytes held: the packets and the ring's slots.
  std::size_t memory() const { return account_.held(); }

 private:
  using Buffer = std::vector<std::uint8_t>;
  void drop_front();
  std::size_t slot_bytes() const { return packets_.capacity() * sizeof(Buffer); }

  MemoryAccount account_;
  Ring<Buffer> packets_;
};

}  // namespace tund::session
