// The uplink policy as a pure function of the table, the measurements and the
// user's rules, and the selector's hold-down state.
#include <gtest/gtest.h>

#include "session/uplink_policy.hpp"

namespace tund {
namespace {

using namespace std::chrono_literals;
using session::choose_uplink;
using session::UplinkCandidate;
using session::UplinkPolicyConfig;
using session::UplinkRole;
using session::uplink_metered;

const Time t0 = Time{} + 1h;

UplinkCandidate up(std::string name, std::uint32_t id, std::optional<Duration> rtt = 10ms,
                   std::optional<double> loss = 0.0) {
  return {std::move(name), id, true, "", rtt, loss};
}
UplinkCandidate down(std::string name, std::uint32_t id) { return {std::move(name), id, false, "link down", {}, {}}; }

std::optional<std::uint32_t> pick(const std::vector<UplinkCandidate>& c, std::optional<std::uint32_t> current = {},
                                  std::optional<std::string> pinned = {}, std::map<std::uint32_t, Time> since = {},
                                  Time now = t0) {
  return choose_uplink(UplinkPolicyConfig{}, c, current, pinned, since, now).active;
}

TEST(UplinkPolicy, ASlowButAnsweringUplinkIsNotTradedForAnUnmeasuredOne) {
  // wlan0 a GEO link (over max_rtt), lte0 not measured yet: stay; at start
  // (nothing to leave) the unmeasured one may be chosen.
  const std::vector<UplinkCandidate> c = {up("wlan0", 2, 900ms), up("eth0", 3, std::nullopt, std::nullopt)};
  EXPECT_EQ(pick(c, 2u), 2u);
  EXPECT_EQ(pick(c), 3u);
  // Once measured and healthy, it wins as before.
  EXPECT_EQ(pick({up("wlan0", 2, 900ms), up("eth0", 3, 20ms)}, 2u), 3u);
  // Both over max_rtt (two satellite links): only a clearly better one is worth a move.
  EXPECT_EQ(pick({up("wlan0", 2, 1000ms), up("eth0", 3, 600ms)}, 2u), 2u);
  EXPECT_EQ(pick({up("wlan0", 2, 1500ms), up("eth0", 3, 600ms)}, 2u), 3u);
}

TEST(UplinkPolicy, AGrayUplinkIsUnhealthy) {
  auto gray = up("wlan0", 2);
  gray.gray = "lossy";
  const auto c = choose_uplink({}, {gray, up("lte0", 3)}, 2u, {}, {}, t0);
  EXPECT_EQ(c.active, 3u);
  EXPECT_EQ(c.verdicts[0].reason, "failing gray: lossy");
}

TEST(UplinkPolicy, HoldDownScalesWithTheRoundTrip) {
  // wlan0 healthy again for 3 s: past the 2 s hold-down at 10 ms, not at 400 ms (20 x 400 ms = 8 s).
  const std::map<std::uint32_t, Time> since = {{2, t0 - 3s}, {3, t0 - 1h}};
  EXPECT_EQ(pick({up("wlan0", 2, 10ms), up("lte0", 3)}, 3u, {}, since), 2u);
  EXPECT_EQ(pick({up("wlan0", 2, 400ms), up("lte0", 3)}, 3u, {}, since), 3u);
}

TEST(UplinkPolicy, PreferenceOrderAndUnmatchedLast) {
  EXPECT_EQ(pick({up("lte0", 3), up("wlan0", 2), up("eth0", 1)}), 1u);
  EXPECT_EQ(pick({up("lte0", 3), up("wlan0", 2)}), 2u);
  EXPECT_EQ(pick({up("foo0", 4), up("wlan0", 2)}), 2u);
  EXPECT_EQ(pick({up("foo0", 4), up("lte0", 3)}), 4u) << "unmetered unknown beats metered";
}

TEST(UplinkPolicy, AvoidedAndUnusableAreNeverChosen) {
  EXPECT_EQ(pick({up("docker0", 5)}), std::nullopt);
  EXPECT_EQ(pick({up("docker0", 5), down("wlan0", 2)}), std::nullopt);
  const auto c = choose_uplink({}, {up("docker0", 5), down("wlan0", 2), up("lte0", 3)}, {}, {}, {}, t0);
  EXPECT_EQ(c.active, 3u);
  EXPECT_EQ(c.verdicts[0].role, UplinkRole::kUnusable);
  EXPECT_EQ(c.verdicts[0].reason, "avoided by policy");
  EXPECT_EQ(c.verdicts[1].reason, "link down");
  EXPECT_EQ(c.verdicts[2].role, UplinkRole::kActive);
}

TEST(UplinkPolicy, MeteredOnlyWhenNothingUnmeteredIsHealthy) {
  EXPECT_EQ(pick({up("wlan0", 2, 600ms), up("lte0", 3)}), 3u) << "rtt over max_rtt";
  EXPECT_EQ(pick({up("wlan0", 2, 10ms, 0.5), up("lte0", 3)}), 3u) << "loss over max_loss";
  EXPECT_EQ(pick({up("wlan0", 2, std::nullopt, std::nullopt), up("lte0", 3)}), 2u) << "unmeasured counts as healthy";
  const auto c = choose_uplink({}, {up("wlan0", 2), up("lte0", 3)}, {}, {}, {}, t0);
  EXPECT_EQ(c.verdicts[1].role, UplinkRole::kStandby);
  EXPECT_NE(c.verdicts[1].reason.find("metered"), std::string::npos);
}

TEST(UplinkPolicy, TheSystemSaysWhatIsMeteredUnlessTheUserWroteGlobs) {
  auto hotspot = up("wlan0", 2);
  hotspot.system_metered = true;  // NetworkManager: a phone's hotspot
  auto router = up("lte0", 3);
  router.system_metered = false;  // NetworkManager: a fixed LTE router, flat rate
  EXPECT_EQ(pick({hotspot, router}), 3u) << "the system's verdicts beat the default globs";
  auto unknown = up("lte0", 3);  // NetworkManager does not manage it: the globs
  EXPECT_EQ(pick({hotspot, unknown}), 2u) << "both metered: the order of prefer";
  UplinkPolicyConfig mine;
  mine.metered = {"wlan*"};
  mine.metered_configured = true;
  EXPECT_EQ(choose_uplink(mine, {hotspot, router}, {}, {}, {}, t0).active, 3u);
  hotspot.system_metered = false;
  router.system_metered = true;
  EXPECT_EQ(pick({hotspot, router}), 2u);
  EXPECT_EQ(choose_uplink(mine, {hotspot, router}, {}, {}, {}, t0).active, 3u) << "the user's globs override";
  EXPECT_TRUE(uplink_metered(mine, "wlan0", false));
  EXPECT_FALSE(uplink_metered({}, "lte0", false));
  EXPECT_TRUE(uplink_metered({}, "lte0", std::nullopt));
}

TEST(UplinkPolicy, NothingHealthyFallsBackToTheBestUsable) {
  EXPECT_EQ(pick({up("wlan0", 2, 900ms), up("lte0", 3, 900ms)}), 2u);
}

TEST(UplinkPolicy, PinnedWinsWhileUsable) {
  EXPECT_EQ(pick({up("wlan0", 2), up("lte0", 3)}, 2, "lte0"), 3u);
  EXPECT_EQ(pick({up("wlan0", 2), down("lte0", 3)}, 3, "lte0"), 2u) << "pinned but unusable: policy";
  EXPECT_EQ(pick({up("wlan0", 2), up("docker0", 5)}, 2, "docker0"), 2u) << "avoided cannot be pinned";
}

TEST(UplinkPolicy, HoldDownDelaysMovingBackButNotFailures) {
  const std::vector<UplinkCandidate> both{up("wlan0", 2), up("lte0", 3)};
  // wlan0 recovered 1 s ago; we are on lte0: stay until 2 s have passed.
  std::map<std::uint32_t, Time> since{{2, t0 - 1s}, {3, t0 - 60s}};
  const auto c = choose_uplink({}, both, 3, {}, since, t0);
  EXPECT_EQ(c.active, 3u);
  EXPECT_EQ(c.revisit, t0 + 1s);
  EXPECT_NE(c.verdicts[0].reason.find("hold-down"), std::string::npos);
  EXPECT_EQ(choose_uplink({}, both, 3, {}, since, t0 + 1s).active, 2u);
  // The current uplink failing moves at once, whatever the hold-down says.
  std::map<std::uint32_t, Time> fresh{{3, t0}};
  EXPECT_EQ(choose_uplink({}, {down("wlan0", 2), up("lte0", 3)}, 2, {}, fresh, t0).active, 3u);
  EXPECT_EQ(choose_uplink({}, {up("wlan0", 2, 800ms), up("lte0", 3)}, 2, {}, fresh, t0).active, 3u);
}

TEST(UplinkSelector, TracksHealthySinceAcrossUpdates) {
  session::UplinkSelector sel{UplinkPolicyConfig{}};
  EXPECT_EQ(sel.update({down("wlan0", 2), up("lte0", 3)}, {}, {}, t0).active, 3u);
  // Healthy at the first look counts as long healthy: no hold-down at start.
  session::UplinkSelector fresh{UplinkPolicyConfig{}};
  EXPECT_EQ(fresh.update({up("wlan0", 2), up("lte0", 3)}, {}, "lte0", t0).active, 3u);
  EXPECT_EQ(fresh.update({up("wlan0", 2), up("lte0", 3)}, 3, {}, t0 + 100ms).active, 2u);
  // wlan0 comes back at t0+1s: still lte0 for the hold-down, then wlan0.
  EXPECT_EQ(sel.update({up("wlan0", 2), up("lte0", 3)}, 3, {}, t0 + 1s).active, 3u);
  EXPECT_EQ(sel.update({up("wlan0", 2), up("lte0", 3)}, 3, {}, t0 + 2500ms).active, 3u);
  EXPECT_EQ(sel.update({up("wlan0", 2), up("lte0", 3)}, 3, {}, t0 + 3s).active, 2u);
  // A flap restarts the hold-down.
  EXPECT_EQ(sel.update({down("wlan0", 2), up("lte0", 3)}, 2, {}, t0 + 4s).active, 3u);
  EXPECT_EQ(sel.update({up("wlan0", 2), up("lte0", 3)}, 3, {}, t0 + 4500ms).active, 3u);
  EXPECT_EQ(sel.update({up("wlan0", 2), up("lte0", 3)}, 3, {}, t0 + 6500ms).active, 2u);
}

}  // namespace
}  // namespace tund
