// A path's pacer and flow queue (session/paced_sender.hpp) as the status
// JSON's "pacing" object, the same for the client (its active uplink, per
// hub) and the hub (each client's path): the estimated rate, the path's
// baseline and recent round trip, the queue delay it steers to, what waits
// in tund and for how long, and what the queue dropped or marked, by reason.
#pragma once

#include <chrono>
#include <nlohmann/json.hpp>

#include "session/paced_sender.hpp"

namespace tund::daemon {

inline nlohmann::json pacing_json(const session::PacedSender& p, Time now) {
  const auto ms = [](const std::optional<Duration>& d) {
    return d ? nlohmann::json(std::chrono::duration<double, std::milli>(*d).count()) : nlohmann::json(nullptr);
  };
  const auto& q = p.queue();
  const auto& c = q.counters();
  return {{"rate_bps", p.rate().rate_bps()},  // 0: not pacing (no measurement yet)
          {"base_rtt_ms", ms(p.rate().base_rtt())},
          {"rtt_ms", ms(p.rate().recent_rtt())},
          {"queue_target_ms", ms(p.rate().queue_target())},
          {"queued_packets", q.packets()},
          {"queued_bytes", q.bytes()},
          {"sojourn_ms", ms(q.packets() ? std::optional<Duration>(q.head_sojourn(now)) : std::nullopt)},
          {"queue_memory", q.memory()},
          {"waited_packets", c.queued},
          {"drops", {{"codel", c.codel_drops}, {"overflow", c.overflow}, {"no_memory", c.no_memory}, {"flushed", c.flushed}}},
          {"ecn_marks", c.codel_marks}};
}

}  // namespace tund::daemon
