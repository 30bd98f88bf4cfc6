#include "session/uplink_policy.hpp"

#include <fnmatch.h>

#include <algorithm>
#include <cstdio>

namespace tund::session {

const char* to_string(UplinkRole r) {
  switch (r) {
    case UplinkRole::kActive: return "active";
    case UplinkRole::kStandby: return "standby";
    case UplinkRole::kUnusable: return "unusable";
    case UplinkRole::kBonded: return "bonded";
  }
  return "unusable";
}

const char* to_string(UplinkMode m) { return m == UplinkMode::kBond ? "bond" : "failover"; }

const char* to_string(UplinkTier t) {
  switch (t) {
    case UplinkTier::kPrimary: return "primary";
    case UplinkTier::kSecondary: return "secondary";
    case UplinkTier::kBackup: return "backup";
    case UplinkTier::kNever: return "never";
  }
  return "primary";
}

std::optional<UplinkTier> parse_tier(const std::string& s) {
  for (const auto t : {UplinkTier::kPrimary, UplinkTier::kSecondary, UplinkTier::kBackup, UplinkTier::kNever})
    if (s == to_string(t)) return t;
  return std::nullopt;
}

UplinkTier uplink_tier(const UplinkPolicyConfig& c, const std::string& name) {
  for (const auto& [glob, tier] : c.tiers)
    if (fnmatch(glob.c_str(), name.c_str(), 0) == 0) return tier;
  return UplinkTier::kPrimary;
}

bool glob_match(const std::vector<std::string>& globs, const std::string& name) {
  for (const auto& g : globs)
    if (fnmatch(g.c_str(), name.c_str(), 0) == 0) return true;
  return false;
}

bool uplink_metered(const UplinkPolicyConfig& c, const std::string& name, std::optional<bool> system_metered) {
  if (system_metered && !c.metered_configured) return *system_metered;
  return glob_match(c.metered, name);
}

namespace {
// Bond mode: the active path and the other healthy, measured uplinks of its
// tier group (primary and secondary together; backup only with each other),
// one path per uplink (the best-ranked family: one uplink is not bonded
// with itself), metered ones only with bond_metered. Nothing when the
// active path is not healthy itself (failover's fallback then decides).
// A path that recovers joins after the hold-down, as failover would return to it.
template <class Metered>
void choose_bond(const UplinkPolicyConfig& c, const std::vector<UplinkCandidate>& cands,
                 const std::vector<std::size_t>& healthy, std::size_t pick, Metered&& metered,
                 const std::map<std::uint32_t, Time>& healthy_since, Time now, UplinkChoice& out) {
  if (std::find(healthy.begin(), healthy.end(), pick) == healthy.end()) return;
  const bool backup = uplink_tier(c, cands[pick].name) == UplinkTier::kBackup;
  out.bond.emplace_back(cands[pick].id, uplink_tier(c, cands[pick].name) == UplinkTier::kSecondary);
  std::vector<std::string> names{cands[pick].name};
  for (const std::size_t i : healthy) {
    const auto& u = cands[i];
    const UplinkTier tier = uplink_tier(c, u.name);
    if (out.bond.size() >= limits::kAckPathShares) break;
    if (i == pick || !u.rtt || (tier == UplinkTier::kBackup) != backup) continue;
    if (std::find(names.begin(), names.end(), u.name) != names.end()) continue;
    if (metered(i) && !c.bond_metered) continue;
    const auto since = healthy_since.find(u.id);
    const Duration hold = std::max<Duration>(c.hold_down, u.rtt.value_or(Duration{0}) * limits::kHoldDownRtts);
    if (since == healthy_since.end() || now - since->second < hold) {
      const Time at = since == healthy_since.end() ? now + hold : since->second + hold;
      out.revisit = std::min(out.revisit, at);
      out.verdicts[i].reason = "joins the bond after the hold-down";
      continue;
    }
    names.push_back(u.name);
    out.bond.emplace_back(u.id, tier == UplinkTier::kSecondary);
    out.verdicts[i].role = UplinkRole::kBonded;
    out.verdicts[i].reason = tier == UplinkTier::kSecondary ? "bonded (secondary: new flows when the primary paths are full)"
                                                            : "bonded";
  }
  if (out.bond.size() < 2) out.bond.clear();
}

std::size_t priority(const UplinkPolicyConfig& c, const std::string& name) {
  for (std::size_t i = 0; i < c.prefer.size(); ++i)
    if (fnmatch(c.prefer[i].c_str(), name.c_str(), 0) == 0) return i;
  return c.prefer.size();
}

std::string unhealthy_reason(const UplinkPolicyConfig& c, const UplinkCandidate& u) {
  char buf[96];
  if (u.gray) return std::string("failing gray: ") + u.gray;
  if (u.rtt && *u.rtt > c.max_rtt) {
    std::snprintf(buf, sizeof buf, "rtt %lld ms > %lld ms",
                  static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(*u.rtt).count()),
                  static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(c.max_rtt).count()));
    return buf;
  }
  if (u.loss && *u.loss > c.max_loss) {
    std::snprintf(buf, sizeof buf, "loss %.0f%% > %.0f%%", *u.loss * 100, c.max_loss * 100);
    return buf;
  }
  return {};
}
}  // namespace

UplinkChoice choose_uplink(const UplinkPolicyConfig& c, const std::vector<UplinkCandidate>& cands,
                           std::optional<std::uint32_t> current, const std::optional<std::string>& pinned,
                           const std::map<std::uint32_t, Time>& healthy_since, Time now) {
  UplinkChoice out;
  out.verdicts.resize(cands.size());
  std::vector<std::size_t> usable, healthy;
  for (std::size_t i = 0; i < cands.size(); ++i) {
    const auto& u = cands[i];
    auto& v = out.verdicts[i];
    if (glob_match(c.avoid, u.name)) {
      v.reason = "avoided by policy";
    } else if (uplink_tier(c, u.name) == UplinkTier::kNever) {
      v.reason = "tier never";
    } else if (!u.usable) {
      v.reason = u.unusable_reason.empty() ? "not usable" : u.unusable_reason;
    } else {
      usable.push_back(i);
      v.role = UplinkRole::kStandby;
      v.reason = unhealthy_reason(c, u);
      // Unmeasured counts as healthy only when there is nothing to leave: a
      // path that answered (even slowly, a satellite's) is not traded for
      // one that has not answered yet (its first probe decides soon).
      const bool leaving_measured = current && u.id != *current && !u.rtt;
      if (leaving_measured && v.reason.empty()) v.reason = "not measured yet";
      if (v.reason.empty()) healthy.push_back(i);
    }
  }
  auto metered = [&](std::size_t i) { return uplink_metered(c, cands[i].name, cands[i].system_metered); };
  // Tiers first: with none configured every uplink is primary and the
  // order is failover's as it always was.
  auto rank = [&](std::size_t i) {
    return std::make_tuple(static_cast<int>(uplink_tier(c, cands[i].name)), metered(i), priority(c, cands[i].name),
                           cands[i].name, cands[i].family != 6);
  };
  auto better = [&](std::size_t a, std::size_t b) { return rank(a) < rank(b); };
  std::sort(usable.begin(), usable.end(), better);
  std::sort(healthy.begin(), healthy.end(), better);

  std::optional<std::size_t> pick;
  std::string why;
  if (pinned) {
    for (auto i : usable)
      if (cands[i].name == *pinned) {
        pick = i;
        why = "pinned by the user";
      }
  }
  if (!pick && !healthy.empty()) {
    pick = healthy.front();
    why = "best healthy uplink";
    // Hold-down: stay on a healthy current uplink until the better one has
    // been healthy long enough.
    std::optional<std::size_t> cur;
    for (auto i : healthy)
      if (current && cands[i].id == *current) cur = i;
    if (cur && *cur != *pick) {
      const auto it = healthy_since.find(cands[*pick].id);
      const Time since = it == healthy_since.end() ? now : it->second;
      // Scaled to the uplink's round trip: a slow path needs longer to show
      // it is really back than a 10 ms one.
      const Duration hold = std::max<Duration>(c.hold_down, cands[*pick].rtt.value_or(Duration{0}) * limits::kHoldDownRtts);
      if (now - since < hold) {
        out.revisit = since + hold;
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(out.revisit - now).count();
        out.verdicts[*pick].reason = "better, in hold-down (" + std::to_string(left) + " ms left)";
        pick = cur;
        why = "healthy; a better uplink is in hold-down";
      }
    }
  }
  if (!pick && !usable.empty()) {
    pick = usable.front();
    why = "no healthy uplink: best usable one";
    // Nothing healthy: moving helps only onto a path that measures better
    // (lower round trip, no more loss, not gray); otherwise stay.
    const auto cur = std::find_if(usable.begin(), usable.end(), [&](std::size_t i) { return current && cands[i].id == *current; });
    if (cur != usable.end()) {
      const UplinkCandidate& now_on = cands[*cur];
      auto measures_better = [&](std::size_t i) {
        const UplinkCandidate& u = cands[i];
        if (i == *cur || u.gray || !u.rtt || u.loss.value_or(0) > now_on.loss.value_or(0)) return false;
        // By a clear margin: an idle path's round trip against a loaded
        // one's (its own queue on top) is no reason to move.
        return now_on.gray || !now_on.rtt || *u.rtt * limits::kFallbackRttMargin < *now_on.rtt;
      };
      const auto alt = std::find_if(usable.begin(), usable.end(), measures_better);
      pick = alt != usable.end() ? *alt : *cur;
      if (alt == usable.end()) why = "no healthy uplink: none measures better";
    }
  }
  if (pick) {
    out.active = cands[*pick].id;
    out.verdicts[*pick].role = UplinkRole::kActive;
    out.verdicts[*pick].reason = why;
  }
  if (c.mode == UplinkMode::kBond && pick) choose_bond(c, cands, healthy, *pick, metered, healthy_since, now, out);
  for (auto i : usable) {
    auto& v = out.verdicts[i];
    if (v.role != UplinkRole::kStandby || !v.reason.empty()) continue;
    v.reason = metered(i) && pick && !metered(*pick)
                   ? "metered: used only when nothing unmetered is healthy"
                   : "lower priority";
  }
  return out;
}

const UplinkChoice& UplinkSelector::update(const std::vector<UplinkCandidate>& cands,
                                           std::optional<std::uint32_t> current,
                                           const std::optional<std::string>& pinned, Time now) {
  std::map<std::uint32_t, Time> still;
  for (const auto& u : cands) {
    if (!u.usable || glob_match(config_.avoid, u.name) || !unhealthy_reason(config_, u).empty()) continue;
    const auto it = healthy_since_.find(u.id);
    still[u.id] = it != healthy_since_.end() ? it->second : first_update_ ? now - config_.hold_down : now;
  }
  healthy_since_ = std::move(still);
  first_update_ = false;
  last_ = choose_uplink(config_, cands, current, pinned, healthy_since_, now);
  return last_;
}

}  // namespace tund::session
