// Idle cost in the simulation: after IdlePolicy::after without inner packets
// the client keeps its active path only as often as NAT bindings need,
// probes an unmetered standby rarely and a metered one never, and the hub
// originates nothing; the first packet after idle restores fast probing, and
// a path that died silently while idle is left within 300 ms of it.
#include <gtest/gtest.h>

#include "support/sim.hpp"

namespace tund {
namespace {

using namespace std::chrono_literals;
using test::kClientVip;
using test::kServer;
using test::make_inner;
using test::Sim;

// Active wlan (1), unmetered standby (2), metered LTE (3); a little traffic,
// then silence until the session is idle.
Sim idle_sim(std::uint64_t seed) {
  Sim s(seed);
  s.add_uplink(2, Endpoint::v4(0x0a020002, 40002));
  s.add_uplink(3, Endpoint::v4(0x0a030002, 40003));
  s.cs().set_path_metered(3, true);
  EXPECT_TRUE(s.connect());
  for (std::uint32_t i = 0; i < 20; ++i) {
    s.client_send(make_inner(kClientVip, kServer, i));
    s.hub_send(make_inner(kServer, kClientVip, i));
    s.run_for(10ms);
  }
  EXPECT_FALSE(s.cs().idle(s.now));
  s.run_for(limits::kIdleAfter + 1s, 10ms);  // fine steps: RTT samples stay true
  EXPECT_TRUE(s.cs().idle(s.now));
  return s;
}

TEST(Idle, AnIdleSessionSendsOnlyWhatNatBindingsNeed) {
  Sim s = idle_sim(61);
  const auto before = s.sent_per_path;
  const std::size_t hub_before = s.sent_to_client;
  // Ten idle minutes; the largest gap between sends on the active path too.
  Duration longest{0};
  Time last = s.now;
  std::size_t seen = s.sent_per_path[1];
  for (int i = 0; i < 60000; ++i) {
    s.run_for(10ms, 10ms);
    if (s.sent_per_path[1] != seen) {
      longest = std::max(longest, s.now - last);
      last = s.now;
      seen = s.sent_per_path[1];
    }
  }
  const std::size_t active = s.sent_per_path[1] - before.at(1);
  const std::size_t standby = s.sent_per_path[2] - before.at(2);
  const std::size_t metered = s.sent_per_path[3] - (before.count(3) ? before.at(3) : 0);
  // A keepalive probe every 25 s (a rekey every 120 s takes one's place).
  EXPECT_LE(active, 600 / 25 + 1u);
  EXPECT_GE(active, 600 / 25 - 1u);
  EXPECT_LE(longest, limits::kIdleKeepalive + 20ms) << "the NAT binding is refreshed in time";
  EXPECT_LE(standby, 600 / 120 + 1u);
  EXPECT_EQ(metered, 0u);
  // The hub only answers: probe replies and handshake responses.
  EXPECT_LE(s.sent_to_client - hub_before, active + standby);
  EXPECT_TRUE(s.cs().established());
  EXPECT_EQ(s.cs().handover_stats().switches, 0u);
}

TEST(Idle, TheFirstPacketAfterIdleProbesTheActivePathAtOnce) {
  Sim s = idle_sim(62);
  const std::size_t before = s.sent_per_path[1];
  s.client_send(make_inner(kClientVip, kServer, 100));
  s.pump();
  EXPECT_FALSE(s.cs().idle(s.now));
  EXPECT_EQ(s.cs().idle_periods(), 1u);
  EXPECT_GE(s.sent_per_path[1] - before, 2u) << "the packet and a probe";
  // Then probing at the normal pace again: about one a second on the active path.
  const std::size_t after = s.sent_per_path[1];
  s.run_for(5s, 10ms);
  EXPECT_GE(s.sent_per_path[1] - after, 4u);
}

TEST(Idle, ASilentDeathDuringIdleIsLeftWithin300msOfTheFirstPacket) {
  Sim s = idle_sim(63);
  s.dead.insert(1);  // Wi-Fi walks out of range while the phone sleeps
  s.run_for(3s, 10ms);
  // A ping every 20 ms from now on; the daemon's policy moves to a standby
  // when the session declares the active path dead.
  const Time first = s.now;
  const std::size_t got_before = s.delivered_to_hub.size();
  std::optional<Time> through;
  for (std::uint32_t i = 0; i < 50 && !through; ++i) {
    s.client_send(make_inner(kClientVip, kServer, 200 + i));
    for (int k = 0; k < 20; ++k) {
      s.run_for(1ms, 1ms);
      const auto* st = s.cs().path_stats(s.cs().active_path());
      if (st && st->dead) s.cs().set_active_path(2, s.now);
      if (s.delivered_to_hub.size() > got_before && !through) through = s.now;
    }
  }
  ASSERT_TRUE(through) << "nothing got through within a second";
  EXPECT_LE(*through - first, 300ms);
  EXPECT_EQ(s.cs().active_path(), 2u);
}

TEST(Idle, AMeteredStandbyIsProbedWhenTheActivePathDiesWhileIdle) {
  Sim s = idle_sim(64);
  s.cs().remove_path(2);  // only the metered LTE is left as a standby
  const std::size_t metered_before = s.sent_per_path[3];
  s.dead.insert(1);
  s.run_for(limits::kIdleKeepalive + 2s, 10ms);  // the next keepalive goes unanswered
  EXPECT_TRUE(s.cs().path_stats(1)->dead);
  EXPECT_GT(s.sent_per_path[3], metered_before) << "in doubt, the metered standby is measured";
}

}  // namespace
}  // namespace tund
