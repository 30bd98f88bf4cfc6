// The client engine (engine/client_engine.hpp) on its own: which paths a
// session gets from the uplink table and the hub's addresses, the policy's
// choice and its events, and the status it reports. (Following a cluster's
// members needs a hub that answers, then falls silent: netns_cluster.)
#include <gtest/gtest.h>

#include "engine/client_engine.hpp"
#include "support/sim.hpp"

namespace {

using namespace tund;

engine::EngineConfig config() {
  engine::EngineConfig ec;
  ec.client.identity = test::keypair_from_seed(1);
  engine::HubSpec hub;
  hub.name = "main";
  hub.public_key = test::keypair_from_seed(2).pub;
  hub.members.push_back("10.3.0.2:51900");
  hub.routes = {session::IpPrefix::v4(0x0a040000, 24)};
  ec.hubs.push_back(hub);
  return ec;
}

engine::Uplink uplink(std::uint32_t id, const std::string& name, bool up = true) {
  engine::Uplink u;
  u.id = id;
  u.name = name;
  u.up = up;
  u.address4 = u.route4 = true;
  u.mtu = 1500;
  return u;
}

std::vector<engine::Event> drain(engine::ClientEngine& e) {
  std::vector<engine::Event> out;
  for (engine::Event ev; e.poll_event(ev);) out.push_back(ev);
  return out;
}

TEST(Engine, PathsFollowUplinksAndHubAddresses) {
  test::SeededRng rng(1);
  engine::ClientEngine e(config(), rng);
  const Time now = Time{} + std::chrono::hours(1);
  e.set_uplinks({uplink(3, "wlan0"), uplink(4, "lte0")}, now);
  EXPECT_TRUE(e.client().session(0).path_ids().empty());  // no hub address yet
  e.apply_policy(now, "start");
  ASSERT_EQ(e.candidates(0).size(), 2u);
  EXPECT_EQ(e.candidates(0)[0].unusable_reason, "the hub has no address yet");

  e.set_member_addresses(0, 0, {Endpoint::v4(0x0a030002, 51900)}, now);
  EXPECT_EQ(e.client().session(0).path_ids().size(), 2u);
  e.apply_policy(now, "start");
  EXPECT_EQ(e.client().session(0).active_path(), engine::path_id(3, 4));  // wlan0: preferred, lte0 metered
  auto ev = drain(e);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].kind, engine::EventKind::kPathChanged);
  EXPECT_EQ(ev[0].from, 0u);
  EXPECT_EQ(e.handovers().count, 0u);  // the first choice is no handover

  // The active uplink's link goes down: a handover, by trigger.
  e.set_uplinks({uplink(3, "wlan0", false), uplink(4, "lte0")}, now);
  e.apply_policy(now, "uplink table changed");
  EXPECT_EQ(e.client().session(0).active_path(), engine::path_id(4, 4));
  EXPECT_EQ(e.handovers().count, 1u);
  EXPECT_EQ(e.handovers().by_trigger.at("uplink_change"), 1u);
  ev = drain(e);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].trigger, "uplink_change");
  EXPECT_EQ(e.describe(ev[0].from), "wlan0 (IPv4)");

  const auto status = e.status(now);
  EXPECT_EQ(status["active_uplink"], "lte0");
  EXPECT_EQ(status["handovers"], 1);
  ASSERT_EQ(status["uplinks"].size(), 2u);
  EXPECT_EQ(status["uplinks"][0]["role"], "unusable");
  EXPECT_EQ(status["uplinks"][1]["metered"], true);
  EXPECT_EQ(status["hubs"][0]["routes"][0], "10.4.0.0/24");

  // An uplink without a socket keeps no path.
  auto no_socket = uplink(3, "wlan0");
  no_socket.socket = false;
  e.set_uplinks({no_socket}, now);
  EXPECT_TRUE(e.client().session(0).path_ids().empty());
}

TEST(Engine, RoutesInnerPacketsToTheirHub) {
  test::SeededRng rng(2);
  engine::ClientEngine e(config(), rng);
  const auto in = test::make_inner(test::kClientVip, test::kServer, 1);
  EXPECT_EQ(e.route(in), std::optional<std::size_t>(0));
  const auto out = test::make_inner(test::kClientVip, 0x08080808, 1);
  EXPECT_FALSE(e.route(out));
  const std::uint8_t junk[3] = {0x45, 0, 0};
  EXPECT_FALSE(e.route(junk));
}

TEST(Engine, EventQueueIsBounded) {
  test::SeededRng rng(4);
  engine::ClientEngine e(config(), rng);
  const Time now = Time{} + std::chrono::hours(1);
  e.set_member_addresses(0, 0, {Endpoint::v4(0x0a030002, 51900)}, now);
  for (std::size_t i = 0; i < limits::kMaxEngineEvents + 10; ++i) {
    e.set_uplinks({uplink(3 + (i % 2), i % 2 ? "lte0" : "wlan0")}, now);
    e.apply_policy(now, "uplink table changed");
  }
  EXPECT_EQ(drain(e).size(), limits::kMaxEngineEvents);
  EXPECT_EQ(e.events_dropped(), 10u);
}

}  // namespace
