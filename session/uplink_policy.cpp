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
  }
  return "unusable";
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
  auto rank = [&](std::size_t i) {
    return std::make_tuple(metered(i), priority(c, cands[i].name), cands[i].name,
                           cands[i].family != 6);
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
