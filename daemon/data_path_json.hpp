// The status JSON's "data_path" object, the same for both daemons: which
// offloads the kernel granted, how many crypto threads run, and how much the
// offloads are doing (inner packets merged into GRO super-packets), and how
// many IPv4 packets without DF were fragmented to fit the path.
#pragma once

#include <nlohmann/json.hpp>

#include "daemon/data_path.hpp"
#include "daemon/tun_device.hpp"

namespace tund::daemon {

inline nlohmann::json data_path_json(const TunDevice& tun, const DataPath& dp, bool udp_gso, bool udp_gro) {
  return {{"tun_offloads", tun.offloads_string()},
          {"udp_gso", udp_gso},
          {"udp_gro", udp_gro},
          {"crypto_threads", dp.pool.workers()},
          {"crypto_items_on_workers", dp.pool.items_on_workers()},
          {"coalesced_packets", dp.writer.coalesced()},
          {"fragmented_packets", dp.fragmented},
          {"copies_skipped", dp.copies_skipped}};
}

}  // namespace tund::daemon
