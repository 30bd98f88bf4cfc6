// VIP assignment, a pure function: clients that name a VIP get it (checked),
// then clients keep the VIP the hub gave them before (its lease, from the
// state directory) when it is still usable and free, and the rest get the
// lowest free addresses of the hub's subnet, in config order.
// Never the network or broadcast address, never the hub's own.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "daemon/config_check.hpp"

namespace tund::hub {

struct VipRequest {
  std::optional<std::uint32_t> vip;     // named in the config
  std::optional<std::uint32_t> leased;  // given before (ignored when unusable or taken)
};

struct VipAssignmentResult {
  std::vector<std::uint32_t> vips;  // one per request, when ok
  std::string error;                // empty when ok
  std::size_t bad_index = 0;        // the request the error is about
  bool ok() const { return error.empty(); }
};

// `hub` is the hub's own address with the subnet's prefix length.
VipAssignmentResult assign_vips(const config::Prefix& hub, const std::vector<VipRequest>& requests);

}  // namespace tund::hub
