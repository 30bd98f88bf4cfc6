// A session's reorder buffer (session/reorder_buffer.hpp) as the status
// replies show it, the same for a client and a hub: the peer's spread flows'
// packets waiting for earlier ones now, the wait they may take, and what
// waited, was given up on (after the wait, or at once when every path in
// use had passed it), came late or went unordered since the session began.
#pragma once

#include <chrono>
#include <nlohmann/json.hpp>

#include "session/reorder_buffer.hpp"

namespace tund::daemon {

inline nlohmann::json reorder_json(const session::ReorderBuffer& r) {
  const auto& c = r.counters();
  return {{"waiting_packets", r.waiting()},
          {"wait_ms", std::chrono::duration<double, std::milli>(r.wait()).count()},
          {"memory", r.memory()},
          {"held_packets", c.held},
          {"gaps_given_up", c.gaps_given_up},
          {"gaps_passed", c.gaps_passed},
          {"late_packets", c.late},
          {"passed_late_packets", c.passed_late},
          {"unordered_packets", c.unordered}};
}

}  // namespace tund::daemon
