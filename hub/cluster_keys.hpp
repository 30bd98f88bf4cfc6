// What a cluster member reads from etcd, checked before it is believed
// (hub/cluster_agent.hpp keeps the keys). etcd's word decides who receives
// whose traffic, so a mapping is used only when it is well formed and
// consistent: a key of the expected shape, a usable pool address (never the
// network, broadcast or hub address), one client per VIP, and vip/<address>
// naming the same client as client/<key> where both are read. Anything else
// is refused and counted by reason, never thrown. Pure: no etcd, no I/O.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "daemon/reason_counts.hpp"

#include "daemon/config_check.hpp"

namespace tund::hub {

enum class Refusal : std::uint8_t {
  kKeyShape,         // not <prefix><64 hex> (client/, owner/) or <prefix><dotted quad> (vip/)
  kValueShape,       // a value that is not an address (client/) or a key hex (vip/)
  kOutsidePool,      // an address outside the VIP pool
  kReservedAddress,  // the pool's network, broadcast or the hub's own address
  kDuplicateVip,     // one address held by several clients, none confirmed by vip/
  kVipDisagrees,     // vip/<address> names another client than client/<key>
  kUnknownMember,    // owner/ names no member of the cluster
  kCount
};
const char* refusal_name(Refusal r);
using Refusals = daemon::ReasonCounts<Refusal, refusal_name>;  // to_json(): {"duplicate_vip": 2, ...}

// A client's key as etcd spells it: 64 lowercase hex digits.
bool is_key_hex(std::string_view s);
// What follows `prefix` in `key`, when `key` starts with it; else nothing.
std::optional<std::string> after_prefix(const std::string& key, const std::string& prefix);
// A pool address a client may hold: inside the pool, not its network,
// broadcast (pools up to /30) or the hub's own address (pool.addr).
std::optional<Refusal> check_vip(const config::Prefix& pool, std::uint32_t addr);
// "a.b.c.d" exactly as ipv4_to_string writes it (no NUL-cut or other spellings).
std::optional<std::uint32_t> canonical_ipv4(std::string_view text);

// One consistent read of client/ and vip/ (kvs as etcd::kvs decodes them).
struct Mappings {
  std::map<std::string, std::uint32_t> clients;  // key hex -> its VIP, every check passed
  std::map<std::string, Refusal> refused;        // key hex -> why its mapping was refused
  std::set<std::uint32_t> taken;                 // every pool address named anywhere: never handed out again
  struct Problem {
    Refusal why;
    std::string key, detail;
  };
  std::vector<Problem> problems;  // each refusal, for the log
};
Mappings check_mappings(const std::vector<std::pair<std::string, std::string>>& clients,
                        const std::vector<std::pair<std::string, std::string>>& vips, const std::string& client_prefix,
                        const std::string& vip_prefix, const config::Prefix& pool);

}  // namespace tund::hub
