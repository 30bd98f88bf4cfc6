// What stands between a session's new data and its active path (issue 29):
// the path's pacer (path_rate.hpp) and the flow queue (flow_queue.hpp) where
// data waits when the pacer says so. The same for a client (its uplink) and
// a hub (each client's path):
//   admit(len)       new data may be sealed now: nothing waits and the pacer
//                    has room (which it then counts)
//   hold(packet)     else the packet waits, per flow
//   release(out)     the next waiting packet, when the pacer has room
//   may_send()       whether anything else (a resend) may leave now; then spend()
//   on_ack()         the data stream's acknowledgements feed the pacer
//   new_path()       the active path changed: the rate starts again, low
// Sans I/O: every call carries `now`.
#pragma once

#include <optional>

#include "session/flow_queue.hpp"
#include "session/path_rate.hpp"

namespace tund::session {

class PacedSender {
 public:
  PacedSender(std::uint64_t seed, MemoryBudget* shared) : queue_(seed, shared) {}

  bool admit(std::size_t inner_len, Time now) { return queue_.empty() && rate_.take(inner_len, now); }
  // False when the packet could not be kept (the queue's memory budget).
  bool hold(Bytes inner, Time now) {
    const bool kept = queue_.enqueue(inner, now);
    release_at_ = std::min(release_at_, rate_.next_release(now));
    return kept;
  }
  std::optional<std::size_t> release(MutableBytes out, Time now) {
    if (queue_.empty()) return std::nullopt;
    if (!may_send(now)) return std::nullopt;
    const auto n = queue_.dequeue(out, now);
    if (!n) return std::nullopt;  // CoDel dropped what was left
    rate_.spend(*n, now);
    return n;
  }
  // True when the pacer has room now; else remembers when it will (next_deadline).
  bool may_send(Time now) {
    const Time at = rate_.next_release(now);
    release_at_ = at > now ? at : kNever;
    return at <= now;
  }
  void spend(std::size_t bytes, Time now) { rate_.spend(bytes, now); }
  bool waiting() const { return !queue_.empty(); }
  // When release() (or a resend held by may_send()) can go on, and when an
  // idle queue gives its memory back.
  Time next_deadline() const { return std::min(release_at_, queue_.idle_release_at()); }

  void on_ack(Time now, std::optional<Duration> rtt, std::size_t bytes, std::size_t packets,
              std::optional<std::int64_t> one_way) {
    rate_.on_ack(now, rtt, bytes, packets, one_way);
    if (const auto base = rate_.base_rtt()) queue_.set_round_trip(*base, rate_.rate_bps() / 8);
  }
  void new_path(Time now, std::optional<Duration> rtt) { rate_.reset(now, rtt); }
  void expire(Time now) { queue_.expire(now); }
  void clear() {
    queue_.clear();
    release_at_ = kNever;
  }

  const FlowQueue& queue() const { return queue_; }
  const PathRate& rate() const { return rate_; }

 private:
  FlowQueue queue_;
  PathRate rate_;
  Time release_at_ = kNever;
};

}  // namespace tund::session
