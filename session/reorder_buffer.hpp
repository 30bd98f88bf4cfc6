// Puts back in order the inner packets of flows the peer spread over several
// paths (issue 30, item 3), and holds nothing else. The sender marks each
// packet of a spread flow (wire::transport::kSeqOrdered on its data
// sequence); the receiver delivers such a packet only once every earlier
// sequence of the stream has arrived, or the wait for it ran out:
//
//   watermark W  every sequence <= W arrived or was given up on; each
//                accepted data sequence (ordered or not) moves it up
//                (arrived())
//   hold()       an ordered packet above W + 1's gap is copied and waits;
//                one at or below W goes now (it filled the gap, or is late)
//                unless earlier ones still wait to be released: then it
//                waits behind them
//   release()    hands over, in sequence order, the waiting packets W has
//                passed; a packet that waited `wait` gives up the gaps below
//                it (a loss, or a packet the sender never got out), so no
//                packet waits longer than `wait` after it arrived
//   passed       a gap every path the peer spreads over has passed is
//                lost, given up at once: the sender numbers packets as they
//                leave and each path delivers them in that order, so
//                nothing below the least sequence each such path last
//                delivered is still on its way (QUIC's packet-threshold
//                loss detection, per path; RFC 9002 6.1.1). The caller
//                names those paths (set_paths(): its bond); one that has
//                delivered nothing yet holds the rule back, and data on a
//                path not named rests it for kReorderPathRest.
//                Without it a link's loss holds the flow's later packets,
//                and inner TCP's news of the loss, the whole wait; with it
//                the wait is only for packets on their way, and may be
//                long enough for a radio's queues (kReorderWaitCeiling).
//
// One watermark for the whole stream, not one per flow: a spread flow waits
// for the stream's earlier sequences, most of them its own, and the few of
// other flows arrive on the same paths as fast. Unordered packets (flows on
// one path, copies, resends) never wait, so a flow that was not spread sees
// no delay at all.
//
// `wait` starts from the caller's, derived from its paths' round trips
// (the spread between them, plus a share of the longest for their queues'
// jitter), and then follows what this stream shows: each gap that fills
// while packets wait behind it measures how much later its packet came than
// the first one waiting (and one that comes after its gap was given up,
// at least the wait then, plus how long after); the wait is
// kReorderSkewMargin times the most of these over the last two
// kReorderSkewWindow, if that is more than the round trips say, within
// [kReorderWaitFloor, kReorderWaitCeiling]. Paths whose queues differ more
// than their round trips (a radio's) get a longer wait; it comes back down
// within two windows once they do not.
//
// Bounded: the watermark tracks kReorderSpan sequences above it (a sequence
// beyond pushes it up, giving up what is below), and at most kReorderPackets
// packets of at most kReorderSlotBytes wait; the oldest gives way to a new
// one. Buffers are allocated at the first hold, counted against a shared
// budget (a hub's, for all sessions; beyond it a packet goes unordered,
// counted), and given back after kReorderIdleAfter without holding. Nothing
// is allocated per packet. Sans I/O: every call carries `now`.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <span>
#include <vector>

#include "session/memory_budget.hpp"
#include "session/ring.hpp"
#include "tund/limits.hpp"
#include "tund/types.hpp"

namespace tund::session {

class ReorderBuffer {
 public:
  explicit ReorderBuffer(MemoryBudget* shared = nullptr) : account_(shared) {}

  // The peer's stream restarted: its sequences begin again at 1; what waited goes.
  void reset();
  // An accepted data sequence (the flag masked off), ordered or not, and
  // the path it came on (any tag that tells the session's paths apart).
  void arrived(std::uint64_t seq, Time now, std::uint64_t path);
  // An ordered packet (already arrived()): false when it goes to the TUN now,
  // true when a copy of `inner` waits for release().
  bool hold(std::uint64_t seq, Bytes inner, Time now);
  // Hands `deliver(Bytes)` each waiting packet that is due now, in sequence
  // order.
  template <class Deliver>
  void release(Time now, Deliver&& deliver) {
    give_up_expired(now);
    if (!waiting_) {
      next_due_ = watermark_ + 1;
      return;
    }
    while (next_due_ <= watermark_) {
      std::uint16_t& at = slot_of_[next_due_ % limits::kReorderSpan];
      ++next_due_;
      if (!at) continue;
      const std::size_t slot = at - 1u;
      at = 0;
      --waiting_;
      deliver(Bytes(storage_.data() + slot * limits::kReorderSlotBytes, lengths_[slot]));
      free_.push_back(static_cast<std::uint16_t>(slot));
      if (!waiting_) {
        next_due_ = watermark_ + 1;
        break;
      }
    }
  }
  // When release() has something to hand over (kNever: nothing waits).
  Time deadline() const;
  // How long a packet may wait (clamped; see the header comment).
  void set_wait(Duration wait);
  Duration wait() const {
    const Duration measured = std::chrono::duration_cast<Duration>(std::max(skew_[0], skew_[1]) * limits::kReorderSkewMargin);
    return std::clamp<Duration>(std::max(base_wait_, measured), limits::kReorderWaitFloor, limits::kReorderWaitCeiling);
  }
  // The most a gap's packet came after the first one waiting behind it,
  // over the last two windows (status).
  Duration skew() const { return std::max(skew_[0], skew_[1]); }
  // The paths the peer may spread over (tags as arrived() gets them), 2 to
  // kReorderPaths; otherwise the path rule rests and only the wait gives
  // gaps up. A path named again keeps what it delivered.
  void set_paths(std::span<const std::uint64_t> paths);
  // The wait for paths whose base round trips span [shortest, longest].
  static Duration wait_for(Duration shortest, Duration longest) {
    return longest - shortest + longest / limits::kReorderWaitRttDivisor;
  }
  // Gives the buffers back after kReorderIdleAfter without a packet waiting.
  void expire(Time now);
  std::size_t waiting() const { return waiting_; }
  std::size_t memory() const { return account_.held(); }

  struct Counters {
    std::uint64_t held = 0;         // ordered packets that waited
    std::uint64_t gaps_given_up = 0;  // waits that ran out (a sequence never came)
    std::uint64_t pushed_out = 0;   // waited while kReorderPackets others did: went early
    std::uint64_t unordered = 0;    // not kept (too big, or no memory in the budget): went at once
    std::uint64_t late = 0;         // arrived after its gap was given up (the wait grows)
    std::uint64_t gaps_passed = 0;  // gaps every named path had passed (lost): given up at once
    std::uint64_t passed_late = 0;  // of the path rule's last gaps, came after all (its path reordered)
  };
  const Counters& counters() const { return counters_; }

 private:
  bool seen(std::uint64_t seq) const {
    return (seen_[(seq / 64) % seen_.size()] >> (seq % 64)) & 1u;
  }
  void set_seen(std::uint64_t seq, bool on);
  void advance();
  // Everything up to `seq` counts as arrived (given up on when missing).
  void give_up_to(std::uint64_t seq);
  void give_up_expired(Time now);
  // The path rule (header comment): notes `seq` on `path`, gives up what
  // every named path has passed.
  void give_up_passed(std::uint64_t seq, Time now, std::uint64_t path);
  bool allocate(Time now);

  static constexpr std::size_t kWords = limits::kReorderSpan / 64;
  std::uint64_t watermark_ = 0;
  std::uint64_t next_due_ = 1;  // the lowest sequence release() has not passed
  std::array<std::uint64_t, kWords> seen_{};  // sequences above the watermark that arrived
  // Allocated at the first hold: the waiting packets' buffers, lengths, and
  // which slot each sequence in the span waits in (0: none, else slot + 1).
  std::vector<std::uint8_t> storage_;
  std::vector<std::uint16_t> lengths_;
  std::vector<std::uint16_t> slot_of_;
  std::vector<std::uint16_t> free_;
  struct Arrival {
    std::uint64_t seq = 0;
    Time at{};
  };
  Ring<Arrival> arrivals_;  // held packets by arrival (released ones are skipped)
  std::size_t waiting_ = 0;
  Duration base_wait_ = limits::kReorderWaitFloor;
  // How late gaps' packets came: the most over the current window
  // (skew_[0], since skew_at_) and over the last one (skew_[1]).
  void roll(Time now);
  std::array<Duration, 2> skew_{};
  Time skew_at_ = Time::min();
  Time gave_up_at_ = Time::min();  // when the last gap was given up, at which wait
  Duration gave_up_wait_{0};
  // The sequences the path rule gave up last: a late one there says its
  // path reordered, not that the wait was short.
  std::uint64_t passed_from_ = 0, passed_to_ = 0;
  struct PathMark {
    std::uint64_t path = 0;
    std::uint64_t highest = 0;  // the highest sequence it delivered (0: none yet)
  };
  std::array<PathMark, limits::kReorderPaths> paths_{};
  std::size_t paths_n_ = 0;
  Time unlisted_at_ = Time::min();  // when data last came on a path not named
  Time last_hold_ = Time::min();
  MemoryAccount account_;
  Counters counters_;
};

}  // namespace tund::session
