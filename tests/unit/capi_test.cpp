// The C API (include/tund/tund.h) through libtund.so.0's exported functions
// only, against the sans-I/O hub in memory: a config in a string, uplinks,
// the handshake, events, packets both ways, a handover when an uplink goes
// down, hostile datagrams, and errors as codes.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "support/capi_world.hpp"

namespace {

using namespace tund;

using test::CapiWorld;

TEST(Capi, ConnectsCarriesAndHandsOver) {
  CapiWorld w;
  ASSERT_NE(w.c, nullptr) << w.error;
  ASSERT_EQ(tund_uplink_add(w.c, 1, "wlan0", TUND_UPLINK_UP | TUND_UPLINK_IPV4, 1500, w.now_us), TUND_OK);
  ASSERT_EQ(tund_uplink_add(w.c, 2, "lte0", TUND_UPLINK_UP | TUND_UPLINK_IPV4 | TUND_UPLINK_METERED, 1500, w.now_us), TUND_OK);
  w.run_for(200000);
  ASSERT_TRUE(w.saw(TUND_EVENT_CONNECTED));
  ASSERT_TRUE(w.saw(TUND_EVENT_VIP));
  for (const auto& e : w.events)
    if (e.kind == TUND_EVENT_VIP) {
      EXPECT_EQ(e.vip4.family, 4);
      EXPECT_EQ(load_be32(e.vip4.addr), test::kClientVip);
      EXPECT_EQ(e.vip4.len, 24);
    }
  EXPECT_EQ(w.status()["active_uplink"], "wlan0");  // unmetered first
  tund_prefix r{};
  ASSERT_EQ(tund_route_get(w.c, 0, 0, &r), TUND_OK);
  EXPECT_EQ(r.family, 4);
  EXPECT_EQ(load_be32(r.addr), 0x0a040000u);
  EXPECT_EQ(r.len, 24);
  EXPECT_EQ(tund_route_get(w.c, 3, 0, &r), TUND_ERR_NOTFOUND);

  const auto up = test::make_inner(test::kClientVip, test::kServer, 1);
  ASSERT_EQ(tund_inner_packet(w.c, up.data(), up.size(), w.now_us), TUND_OK);
  w.run_for(10000);
  ASSERT_EQ(w.to_hub.size(), 1u);
  EXPECT_EQ(w.to_hub[0], up);
  w.hub_send(2);
  w.run_for(10000);
  ASSERT_EQ(w.to_client.size(), 1u);
  EXPECT_EQ(w.to_client[0], test::make_inner(test::kServer, test::kClientVip, 2));
  const auto nowhere = test::make_inner(test::kClientVip, 0x08080808, 3);
  EXPECT_EQ(tund_inner_packet(w.c, nowhere.data(), nowhere.size(), w.now_us), TUND_ERR_NOROUTE);

  // wlan0's link goes down: the engine moves to lte0 at once, and data follows.
  w.events.clear();
  w.down.insert(1);
  ASSERT_EQ(tund_uplink_set_up(w.c, 1, 0, w.now_us), TUND_OK);
  w.run_for(100000);
  ASSERT_TRUE(w.saw(TUND_EVENT_PATH_CHANGED));
  EXPECT_EQ(w.status()["active_uplink"], "lte0");
  EXPECT_EQ(w.status()["handovers"], 1);
  ASSERT_EQ(tund_inner_packet(w.c, up.data(), up.size(), w.now_us), TUND_OK);
  w.run_for(10000);
  EXPECT_EQ(w.to_hub.size(), 2u);
  EXPECT_EQ(tund_uplink_remove(w.c, 1, w.now_us), TUND_OK);
  EXPECT_EQ(tund_uplink_remove(w.c, 1, w.now_us), TUND_ERR_NOTFOUND);
}

TEST(Capi, HostileDatagramsAreCountedNotFatal) {
  CapiWorld w;
  ASSERT_NE(w.c, nullptr) << w.error;
  ASSERT_EQ(tund_uplink_add(w.c, 1, "wlan0", TUND_UPLINK_UP | TUND_UPLINK_IPV4, 1500, w.now_us), TUND_OK);
  w.run_for(100000);
  test::SeededRng junk(5);
  for (int i = 0; i < 2000; ++i) {
    std::vector<std::uint8_t> d(junk.next_u32() % 200);
    junk.fill(d);
    if (!d.empty()) d[0] = static_cast<std::uint8_t>(i % 8);  // every message type, and none
    EXPECT_EQ(w.deliver(1, d.data(), d.size()), TUND_OK);
  }
  w.run_for(10000);
  EXPECT_TRUE(w.status()["drops"].size() > 0);
  const auto up = test::make_inner(test::kClientVip, test::kServer, 9);
  ASSERT_EQ(tund_inner_packet(w.c, up.data(), up.size(), w.now_us), TUND_OK);
  w.run_for(10000);
  EXPECT_EQ(w.to_hub.size(), 1u);  // the session still carries traffic
}

TEST(Capi, ErrorsAreCodes) {
  char err[128];
  const std::string bad = "private_key = \"x\"\n[[hub]]\nname = 3\n";
  EXPECT_EQ(tund_client_new(bad.data(), bad.size(), 0, err, sizeof err), nullptr);
  EXPECT_EQ(std::string(err).rfind("config:", 0), 0u) << err;
  EXPECT_EQ(tund_client_new(nullptr, 0, 0, err, sizeof err), nullptr);
  EXPECT_EQ(tund_client_new(bad.data(), bad.size(), 0, nullptr, 0), nullptr);  // no room for a reason: still fine
  tund_client_free(nullptr);
  EXPECT_EQ(tund_uplink_add(nullptr, 1, "x", 0, 0, 0), TUND_ERR_INVALID);
  EXPECT_EQ(tund_poll_transmit(nullptr, nullptr, 0, nullptr, nullptr), TUND_ERR_INVALID);
  EXPECT_EQ(tund_next_deadline_us(nullptr), UINT64_MAX);
  EXPECT_EQ(tund_status_json(nullptr, 0), nullptr);
  CapiWorld w;
  ASSERT_NE(w.c, nullptr) << w.error;
  EXPECT_EQ(tund_uplink_add(w.c, 0, "zero", 0, 0, w.now_us), TUND_ERR_INVALID);
  EXPECT_EQ(tund_uplink_add(w.c, 1u << 30, "big", 0, 0, w.now_us), TUND_ERR_INVALID);
  EXPECT_EQ(tund_uplink_set_metered(w.c, 7, 1, w.now_us), TUND_ERR_NOTFOUND);
  std::uint8_t small[8];
  std::uint32_t uplink;
  tund_addr to;
  ASSERT_EQ(tund_uplink_add(w.c, 1, "wlan0", TUND_UPLINK_UP | TUND_UPLINK_IPV4, 1500, w.now_us), TUND_OK);
  EXPECT_EQ(tund_poll_transmit(w.c, small, sizeof small, &uplink, &to), TUND_ERR_NOSPACE);  // the initiation waits
  std::uint8_t big[2048];
  EXPECT_GT(tund_poll_transmit(w.c, big, sizeof big, &uplink, &to), 0);
  EXPECT_EQ(uplink, 1u);
  EXPECT_EQ(to.port, 51900);
  for (std::uint32_t id = 2; id <= 32; ++id)
    EXPECT_EQ(tund_uplink_add(w.c, id, "u", TUND_UPLINK_UP, 0, w.now_us), TUND_OK);
  EXPECT_EQ(tund_uplink_add(w.c, 33, "u", TUND_UPLINK_UP, 0, w.now_us), TUND_ERR_FULL);
  tund_addr from{};
  from.family = 5;
  const std::uint8_t d[4] = {1, 0, 0, 0};
  EXPECT_EQ(tund_outer_datagram(w.c, 1, &from, d, sizeof d, w.now_us), TUND_ERR_INVALID);
}

}  // namespace
