#include "hub/cluster_keys.hpp"

#include <set>

namespace tund::hub {

using nlohmann::json;

const char* refusal_name(Refusal r) {
  switch (r) {
    case Refusal::kKeyShape: return "key_shape";
    case Refusal::kValueShape: return "value_shape";
    case Refusal::kOutsidePool: return "outside_pool";
    case Refusal::kReservedAddress: return "reserved_address";
    case Refusal::kDuplicateVip: return "duplicate_vip";
    case Refusal::kVipDisagrees: return "vip_disagrees";
    case Refusal::kUnknownMember: return "unknown_member";
    case Refusal::kCount: break;
  }
  return "unknown";
}

bool is_key_hex(std::string_view s) {
  if (s.size() != 64) return false;
  for (const char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

std::optional<std::string> after_prefix(const std::string& key, const std::string& prefix) {
  if (key.size() < prefix.size() || key.compare(0, prefix.size(), prefix) != 0) return std::nullopt;
  return key.substr(prefix.size());
}

std::optional<Refusal> check_vip(const config::Prefix& pool, std::uint32_t addr) {
  if (!pool.contains(addr)) return Refusal::kOutsidePool;
  const std::uint32_t mask = prefix_mask_v4(pool.len);
  const std::uint32_t network = pool.addr & mask, broadcast = network | ~mask;
  if (addr == pool.addr || (pool.len <= 30 && (addr == network || addr == broadcast))) return Refusal::kReservedAddress;
  return std::nullopt;
}

std::optional<std::uint32_t> canonical_ipv4(std::string_view text) {
  if (text.size() > 15) return std::nullopt;
  const auto a = config::parse_ipv4(text);
  if (!a || config::ipv4_to_string(*a) != text) return std::nullopt;
  return a;
}

Mappings check_mappings(const std::vector<std::pair<std::string, std::string>>& clients,
                        const std::vector<std::pair<std::string, std::string>>& vips, const std::string& client_prefix,
                        const std::string& vip_prefix, const config::Prefix& pool) {
  Mappings m;
  const auto refuse = [&](Refusal why, const std::string& key, const std::string& detail, const std::string& hex) {
    m.problems.push_back({why, key, detail});
    if (!hex.empty()) m.refused.emplace(hex, why);
  };
  // vip/<address> -> key hex, for the addresses whose entry is well formed.
  std::map<std::uint32_t, std::string> named;
  for (const auto& [k, v] : vips) {
    const auto id = after_prefix(k, vip_prefix);
    const auto addr = id ? canonical_ipv4(*id) : std::nullopt;
    if (!addr) {
      refuse(Refusal::kKeyShape, k, "not " + vip_prefix + "<address>", "");
      continue;
    }
    if (pool.contains(*addr)) m.taken.insert(*addr);
    if (const auto bad = check_vip(pool, *addr)) {
      refuse(*bad, k, "not a client's address in " + pool.to_string(), "");
    } else if (!is_key_hex(v)) {
      refuse(Refusal::kValueShape, k, "its value is not a client key", "");
    } else {
      named[*addr] = v;
    }
  }
  // client/<key hex> -> address: usable, then one client per address.
  std::map<std::uint32_t, std::vector<std::string>> holders;
  std::set<std::string> listed;
  for (const auto& [k, v] : clients) {
    const auto hex = after_prefix(k, client_prefix);
    if (!hex || !is_key_hex(*hex)) {
      refuse(Refusal::kKeyShape, k, "not " + client_prefix + "<64 hex digits>", "");
      continue;
    }
    // A range lists a key once; a key listed twice is an answer not to
    // trust for that client (the fuzzer's: one copy refused, one accepted).
    if (!listed.insert(std::string(*hex)).second) {
      refuse(Refusal::kKeyShape, k, "listed twice in one answer", *hex);
      continue;
    }
    const auto addr = canonical_ipv4(v);
    if (!addr) {
      refuse(Refusal::kValueShape, k, "its value is not an IPv4 address", *hex);
      continue;
    }
    if (pool.contains(*addr)) m.taken.insert(*addr);
    if (const auto bad = check_vip(pool, *addr)) {
      refuse(*bad, k, config::ipv4_to_string(*addr) + " is not a client's address in " + pool.to_string(), *hex);
      continue;
    }
    holders[*addr].push_back(*hex);
  }
  for (const auto& [addr, hexes] : holders) {
    const auto n = named.find(addr);
    for (const auto& hex : hexes) {
      const std::string k = client_prefix + hex, a = config::ipv4_to_string(addr);
      if (n != named.end() && n->second != hex) {
        refuse(Refusal::kVipDisagrees, k, a + " is " + vip_prefix + a + " -> " + n->second.substr(0, 16) + "...", hex);
      } else if (n == named.end() && hexes.size() > 1) {
        refuse(Refusal::kDuplicateVip, k, a + " is held by " + std::to_string(hexes.size()) + " clients", hex);
      } else {
        m.clients[hex] = addr;
      }
    }
  }
  // A client refused for any entry is not let through for another.
  for (const auto& [hex, why] : m.refused) m.clients.erase(hex);
  return m;
}

}  // namespace tund::hub
