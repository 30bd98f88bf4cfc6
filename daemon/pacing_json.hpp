// A session's pacers and flow queue (session/paced_sender.hpp) as the status
// JSON's "pacing" object, the same for the client (per hub) and the hub
// (each client): the active path's estimated rate, the path's
// baseline and recent round trip, the queue delay it steers to, what waits
// in tund and for how long, and what the queue dropped or marked, by reason;
// and under "paths" each path's own estimate.
#pragma once

#include <chrono>
#include <nlohmann/json.hpp>

#include "session/paced_sender.hpp"

namespace tund::daemon {

// Each path's own pacer (issue 29 item 4): `name(path)` names the path (a
// client's uplink, a hub's endpoint).
template <class Name>
nlohmann::json pacing_paths_json(const session::PacedSender& p, Time now, Name&& name) {
  const auto ms = [](const std::optional<Duration>& d) {
    return d ? nlohmann::json(std::chrono::duration<double, std::milli>(*d).count()) : nlohmann::json(nullptr);
  };
  nlohmann::json out = nlohmann::json::array();
  for (const auto& slot : p.paths()) {
    if (!slot.path) continue;
    out.push_back({{"path", name(slot.path)},
                   {"active", slot.path == p.path()},
                   {"bonded", slot.bonded},
                   // Where its packets may spill while it has no room (bond).
                   {"partner", slot.partner ? nlohmann::json(name(slot.partner)) : nlohmann::json(nullptr)},
                   {"rate_bps", slot.rate.rate_bps()},
                   {"base_rtt_ms", ms(slot.rate.base_rtt())},
                   {"rtt_ms", ms(slot.rate.recent_rtt())},
                   {"queue_delay_ms", ms(slot.rate.recent_queue())},
                   {"acked_ago_ms", slot.last_ack == Time::min() ? nlohmann::json(nullptr)
                                                                 : ms(std::optional<Duration>(now - slot.last_ack))}});
  }
  return out;
}

template <class Name>
nlohmann::json pacing_json(const session::PacedSender& p, Time now, Name&& name) {
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
          {"ecn_marks", c.codel_marks},
          // Bond: packets sent on a path whose pacer had no room (should stay 0).
          {"sent_without_room", p.overdrawn()},
          {"paths", pacing_paths_json(p, now, name)}};
}

}  // namespace tund::daemon
