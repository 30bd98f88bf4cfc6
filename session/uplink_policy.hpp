// Which uplink a session sends through, as a pure function of the uplink
// table, the paths' measurements and the user's policy:
//
//   1. never an avoided, down, address-less or route-less uplink;
//   2. a pinned uplink (`tund switch IF`) while it is usable;
//   3. otherwise the best healthy uplink: unmetered before metered, then the
//      order of `prefer` (unmatched names last), then name, then IPv6 before
//      IPv4 on one uplink; healthy = not failing gray, and no measurement
//      yet or RTT ≤ max_rtt and loss ≤ max_loss;
//   4. with nothing healthy, the best usable one (something beats nothing);
//   5. tiers (`[uplinks] tiers`): a "never" uplink is never used; a "backup"
//      one only when no primary or secondary one is healthy; a secondary one
//      ranks after every primary one (before metered and `prefer`);
//   6. failures move at once; a move to a *better* uplink while the current one
//      is still healthy waits until that uplink has been healthy for
//      max(hold_down, kHoldDownRtts of its round trip) (no flapping back and
//      forth on a recovering link).
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "tund/limits.hpp"
#include "tund/types.hpp"

namespace tund::session {

// Failover: one active path at a time (the others standbys it probes).
// Bond: the active path and the other healthy uplinks of its tier group
// carry data together, each flow on one (session/bond_scheduler.hpp).
enum class UplinkMode : std::uint8_t { kFailover, kBond };
const char* to_string(UplinkMode m);
// Primary and secondary form one group in a bond (secondary paths take new
// flows only when every primary one is full); backup is used only when no
// primary or secondary uplink is healthy; never, not at all.
enum class UplinkTier : std::uint8_t { kPrimary, kSecondary, kBackup, kNever };
const char* to_string(UplinkTier t);
std::optional<UplinkTier> parse_tier(const std::string& s);

struct UplinkPolicyConfig {
  std::vector<std::string> prefer{"eth*", "en*", "wlan*", "wl*", "wwan*", "lte*"};
  std::vector<std::string> avoid{"docker*", "br-*", "virbr*", "veth*"};
  std::vector<std::string> metered{"wwan*", "lte*"};
  // The user wrote [uplinks] metered: the globs then override what the
  // system says (uplink_metered).
  bool metered_configured = false;
  Duration max_rtt = std::chrono::milliseconds(500);
  double max_loss = 0.2;
  Duration hold_down = std::chrono::milliseconds(2000);
  UplinkMode mode = UplinkMode::kFailover;
  // Glob -> tier, the first match wins; an uplink no glob matches is primary.
  std::vector<std::pair<std::string, UplinkTier>> tiers;
  // A metered uplink joins a bond only with this (it may still be the
  // active path when nothing unmetered is healthy, as in failover).
  bool bond_metered = false;
};

UplinkTier uplink_tier(const UplinkPolicyConfig& config, const std::string& name);

// Probing that follows traffic: after `after` without inner packets either
// way a session is idle; then the active path is probed only every
// `keepalive` (counted from the last thing sent on it: enough for NAT
// bindings), unmetered standbys every `standby_probe` (0: never), metered
// standbys not at all unless the active path is found dead. The first inner
// packet ends it and probes the active path at once.
struct IdlePolicy {
  Duration after = limits::kIdleAfter;
  Duration keepalive = limits::kIdleKeepalive;
  Duration standby_probe = limits::kIdleStandbyProbe;
};

struct UplinkCandidate {
  std::string name;
  std::uint32_t id = 0;   // the path id (uplink and family)
  bool usable = false;    // up, an address and a default route of the family
  std::string unusable_reason;
  std::optional<Duration> rtt;
  std::optional<double> loss;
  const char* gray = nullptr;  // failing gray by its data (path_health.hpp): unhealthy
  std::uint8_t family = 4;  // of the path: IPv6 wins a tie with IPv4 on one uplink
  std::optional<bool> system_metered{};  // NetworkManager's verdict, when it has one
};

// Ordered: an uplink's role is the best of its paths' (bonded: carries data
// with the active one, in bond mode).
enum class UplinkRole : std::uint8_t { kActive, kBonded, kStandby, kUnusable };
const char* to_string(UplinkRole r);

struct UplinkVerdict {
  UplinkRole role = UplinkRole::kUnusable;
  std::string reason;
};

struct UplinkChoice {
  std::optional<std::uint32_t> active;
  std::vector<UplinkVerdict> verdicts;  // parallel to the candidates
  Time revisit = kNever;                // when a hold-down ends: decide again then
  // Bond mode: the paths that carry data, the active one first, each with
  // whether it is of the secondary tier (empty: failover, or nothing to
  // bond with). One path per uplink (its best family), at most
  // kAckPathShares.
  std::vector<std::pair<std::uint32_t, bool>> bond;
};

bool glob_match(const std::vector<std::string>& globs, const std::string& name);

// Whether an uplink costs money: the configured globs when the user wrote
// them, else what the system knows (NetworkManager: a phone's hotspot on
// wlan0 is metered, a fixed LTE router on eth1 is not), else the default globs.
bool uplink_metered(const UplinkPolicyConfig& config, const std::string& name, std::optional<bool> system_metered);

// healthy_since[id]: since when that uplink has been continuously healthy.
UplinkChoice choose_uplink(const UplinkPolicyConfig& config, const std::vector<UplinkCandidate>& candidates,
                           std::optional<std::uint32_t> current, const std::optional<std::string>& pinned,
                           const std::map<std::uint32_t, Time>& healthy_since, Time now);

// The state around choose_uplink: tracks healthy_since and the current choice.
// Uplinks already healthy at the first update count as long healthy: the
// hold-down is for links that recover while we watch, not for the start.
class UplinkSelector {
 public:
  explicit UplinkSelector(UplinkPolicyConfig config) : config_(std::move(config)) {}
  const UplinkChoice& update(const std::vector<UplinkCandidate>& candidates, std::optional<std::uint32_t> current,
                             const std::optional<std::string>& pinned, Time now);
  const UplinkChoice& last() const { return last_; }
  const UplinkPolicyConfig& config() const { return config_; }
  void set_config(UplinkPolicyConfig c) { config_ = std::move(c); }

 private:
  UplinkPolicyConfig config_;
  std::map<std::uint32_t, Time> healthy_since_;
  UplinkChoice last_;
  bool first_update_ = true;
};

}  // namespace tund::session
