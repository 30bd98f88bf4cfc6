// What stands between a session's new data and its paths (issues 29, 30):
// a pacer per path (path_rate.hpp) and one flow queue (flow_queue.hpp) where
// data waits when a pacer says so. The same for a client (its uplinks) and a
// hub (each client's endpoints):
//   use_path(path)   the active path changed: a path used within
//                    kRateResumeWindow resumes from kRateResumeShare of its
//                    rate, an unknown one starts at kRateInitial, a bonded
//                    one searches on from its rate (at least kRateInitial);
//                    the path left keeps its estimate
//   admit(len)       new data may be sealed now on the active path (admit_on:
//                    on a bonded one): nothing waits and that path's pacer
//                    has room (which it then counts)
//   hold(packet, path) else the packet waits, per flow, for `path`'s pacer
//   release(out)     the next waiting packet, when a pacer has room: the
//                    active path's, or in a bond the one it waits for or
//                    that one's partner (the caller places it, spilling it
//                    onto the partner, and spends on its path; a path's
//                    room never sends another path's packets on that other
//                    path, which would overdraw it by this one's rate: one
//                    that goes without room after all is sent_without_room())
//   may_send()       whether anything else (a resend) may leave now; then spend()
//   next_deadline(held) when to call release() or may_send() again
//   on_ack(path)     the acknowledgements of what each path carried feed its pacer
// Paths are the caller's small integers (a client's PathId, a hub's endpoint
// slot); 0 is "none". At most kPacedPaths are remembered, the least recently
// used forgotten first. Sans I/O: every call carries `now`.
#pragma once

#include <array>
#include <optional>

#include "session/flow_queue.hpp"
#include "session/path_rate.hpp"

namespace tund::session {

class PacedSender {
 public:
  struct PathSlot {
    std::uint32_t path = 0;  // 0: free
    PathRate rate;
    Time last_ack = Time::min();   // acknowledgements last spoke of it
    Time last_used = Time::min();  // last made active, bonded or acknowledged
    bool bonded = false;
    // The bonded path its flows may spill onto (BondScheduler's partner;
    // 0: none): its room releases this path's packets too, and the caller
    // spills them (spreading one flow over alike paths).
    std::uint32_t partner = 0;
  };

  PacedSender(std::uint64_t seed, MemoryBudget* shared) : queue_(seed, shared) {}

  // The active path (failover's only one): see the header comment.
  void use_path(std::uint32_t path, Time now, std::optional<Duration> rtt) {
    if (!path) return;  // no path: the last one's pacer stays in charge
    std::size_t i = find(path);
    if (i != kNone && i == current_) return;
    if (i == kNone) {
      i = take_slot(path, now);
      slots_[i].rate.reset(now, rtt);
    } else {
      // A path acknowledged lately resumes (a bonded one from all of its
      // rate: its estimate is live), one that was not starts afresh. A
      // bonded path was measured on its share and takes over everything
      // now: it searches on, as a failover's new path does, from at least
      // kRateInitial. Kept as it was, a path that had carried a trickle (a
      // download's acknowledgements up, its rate lowered to that pace by
      // the radio's jitter) held the upload in tund until CoDel dropped it
      // (bench/handover, radio pair, bond mode).
      PathSlot& s = slots_[i];
      if (s.last_ack != Time::min() && now - s.last_ack <= limits::kRateResumeWindow)
        s.rate.resume(now, s.bonded ? 1.0 : limits::kRateResumeShare);
      else
        s.rate.reset(now, rtt);
    }
    current_ = i;
    slots_[i].last_used = now;
    if (const auto base = slots_[i].rate.base_rtt()) queue_.set_round_trip(*base, slots_[i].rate.rate_bps() / 8);
    update_managing();
  }
  // Bond: which paths carry data besides the active one (a path that joins
  // resumes or starts like use_path; one that leaves keeps its estimate).
  template <class Paths>
  void set_bonded(const Paths& paths, Time now) {
    for (auto& s : slots_) s.bonded = false;
    for (const std::uint32_t p : paths) {
      if (!p) continue;
      std::size_t i = find(p);
      if (i == kNone) {
        i = take_slot(p, now);
        slots_[i].rate.reset(now);
      }
      slots_[i].bonded = true;
      slots_[i].last_used = now;
    }
    update_managing();
  }
  std::uint32_t path() const { return slots_[current_].path; }

  bool admit(std::size_t inner_len, Time now) { return admit_on(slots_[current_].path, inner_len, now); }
  bool admit_on(std::uint32_t path, std::size_t inner_len, Time now) {
    return queue_.empty() && rate_for(path).take(inner_len, now);
  }
  // False when the packet could not be kept (the queue's memory budget).
  // `path`: the pacer it waits for in a bond (0, or one not remembered: any);
  // `may_spill`: its partner's too (its flow contends for `path`). A bond's
  // call is held with path 0: either of its paths may take it.
  bool hold(Bytes inner, Time now, std::uint32_t path = 0, bool may_spill = false) {
    const std::size_t i = find(path);
    const bool kept = queue_.enqueue(inner, now, i == kNone ? 0 : may_spill ? spill_tag(i) : own_tag(i));
    release_at_ = std::min(release_at_, next_release(now));
    return kept;
  }
  // The next waiting packet, when the active path's pacer (or in a bond any
  // bonded path's) has room; the active path's is charged here, a bonded
  // path's by the caller (spend_on) once it placed the packet.
  std::optional<std::size_t> release(MutableBytes out, Time now, bool bond = false) {
    if (queue_.empty()) return std::nullopt;
    if (!bond) {
      if (!may_send(now)) return std::nullopt;
      const auto n = queue_.dequeue(out, now);
      if (n) slots_[current_].rate.spend(*n, now);
      return n;  // nothing: CoDel dropped what was left
    }
    // In a bond: the packets waiting for a pacer that has room, and those
    // that may spill whose partner's has (untagged ones go with any).
    std::uint32_t room = 0;
    Time later = kNever;
    for (std::size_t i = 0; i < slots_.size(); ++i) {
      if (!slots_[i].path || (i != current_ && !slots_[i].bonded)) continue;
      const Time at = slots_[i].rate.next_release(now);
      if (at <= now) room |= 1u << own_tag(i) | 1u << spill_tag(i);
      else later = std::min(later, at);
    }
    std::uint32_t ready = 1 | room;
    for (std::size_t i = 0; i < slots_.size(); ++i)
      if (const std::size_t j = find(slots_[i].partner); j != kNone && (room >> own_tag(j) & 1u))
        ready |= 1u << spill_tag(i);
    release_at_ = ready == 1 ? later : kNever;
    if (ready == 1) return std::nullopt;
    const auto n = queue_.dequeue(out, now, ready);
    // Nothing for the paths with room: the others' turn comes when theirs does.
    if (!n) release_at_ = later;
    return n;
  }
  // True when the active path's pacer has room now; else remembers when it
  // will (next_deadline).
  bool may_send(Time now) {
    const Time at = slots_[current_].rate.next_release(now);
    release_at_ = at > now ? at : kNever;
    return at <= now;
  }
  // Whether `path`'s pacer has room now (a spread flow's packet takes
  // whichever of its two paths has; bond_scheduler.hpp).
  bool room_on(std::uint32_t path, Time now) const {
    const std::size_t i = find(path);
    return i != kNone && slots_[i].rate.next_release(now) <= now;
  }
  void spend(std::size_t bytes, Time now) { slots_[current_].rate.spend(bytes, now); }
  void spend_on(std::uint32_t path, std::size_t bytes, Time now) { rate_for(path).spend(bytes, now); }
  // A copy sent on `path` beside its original (a call's in a bond, a named
  // flow's): spent on that path's pacer, when it has one, without waiting
  // for room (a copy that waited would come after its original), so the
  // bulk on that path leaves the copies room instead of overdrawing it.
  void spend_copy(std::uint32_t path, std::size_t bytes, Time now) {
    if (const std::size_t i = find(path); i != kNone) slots_[i].rate.spend(bytes, now);
  }
  // `path`'s partner in a bond (see PathSlot::partner; 0: none). The
  // caller names a partner only while it would spill onto it: a packet the
  // partner's room released goes there, not on its own path, whose pacer
  // has no room for it.
  void set_partner(std::uint32_t path, std::uint32_t partner) {
    if (const std::size_t i = find(path); i != kNone) slots_[i].partner = partner;
  }
  // A released packet the caller sends on `path` although its pacer has no
  // room (the partner's room released it and the bond changed since, so it
  // no longer spills): the partner releases nothing more of `path`'s until
  // the caller names it again, so `path` is overdrawn by a packet, not by
  // the partner's whole rate (bench/bond: a second of queue in tund).
  void sent_without_room(std::uint32_t path) {
    set_partner(path, 0);
    ++overdrawn_;
  }
  // A released packet the caller placed on `path` (bond): spent there, and
  // counted as sent without room when it had none.
  void spend_released(std::uint32_t path, std::size_t bytes, Time now) {
    if (!room_on(path, now)) sent_without_room(path);
    spend_on(path, bytes, now);
  }
  std::uint64_t overdrawn() const { return overdrawn_; }
  bool waiting() const { return !queue_.empty(); }
  // When release() or what the caller holds back (`held`: a resend or staged
  // data that asked may_send() and still waits) can go on, and when an idle
  // queue gives its memory back. With nothing waiting the last release time
  // is stale: once passed it would stay in the past and wake the caller at
  // once, again and again (a client spun its timer for 1.6 s after a
  // handover whose held resends were acknowledged meanwhile, until the
  // kernel's real-time throttling stopped it for 50 ms).
  Time next_deadline(bool held) const {
    return std::min(held || waiting() ? release_at_ : kNever, queue_.idle_release_at());
  }

  // An acknowledgement's share for `path` (ResendBuffer::AckOutcome::paths).
  // A path no longer remembered learns nothing.
  void on_ack(std::uint32_t path, Time now, std::optional<Duration> rtt, std::size_t bytes, std::size_t packets,
              std::optional<std::int64_t> one_way) {
    const std::size_t i = find(path);
    if (i == kNone) return;
    PathSlot& s = slots_[i];
    s.rate.on_ack(now, rtt, bytes, packets, one_way);
    if (rtt) s.last_ack = now;
    if (i == current_)
      if (const auto base = s.rate.base_rtt()) queue_.set_round_trip(*base, s.rate.rate_bps() / 8);
    if (i == current_ || s.bonded) update_managing();
  }
  void expire(Time now) { queue_.expire(now); }
  void clear() {
    queue_.clear();
    release_at_ = kNever;
  }
  // A path that is gone for good (a hub's endpoint slot given to another).
  void forget(std::uint32_t path) {
    if (const std::size_t i = find(path); i != kNone && i != current_) slots_[i] = PathSlot{};
  }

  const FlowQueue& queue() const { return queue_; }
  // The active path's rate (status, metrics; tests read it).
  const PathRate& rate() const { return slots_[current_].rate; }
  const PathRate* rate_of(std::uint32_t path) const {
    const std::size_t i = find(path);
    return i == kNone ? nullptr : &slots_[i].rate;
  }
  // When acknowledgements last spoke of `path` (Time::min(): never).
  Time acked_at(std::uint32_t path) const {
    const std::size_t i = find(path);
    return i == kNone ? Time::min() : slots_[i].last_ack;
  }
  const std::array<PathSlot, limits::kPacedPaths>& paths() const { return slots_; }

 private:
  static constexpr std::size_t kNone = limits::kPacedPaths;
  // A held packet's tag in the flow queue: the slot it waits for, and
  // whether its partner's room may release it too.
  static_assert(2 * limits::kPacedPaths < 32, "FlowQueue tags are bits of a 32-bit mask");
  static std::uint32_t own_tag(std::size_t slot) { return static_cast<std::uint32_t>(slot + 1); }
  static std::uint32_t spill_tag(std::size_t slot) { return static_cast<std::uint32_t>(slot + 1 + limits::kPacedPaths); }
  std::size_t find(std::uint32_t path) const {
    if (!path) return kNone;
    for (std::size_t i = 0; i < slots_.size(); ++i)
      if (slots_[i].path == path) return i;
    return kNone;
  }
  // A slot for a new path: a free one, else the least recently used (never
  // the active path's).
  std::size_t take_slot(std::uint32_t path, Time now) {
    std::size_t pick = kNone;
    for (std::size_t i = 0; i < slots_.size(); ++i) {
      if (i == current_ && slots_[i].path) continue;
      if (!slots_[i].path) {
        pick = i;
        break;
      }
      if (pick == kNone || slots_[i].last_used < slots_[pick].last_used) pick = i;
    }
    slots_[pick] = PathSlot{};
    slots_[pick].path = path;
    slots_[pick].last_used = now;
    return pick;
  }
  // The rate of `path`, or the active path's when it is not remembered.
  PathRate& rate_for(std::uint32_t path) {
    const std::size_t i = find(path);
    return slots_[i == kNone ? current_ : i].rate;
  }
  // CoDel manages the one flow queue unless every pacer that may carry
  // data (the active path's, the bonded ones') still searches: what waits
  // then is the pacers' lag, no standing queue (FlowQueue::set_managing). One
  // path's search must not leave the others' standing queues unmanaged.
  void update_managing() {
    bool searching = slots_[current_].rate.searching();
    for (const auto& s : slots_)
      if (s.path && s.bonded) searching = searching && s.rate.searching();
    queue_.set_managing(!searching);
  }
  // The soonest any pacer that may carry data has room: the active path's
  // and the bonded ones'.
  Time next_release(Time now) const {
    Time at = slots_[current_].rate.next_release(now);
    for (const auto& s : slots_)
      if (s.path && s.bonded) at = std::min(at, s.rate.next_release(now));
    return at;
  }

  FlowQueue queue_;
  std::array<PathSlot, limits::kPacedPaths> slots_{};
  std::size_t current_ = 0;
  Time release_at_ = kNever;
  std::uint64_t overdrawn_ = 0;
};

}  // namespace tund::session
