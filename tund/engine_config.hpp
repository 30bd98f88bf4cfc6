// What the client engine (engine/client_engine.hpp) is told of a client
// config: the one translation both the daemon and the C API use.
#pragma once

#include "engine/client_engine.hpp"
#include "tund/client_config.hpp"

namespace tund::client {

// A hub's configured routes, both families, as the core's prefixes.
std::vector<session::IpPrefix> hub_prefixes(const HubSettings& hub);

// `wall_offset`: unix time minus the monotonic clock (handshake timestamps).
// Throws std::invalid_argument when the private key gives no public key.
engine::EngineConfig engine_config(const ClientSettings& s, WallTime wall_offset);

}  // namespace tund::client
