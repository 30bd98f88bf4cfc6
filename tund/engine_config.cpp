#include "tund/engine_config.hpp"

#include <stdexcept>

namespace tund::client {

std::vector<session::IpPrefix> hub_prefixes(const HubSettings& hub) {
  std::vector<session::IpPrefix> prefixes;
  for (const auto& r : hub.routes) prefixes.push_back(session::IpPrefix::v4(r.addr, r.len));
  for (const auto& r : hub.routes6) prefixes.push_back(session::IpPrefix::v6(r.addr.data(), r.len));
  return prefixes;
}

engine::EngineConfig engine_config(const ClientSettings& s, WallTime wall_offset) {
  engine::EngineConfig ec;
  auto& cc = ec.client;
  cc.identity.priv = s.private_key;
  if (!cc.identity.complete()) throw std::invalid_argument("the private key gives no usable public key");
  cc.wall_offset = wall_offset;
  cc.resend = s.resend;
  cc.idle = s.idle;
  cc.redundant = s.redundant;
  cc.pacing = s.data_path.pacing;
  if (!s.data_path.allow_aes) cc.capabilities &= ~wire::initiation_payload::kCapAes256Gcm;
  ec.policy = s.uplinks;
  ec.tun_mtu = s.mtu;
  for (const auto& hub : s.hubs) {
    engine::HubSpec spec{hub.name, hub.public_key, hub.min_vip_prefix, hub.persistent_keepalive_s, {}, hub_prefixes(hub)};
    for (const auto& e : hub.endpoints) spec.members.push_back(e.to_string());
    ec.hubs.push_back(std::move(spec));
  }
  return ec;
}

}  // namespace tund::client
