// The status JSON's "data_path" object, the same for both daemons: which
// offloads the kernel granted, how many crypto threads run, and how much the
// offloads are doing (inner packets merged into GRO super-packets).
#pragma once

#include <nlohmann/json.hpp>

#include "daemon/crypto_pool.hpp"
#include "daemon/tun_device.hpp"
#include "daemon/tun_io.hpp"

namespace tund::daemon {

inline nlohmann::json data_path_json(const TunDevice& tun, const TunWriter& writer, const CryptoPool& pool, bool udp_gso,
                                     bool udp_gro) {
  return {{"tun_offloads", tun.offloads_string()},
          {"udp_gso", udp_gso},
          {"udp_gro", udp_gro},
          {"crypto_threads", pool.workers()},
          {"crypto_items_on_workers", pool.items_on_workers()},
          {"coalesced_packets", writer.coalesced()}};
}

}  // namespace tund::daemon
