// The sender's memory of recently sent inner packets, so that what the other
// side did not receive can be sent again after a handover. Bounded three ways
// (bytes, packets, age): the oldest go first. Entries live in a ring and
// packet storage is recycled through a small pool, so steady state allocates
// nothing. What it holds on the heap (packets kept and pooled at their
// capacity, the ring's and the pool's slots) is counted, on a hub against
// one budget for all sessions; once nothing has been kept for
// limits::kResendIdleAfter the pool goes and the ring shrinks to
// limits::kResendIdleSlots (idle_memory()): a session whose traffic ended
// holds under 1 KiB here, not its largest burst's buffers for life.
//
//   remember(seq, packet, path) after sealing data sequence `seq` for `path`
//   on_ack(ack)                drops what the peer has; refuses an ack for
//                              data never sent
//   schedule_resend(end_seq)   everything unacknowledged below data sequence `end_seq`
//   next_resend(out)           the oldest scheduled packet, copied out
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <vector>

#include "crypto/replay_window.hpp"
#include "session/control.hpp"
#include "session/memory_budget.hpp"
#include "session/ring.hpp"
#include "tund/limits.hpp"
#include "tund/types.hpp"

namespace tund::session {

struct ResendLimits {
  std::size_t max_bytes = limits::kResendMaxBytes;
  std::size_t max_packets = limits::kResendMaxPackets;
  Duration max_age = limits::kResendMaxAge;
};

class ResendBuffer {
 public:
  // `shared`: the budget every session's buffer counts against (a hub's).
  explicit ResendBuffer(ResendLimits limits = {}, MemoryBudget* shared = nullptr)
      : limits_(limits), account_(shared) {}

  // False when the packet is not kept: beyond the limits, or the memory it
  // would take is beyond the shared budget (it is sent all the same: after a
  // handover inner TCP recovers it).
  // `path`: the caller's name for the path it goes on (0: one path), so an
  // acknowledgement tells each path's rate of its own packets (AckOutcome::paths).
  bool remember(std::uint64_t seq, Bytes packet, Time now, std::uint32_t path = 0);
  // What an acknowledgement said about the packets sent since `since`
  // (the path's health, session/path_health.hpp): how many it covered first
  // and their bytes, the send time of the newest of them, and how many older
  // ones are now lost (a packet sent `reorder` later was acknowledged first;
  // each counted once).
  struct AckOutcome {
    Time since = Time::min();
    Duration reorder{0};
    std::size_t acked = 0, bytes = 0, lost = 0;
    // When the newest packet the ack covered first was sent (not counting
    // packets sent again: no round trip can be read from those).
    std::optional<Time> newest_sent;
    // When the ack's `highest` was sent, if it is still kept and was sent
    // once (for the one-way delay with Ack::received_us).
    std::optional<Time> highest_sent;
    // The same per path the packets were sent on (remember's `path`, or the
    // path of their last resend): each path's rate and health learn only
    // from their own packets and round trips. Lost: older than the newest
    // acknowledged packet *of the same path* by the reordering window (a
    // bond's slower path is not a lossy one). At most kAckPathShares paths;
    // more are counted with the last.
    struct PathShare {
      std::uint32_t path = 0;
      std::size_t acked = 0, bytes = 0, lost = 0;
      std::size_t lost_bytes = 0;  // the lost packets' bytes
      std::optional<Time> newest_sent;
    };
    std::array<PathShare, limits::kAckPathShares> paths{};
    std::size_t path_count = 0;
    std::uint32_t highest_path = 0;  // the path `highest_sent` was sent on
    const PathShare* share(std::uint32_t path) const {
      for (std::size_t i = 0; i < path_count; ++i)
        if (paths[i].path == path) return &paths[i];
      return nullptr;
    }
    PathShare& share_for(std::uint32_t path) {
      for (std::size_t i = 0; i < path_count; ++i)
        if (paths[i].path == path) return paths[i];
      if (path_count < paths.size()) {
        paths[path_count].path = path;
        return paths[path_count++];
      }
      return paths[paths.size() - 1];
    }
  };
  // False when the ack claims data that was never sent (it is then ignored).
  bool on_ack(const Ack& ack, std::uint64_t next_seq, AckOutcome* outcome = nullptr);
  // Marks every unacknowledged packet with a sequence below `end_seq` for
  // resending (a sequence boundary, exact where a timestamp would not be).
  std::size_t schedule_resend(std::uint64_t end_seq, Time now);
  // Marks every unacknowledged packet last sent on `path` for resending (a
  // bonded path that left the bond: what it may have lost goes on another).
  std::size_t schedule_resend_path(std::uint32_t path, Time now);
  // Copies the oldest packet scheduled for resend to `out`; its size, or nothing.
  // `path`: where it goes now (its acknowledgement is that path's), 0: where it went.
  std::optional<std::size_t> next_resend(MutableBytes out, std::uint64_t& seq, std::uint32_t path = 0);
  bool has_resend() const { return resend_pending_ > 0; }
  // Marks the newest packet (just remembered) to be sent again.
  void schedule_last();
  // The newest packet, if it is `seq`, also went as a copy on another path
  // (redundancy, a bond's call): sent twice, its acknowledgement gives no
  // round trip or one-way delay (Karn's rule, as for a resend). Else the
  // copy's quicker path passed for the original's: a call pinned to a busy
  // path, copied on an idle one, made the busy path's round trip its
  // baseline, its queue read as none, its pacer ran to 30 Mbit/s on a 20
  // Mbit/s link and never had a flow spill (bench/bond, alike pair: one
  // download 18.4 Mbit/s where it was spread at 33).
  void copied(std::uint64_t seq);
  // Unmarks everything scheduled (copies on suspicion that are no longer needed).
  void cancel_resend();
  // Drops what aged out; idle long enough, gives the pool and ring back.
  void expire(Time now);
  // When expire() would give memory back (kNever: nothing to give, or
  // packets still kept).
  Time idle_release_at() const;
  void clear();
  // How long a packet is kept: the session scales it with its round trip.
  void set_max_age(Duration d) { limits_.max_age = d; }
  Duration max_age() const { return limits_.max_age; }

  std::size_t packets() const { return entries_.size(); }
  std::size_t bytes() const { return bytes_; }
  std::uint64_t resent() const { return resent_; }
  // Heap bytes held: kept and pooled buffers at their capacity, ring and pool slots.
  std::size_t memory() const { return account_.held(); }
  // What an idle buffer keeps: its ring at the floor.
  static constexpr std::size_t idle_memory() { return limits::kResendIdleSlots * sizeof(Entry); }

 private:
  struct Entry {
    std::uint64_t seq = 0;
    Time sent{};
    bool acked = false;
    bool resend = false;
    bool counted_lost = false;
    // Sent more than once: its acknowledgement cannot tell which copy
    // arrived, so it gives no round trip (Karn's rule).
    bool resent = false;
    std::uint32_t path = 0;  // what it was (last) sent on
    std::vector<std::uint8_t> data;
  };
  using Buffer = std::vector<std::uint8_t>;
  void pop_front();
  void trim_front();
  // Takes a freed buffer into the pool; false when it is to be freed.
  bool to_pool(Buffer& data);
  void release();

  ResendLimits limits_;
  MemoryAccount account_;
  Ring<Entry> entries_;  // in sequence order
  std::vector<Buffer> pool_;
  Time last_kept_ = Time::min();
  std::size_t bytes_ = 0;
  std::size_t resend_pending_ = 0;
  std::uint64_t resent_ = 0;
};

// The receiver's side: which data sequences arrived (each delivered at most
// once) and when an acknowledgement is due.
class AckState {
 public:
  // True when `seq` is new: deliver it. False for a duplicate or a very old one.
  bool accept(std::uint64_t seq, Time now);
  bool due(Time now) const;
  Time deadline() const;
  // The acknowledgement to send now; resets the schedule.
  Ack make_ack(std::uint32_t flags = 0);
  bool any() const { return window_.has_any(); }
  // The path's round trip, when it changes: the delay becomes a share of it
  // (limits::kAckDelayRttDivisor).
  void set_round_trip(Duration rtt);

 private:
  crypto::ReplayWindow window_;
  std::uint32_t unacked_ = 0;
  Time first_unacked_ = kNever;
  Duration delay_ = limits::kAckDelay;
  Time highest_at_{};  // when the highest sequence arrived (Ack::received_us)
};

}  // namespace tund::session
