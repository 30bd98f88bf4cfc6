// The sender's memory of recently sent inner packets, so that what the other
// side did not receive can be sent again after a handover. Bounded three ways
// (bytes, packets, age): the oldest go first. Entries live in a ring and
// packet storage is recycled through a small pool, so steady state allocates
// nothing.
//
//   remember(seq, packet)      after sealing data sequence `seq`
//   on_ack(ack)                drops what the peer has; refuses an ack for
//                              data never sent
//   schedule_resend(end_seq)   everything unacknowledged below data sequence `end_seq`
//   next_resend(out)           the oldest scheduled packet, copied out
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "crypto/replay_window.hpp"
#include "session/control.hpp"
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
  explicit ResendBuffer(ResendLimits limits = {}) : limits_(limits) {}

  void remember(std::uint64_t seq, Bytes packet, Time now);
  // What an acknowledgement said about the packets sent since `since`
  // (the path's health, session/path_health.hpp): how many it covered first
  // and their bytes, the send time of the newest of them, and how many older
  // ones are now lost (a packet sent `reorder` later was acknowledged first;
  // each counted once).
  struct AckOutcome {
    Time since = Time::min();
    Duration reorder{0};
    std::size_t acked = 0, bytes = 0, lost = 0;
    std::optional<Time> newest_sent;
  };
  // False when the ack claims data that was never sent (it is then ignored).
  bool on_ack(const Ack& ack, std::uint64_t next_seq, AckOutcome* outcome = nullptr);
  // Marks every unacknowledged packet with a sequence below `end_seq` for
  // resending (a sequence boundary, exact where a timestamp would not be).
  std::size_t schedule_resend(std::uint64_t end_seq, Time now);
  // Copies the oldest packet scheduled for resend to `out`; its size, or nothing.
  std::optional<std::size_t> next_resend(MutableBytes out, std::uint64_t& seq);
  bool has_resend() const { return resend_pending_ > 0; }
  // Marks the newest packet (just remembered) to be sent again.
  void schedule_last();
  // Unmarks everything scheduled (copies on suspicion that are no longer needed).
  void cancel_resend();
  void expire(Time now);
  void clear();
  // How long a packet is kept: the session scales it with its round trip.
  void set_max_age(Duration d) { limits_.max_age = d; }
  Duration max_age() const { return limits_.max_age; }

  std::size_t packets() const { return entries_.size(); }
  std::size_t bytes() const { return bytes_; }
  std::uint64_t resent() const { return resent_; }

 private:
  struct Entry {
    std::uint64_t seq = 0;
    Time sent{};
    bool acked = false;
    bool resend = false;
    bool counted_lost = false;
    std::vector<std::uint8_t> data;
  };
  void pop_front();
  void trim_front();

  ResendLimits limits_;
  Ring<Entry> entries_;  // in sequence order
  std::vector<std::vector<std::uint8_t>> pool_;
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

 private:
  crypto::ReplayWindow window_;
  std::uint32_t unacked_ = 0;
  Time first_unacked_ = kNever;
};

}  // namespace tund::session
