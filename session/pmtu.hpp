// One path's MTU, found by datagram packetization-layer PMTU discovery in the
// manner of RFC 8899: padded probes under the session keys, answered (padding
// echoed) by the peer, so an answer proves the size both ways. ICMP is never
// needed (many networks drop it). Sizes are UDP payload bytes.
//
//   searching ──round: probes of several sizes at once──▶ the largest answered
//      ▲          is the new low bound, the smallest lost twice the new high bound
//      │        bounds within kPmtuGranularity ──▶ done (mtu() = low bound)
//      └── restart(): after a handover, a raise timer, or confirmation
//          probes at the found size lost (the path now carries less)
//
// Until the first search ends, mtu() is the ceiling: a fresh path is assumed
// to carry what its interface does (a standby has long been searched by the
// time traffic moves to it). Pure logic: the session sends and times.
#pragma once

#include <array>
#include <cstddef>

#include "tund/limits.hpp"
#include "tund/types.hpp"

namespace tund::session {

class PmtuSearch {
 public:
  using Sizes = std::array<std::size_t, limits::kPmtuProbesPerRound>;

  // The bounds of the search (base ≤ ceiling; a ceiling below the base means
  // the path is assumed to carry the ceiling and is never probed).
  void set_limits(std::size_t base, std::size_t ceiling);
  // Searches again from the base (what was found stays in use meanwhile).
  void restart(Time now);
  // A round to send now: its sizes (0 = none), fills `out` and returns how
  // many; the round ends at `deadline`.
  std::size_t begin_round(Time now, Duration timeout, Sizes& out);
  bool wants_round(Time now) const { return searching_ && !in_round_ && now >= next_round_; }
  // A probe of `size` was answered (any round; late answers still prove it).
  void on_answer(std::size_t size, Time now);
  // Ends the round when its time is up.
  void on_timer(Time now);
  Time next_event() const;
  // Confirming a found MTU while the path carries traffic (black holes).
  bool wants_check(Time now) const { return found_ && !searching_ && now >= next_check_; }
  void begin_check(Time now) { next_check_ = now + limits::kPmtuCheckInterval; }
  // A confirmation probe's fate; kPmtuCheckLosses lost in a row restart the search.
  void on_check(bool answered, Time now);

  std::size_t mtu() const { return found_ ? found_mtu_ : ceiling_; }
  bool searching() const { return searching_; }
  bool found() const { return found_; }
  std::size_t ceiling() const { return ceiling_; }
  Time last_done() const { return last_done_; }
  Duration last_duration() const { return last_duration_; }
  std::uint64_t probes_sent() const { return probes_sent_; }

 private:
  void finish(Time now);

  std::size_t base_ = limits::kPmtuBase4;
  std::size_t ceiling_ = 0;
  std::size_t found_mtu_ = 0;  // what the last search ended with (in use during the next)
  std::size_t low_ = 0;   // largest size known to pass
  std::size_t high_ = 0;  // smallest size known not to (ceiling + 1 before any loss)
  // A size lost once, probed again in the next round before it bounds the
  // search: a busy path drops a probe now and then (RFC 8899's MAX_PROBES).
  std::size_t retry_ = 0;
  bool searching_ = false;
  bool found_ = false;
  bool in_round_ = false;
  Sizes round_{};
  std::array<bool, limits::kPmtuProbesPerRound> answered_{};
  Time round_deadline_ = kNever;
  Time next_round_ = kNever;
  Time started_{};
  Time last_done_ = Time::min();
  Time next_check_ = kNever;
  unsigned check_losses_ = 0;
  Duration last_duration_{0};
  std::uint64_t probes_sent_ = 0;
};

}  // namespace tund::session
