// Inner packets that wait in tund, not in the radio's buffer, while a path's
// pacer (path_rate.hpp) holds them back; served per flow so that a call's
// small packets never wait behind a bulk flow's backlog (issue 29).
//
// The scheme is fq_codel's (RFC 8290) over CoDel (RFC 8289):
//   - kFlowBuckets buckets, chosen by a secret-seeded hash of the inner
//     5-tuple (IPv4 and IPv6; flow_fields.hpp);
//   - deficit round robin between them, a quantum of bytes per turn, and a
//     bucket that had nothing waiting is served before the busy ones (a
//     sparse flow, such as a call, goes first);
//   - each bucket managed by CoDel on its packets' sojourn time: once they
//     have waited more than `target` for a whole `interval`, one packet is
//     dropped (or, ECN-capable, marked CE and sent), then more often, until
//     the wait falls back under target: a bulk TCP flow backs off and the
//     queue stays short. Both times follow the path's round trip
//     (set_round_trip), not constants tuned on one link.
// Bounded: packets and bytes per queue, and what it holds on the heap counted
// against a shared budget (a hub's, for all its sessions). Beyond them the
// fattest bucket's oldest packet goes. Buckets and buffers are allocated when
// a queue first holds something and given back once it has been empty for
// limits::kFlowQueueIdleAfter: an idle session holds nothing here.
// Sans I/O: every call carries `now`.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "session/memory_budget.hpp"
#include "session/ring.hpp"
#include "tund/limits.hpp"
#include "tund/types.hpp"

namespace tund::session {

class FlowQueue {
 public:
  // `seed`: the flow hash's secret (from the session's random source).
  explicit FlowQueue(std::uint64_t seed, MemoryBudget* shared = nullptr) : seed_(seed), account_(shared) {}

  // Keeps a copy of `inner`; false when it is not kept (no memory within the
  // budget, or an empty packet), counted. `tag` (below 32; 0: none) names
  // the pacer it waits for (paced_sender.hpp: a bonded path's slot).
  bool enqueue(Bytes inner, Time now, std::uint32_t tag = 0);
  // The next packet to send, copied to `out` (its length), or nothing. CoDel
  // drops happen here; a marked packet is returned with CE set. Only a
  // packet whose tag is 0 or has its bit in `ready` goes: a flow whose
  // head waits for another pacer lets the next flow take its turn (keeping
  // its deficit), so one full path's flows never hold back another's.
  std::optional<std::size_t> dequeue(MutableBytes out, Time now, std::uint32_t ready = ~0u);
  bool empty() const { return packets_ == 0; }
  std::size_t packets() const { return packets_; }
  std::size_t bytes() const { return bytes_; }
  // How long the oldest waiting packet of the next bucket has waited (status).
  Duration head_sojourn(Time now) const;
  // CoDel's interval from the path's least round trip:
  // clamp(2 rtt, kCodelIntervalFloor, kCodelIntervalCeiling); its target 1/20
  // of that, but never under the time kCodelTargetPackets full packets take
  // at the pacing rate `bytes_per_second` (cake's rule for slow links: on a
  // 2 Mbit/s path two packets waiting is no standing queue).
  void set_round_trip(Duration base_rtt, double bytes_per_second = 0);
  // Off while the path's pacer still searches for the path's capacity
  // (PathRate::searching): what waits then is the pacer's own lag behind a
  // TCP's slow start, no standing queue, and a CoDel drop would end the slow
  // start far under what the path carries (a GEO path: at 1-2 Mbit/s of 20).
  // The packet and byte limits still bound it.
  void set_managing(bool on) { managing_ = on; }
  bool managing() const { return managing_; }
  Duration target() const { return target_; }
  Duration interval() const { return interval_; }
  // Drops everything waiting (the session ended); counted as flushed.
  void clear();
  // Gives buckets and buffers back after kFlowQueueIdleAfter empty.
  void expire(Time now);
  // When expire() would give memory back (kNever: nothing held, or packets wait).
  Time idle_release_at() const {
    return packets_ || buckets_.empty() ? kNever : empty_since_ + limits::kFlowQueueIdleAfter;
  }
  std::size_t memory() const { return account_.held(); }

  struct Counters {
    std::uint64_t queued = 0;      // packets that waited
    std::uint64_t codel_drops = 0;  // dropped for waiting too long
    std::uint64_t codel_marks = 0;  // ECN-capable: marked CE instead
    std::uint64_t overflow = 0;     // the fattest flow's oldest, for room
    std::uint64_t no_memory = 0;    // not kept: the shared budget is full
    std::uint64_t flushed = 0;      // waiting when the queue was cleared
  };
  const Counters& counters() const { return counters_; }

 private:
  struct Packet {
    std::vector<std::uint8_t> data;  // capacity: the largest packet it held
    std::uint32_t len = 0;
    std::int32_t next = -1;  // the bucket's next packet, or the free list's
    Time queued{};
    std::uint32_t tag = 0;
  };
  struct Bucket {
    std::int32_t head = -1, tail = -1;
    std::size_t bytes = 0;
    std::int64_t deficit = 0;
    bool listed = false;  // in new_ or old_
    // CoDel (RFC 8289's names)
    Time first_above = kNever;
    Time drop_next{};
    std::uint32_t count = 0, last_count = 0;
    bool dropping = false;
  };
  std::int32_t take_slot(std::size_t len);
  void free_slot(std::int32_t i);
  std::int32_t pop_head(Bucket& b);
  void drop_fattest();
  // CoDel's dequeue over one bucket: the packet to send, or -1.
  std::int32_t codel_dequeue(Bucket& b, Time now);
  bool ok_to_drop(Bucket& b, std::int32_t head, Time now);
  // Drops the packet or marks it CE; true when marked (it is to be sent).
  bool drop_or_mark(std::int32_t i);
  Time control_law(Time t, std::uint32_t count) const;
  void account();

  std::uint64_t seed_;
  MemoryAccount account_;
  std::vector<Bucket> buckets_;  // kFlowBuckets while in use, else none
  std::vector<Packet> slots_;
  std::int32_t free_ = -1;
  std::size_t data_bytes_ = 0;  // the slots' buffers, at their capacity
  Ring<std::uint16_t> new_, old_;
  std::size_t packets_ = 0, bytes_ = 0;
  Time empty_since_ = Time::min();
  Duration target_ = limits::kCodelIntervalFloor / limits::kCodelTargetDivisor;
  Duration interval_ = limits::kCodelIntervalFloor;
  bool managing_ = true;
  Counters counters_;
};

// Sets an ECN-capable IPv4 or IPv6 packet's ECN field to CE (fixing the IPv4
// header checksum); false when the packet is not ECN-capable.
bool mark_congestion(MutableBytes packet);

}  // namespace tund::session
