// Redundancy by policy in the simulation: packets the policy names go on the
// active path and, as copies, on the best standby, both directions; each is
// delivered once; a lossy active path then costs them nothing while other
// traffic sees the loss as before; copies never move the hub's return path.
#include <gtest/gtest.h>

#include <cstdio>
#include <map>

#include "support/sim.hpp"

namespace tund {
namespace {

using namespace std::chrono_literals;
using test::kClientVip;
using test::kServer;
using test::make_inner;
using test::Sim;
using test::two_path_sim;

session::RedundancyPolicy udp_port(std::uint16_t port) {
  session::RedundancySelector s;
  s.kind = session::RedundancySelector::Kind::kUdp;
  s.port_low = s.port_high = port;
  return {s};
}

// A UDP packet to or from `port` (its destination port), numbered `seq`.
std::vector<std::uint8_t> flow(std::uint32_t src, std::uint32_t dst, std::uint16_t port, std::uint32_t seq) {
  auto p = make_inner(src, dst, seq, 600);
  store_be16(p.data() + 20, 40000);
  store_be16(p.data() + 22, port);
  return p;
}

struct Counts {
  std::map<std::uint16_t, std::map<std::uint32_t, int>> seen;  // port -> seq -> deliveries
  std::size_t delivered(std::uint16_t port) const { return seen.count(port) ? seen.at(port).size() : 0; }
  int most(std::uint16_t port) const {
    int m = 0;
    if (seen.count(port))
      for (const auto& [seq, n] : seen.at(port)) m = std::max(m, n);
    return m;
  }
};
Counts count(const std::vector<std::vector<std::uint8_t>>& got) {
  Counts c;
  for (const auto& p : got) ++c.seen[load_be16(p.data() + 22)][load_be32(p.data() + 28)];
  return c;
}

TEST(Redundancy, ANamedFlowCrossesALossyActivePathWhileOthersSeeTheLoss) {
  Sim s = two_path_sim(91);
  s.client->set_redundancy(udp_port(5004));
  s.hub->set_redundancy(udp_port(5004));
  s.path_loss[1] = 0.10;  // the active uplink loses 10% each way
  constexpr std::uint32_t kPackets = 3000;
  for (std::uint32_t i = 0; i < kPackets; ++i) {
    s.now += 1ms;
    s.client_send(flow(kClientVip, kServer, 5004, i));
    s.client_send(flow(kClientVip, kServer, 7000, i));
    s.hub_send(flow(kServer, kClientVip, 5004, i));
    s.hub_send(flow(kServer, kClientVip, 7000, i));
    s.pump();
  }
  s.run_for(200ms, 1ms);
  const auto up = count(s.delivered_to_hub), down = count(s.delivered_to_client);
  std::printf("   10%% loss on the active path: redundant up %zu, down %zu; others up %zu, down %zu of %u\n",
              up.delivered(5004), down.delivered(5004), up.delivered(7000), down.delivered(7000), kPackets);
  EXPECT_GE(up.delivered(5004), kPackets * 999 / 1000) << "at most 0.1% lost";
  EXPECT_GE(down.delivered(5004), kPackets * 999 / 1000);
  for (const auto* c : {&up, &down}) {
    EXPECT_GT(c->delivered(7000), kPackets * 85 / 100) << "other traffic: the path's own loss";
    EXPECT_LT(c->delivered(7000), kPackets * 95 / 100) << "and no copies for it";
    EXPECT_EQ(c->most(5004), 1) << "each delivered once";
    EXPECT_EQ(c->most(7000), 1);
  }
  const auto& h = s.cs().handover_stats();
  EXPECT_EQ(h.redundant_copies, kPackets) << "one copy per named packet, none for others";
  EXPECT_GT(h.redundant_bytes, kPackets * 600u);
  EXPECT_GT(s.hub->session(0)->redundant_bytes(), kPackets * 600u * 9 / 10);
  EXPECT_EQ(s.hub->session(0)->endpoint(), s.path_addr(1)) << "copies never move the return path";
  EXPECT_EQ(s.cs().active_path(), 1u);
  EXPECT_FALSE(s.nonce_reused);
}

TEST(Redundancy, NoStandbyNoCopy) {
  Sim s(92);
  ASSERT_TRUE(s.connect());
  s.client->set_redundancy(udp_port(5004));
  s.hub->set_redundancy(udp_port(5004));
  s.run_for(3s, 1ms);
  for (std::uint32_t i = 0; i < 50; ++i) {
    s.now += 1ms;
    EXPECT_FALSE(s.client_send(flow(kClientVip, kServer, 5004, i)).copy);
    EXPECT_FALSE(s.hub_send(flow(kServer, kClientVip, 5004, i)).copy);
    s.pump();
  }
  s.run_for(10ms, 1ms);
  EXPECT_EQ(count(s.delivered_to_hub).delivered(5004), 50u);
  EXPECT_EQ(s.cs().handover_stats().redundant_copies, 0u);
  EXPECT_EQ(s.hub->session(0)->redundant_bytes(), 0u);
}

}  // namespace
}  // namespace tund
