// The data stream that a client's session id names, the same type on both
// ends: the data sequences we send and what we keep to send again, which of
// the peer's sequences arrived (each delivered once) and when to acknowledge
// them, and the switching exchange after a handover. The secure channel under
// it may be rekeyed any number of times without touching it.
//
// The switching exchange (the client moved to a new path):
//   client  begin_switch()     its receive state goes out on the new path
//                              (an ack with kAckFlagSwitch); new data waits
//   hub     answer_switch()    schedules everything unacknowledged, answers
//                              with its own receive state (rate limited)
//   client  complete_switch()  resends what the hub's answer says it lacks
// Resends are bounded by what was sent once: an exchange never makes a side
// send more than the data it already sent. A planned switch (the old path
// still carries; kAckFlagPlanned) is make before break: new data goes on at
// once and neither side resends, since what took the old path arrives.
#pragma once

#include <algorithm>
#include <optional>

#include "session/ip_packet.hpp"
#include "session/reorder_buffer.hpp"
#include "session/resend_buffer.hpp"
#include "tund/drop_reason.hpp"

namespace tund::session {

class DataStream {
 public:
  // `shared`: what all sessions' resend buffers may hold together (a hub's);
  // `waiting`: what packets waiting in tund may (its reorder buffers).
  explicit DataStream(ResendLimits limits, MemoryBudget* shared = nullptr, MemoryBudget* waiting = nullptr)
      : resend_(limits, shared), reorder_(waiting) {}

  std::uint64_t id() const { return id_; }
  // A new stream of ours named `id`: sequences from 1, the peer's state gone.
  void restart(std::uint64_t id);
  // The peer's stream is new: what we received of its old one, and what we
  // kept for it, go.
  void forget_peer();

  // --- sending
  // The next data sequence; `inner` is kept for resending within the limits,
  // with the path it goes on (ResendBuffer::remember).
  std::uint64_t send(Bytes inner, Time now, std::uint32_t path = 0);
  // The oldest packet scheduled for resending, copied to `out` (`path`: where it goes now).
  std::optional<std::size_t> next_resend(MutableBytes out, std::uint64_t& seq, std::uint32_t path = 0) {
    return resend_.next_resend(out, seq, path);
  }
  bool has_resend() const { return resend_.has_resend(); }
  // Everything unacknowledged, to be sent again (copies on suspicion; see
  // session/client_paths.cpp), or nothing any more.
  std::size_t schedule_unacked(Time now) { return resend_.schedule_resend(next_seq_, now); }
  void cancel_resend() { resend_.cancel_resend(); }
  // What was sent on `path` and is not acknowledged, to be sent again (a bonded path left the bond).
  std::size_t schedule_path(std::uint32_t path, Time now) { return resend_.schedule_resend_path(path, now); }
  void schedule_last() { resend_.schedule_last(); }
  // Data sequence `seq` just went again as a copy (on another path).
  void copied(std::uint64_t seq) { resend_.copied(seq); }
  // The peer's acknowledgement; false (nothing changes) when it claims data
  // never sent.
  bool on_ack(const Ack& ack, ResendBuffer::AckOutcome* outcome = nullptr) {
    return resend_.on_ack(ack, next_seq_, outcome);
  }
  // Ages kept packets out; an idle stream gives its buffers back
  // (resend_buffer.hpp, reorder_buffer.hpp).
  void expire(Time now) {
    resend_.expire(now);
    reorder_.expire(now);
  }
  // The data path's round trip, when it changes. Kept packets live
  // clamp(4 rtt, floor, max(floor, kResendMaxAgeCeiling)) (the floor is the
  // configured age), and acknowledgements are delayed by a share of it.
  void set_round_trip(Duration rtt, Duration resend_floor) {
    resend_.set_max_age(std::clamp<Duration>(rtt * 4, resend_floor,
                                             std::max<Duration>(resend_floor, limits::kResendMaxAgeCeiling)));
    acks_.set_round_trip(rtt);
  }
  const ResendBuffer& resend_buffer() const { return resend_; }

  // --- receiving
  // Checks a data message's plaintext (sequence, then the inner packet);
  // the inner packet when it is well formed and new, else why not. `path`
  // tells the session's paths apart (reorder_buffer.hpp's path rule).
  std::optional<InnerPacket> receive(Bytes plain, Time now, std::uint64_t path, DropReason& why);
  // Then, once the caller's own checks passed: true when the packet's flow
  // is spread (kSeqOrdered) and earlier sequences are missing, so a copy of
  // its first `inner_len` bytes after the sequence waits for
  // release_ordered(); false when it goes to the TUN now.
  bool hold_for_order(Bytes plain, std::size_t inner_len, Time now);
  // Hands over, in sequence order, the waiting packets now due (after each
  // receive, and at reorder_deadline()).
  template <class Deliver>
  void release_ordered(Time now, Deliver&& deliver) {
    reorder_.release(now, deliver);
  }
  Time reorder_deadline() const { return reorder_.deadline(); }
  // How long a spread flow's packet may wait for earlier ones (the paths'
  // round trips; see ReorderBuffer::set_wait).
  void set_reorder_wait(Duration wait) { reorder_.set_wait(wait); }
  // The paths the peer spreads over, as receive() names them (the reorder
  // buffer's path rule).
  void set_reorder_paths(std::span<const std::uint64_t> paths) { reorder_.set_paths(paths); }
  const ReorderBuffer& reorder() const { return reorder_; }
  bool ack_due(Time now) const { return acks_.due(now); }
  Time ack_deadline() const { return acks_.deadline(); }
  Ack make_ack(std::uint32_t flags) { return acks_.make_ack(flags); }

  // --- the switching exchange, the client's half
  void begin_switch(Time now, bool planned);
  bool switching() const { return switch_started_ != kNever; }
  // New data waits for the hub's answer (a sudden switch only).
  bool holds_new_data() const { return switching() && !planned_; }
  Time switch_started() const { return switch_started_; }
  void abandon_switch() { switch_started_ = kNever; }
  // The hub's answer came: what it lacks is scheduled. Packets scheduled and
  // the exchange's duration; nothing when no exchange was under way.
  struct Completed {
    std::size_t resent = 0;
    Duration took{0};
  };
  std::optional<Completed> complete_switch(Time now);

  // --- the switching exchange, the hub's half
  // Honours at most one exchange per kSwitchExchangeInterval and none while
  // the last one's resends are still leaving; false when refused. A planned
  // switch schedules nothing and is never refused.
  bool answer_switch(Time now, bool planned);

 private:
  std::uint64_t id_ = 0;
  std::uint64_t next_seq_ = 1;
  ResendBuffer resend_;
  AckState acks_;
  ReorderBuffer reorder_;
  Time switch_started_ = kNever;
  std::uint64_t switch_seq_ = 0;  // next_seq_ when the switch began
  bool planned_ = false;
  Time last_answer_ = kNever;
};

}  // namespace tund::session
