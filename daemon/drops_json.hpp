// The core's drop counters as the status JSON's "drops" object: reason name
// -> count, non-zero reasons only (the daemons add their own OS-side reasons).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "tund/drop_reason.hpp"

namespace tund::daemon {

inline nlohmann::json drops_json(const DropCounters& counters) {
  nlohmann::json out = nlohmann::json::object();
  for (std::size_t r = 0; r < kDropReasonCount; ++r)
    if (counters.by_reason[r]) out[std::string(to_string(DropReason(r)))] = counters.by_reason[r];
  return out;
}

}  // namespace tund::daemon
