// One flow spread over two bonded paths (issue 30 item 3), both ways, in the
// two-peer simulation with pacing on: when the flow's path has no room its
// packets spill onto the alike partner, which is 8 ms longer here, so they
// arrive out of order; the receiver's reorder buffer hands them to the TUN in
// order. Unlike paths never spread a flow.
#include <gtest/gtest.h>

#include <vector>

#include "support/sim.hpp"

namespace tund {
namespace {

using namespace std::chrono_literals;
using session::SealResult;
using test::Sim;

constexpr std::uint16_t kPort = 5000;
constexpr std::size_t kBulk = 1200;  // bytes of a bulk flow's packet
using test::flow_down;
using test::flow_up;

// Both peers pacing, a second uplink `extra` longer than the first, probed
// for a few seconds (validated at the hub), both bonded.
Sim bonded_sim(std::uint64_t seed, Duration extra) {
  Sim s(seed, {}, limits::kUnderLoadInitiationsPerSecond, 256u << 20,
        [](session::ClientConfig& cc, session::HubConfig& hc) {
          cc.pacing = true;
          hc.pacing = true;
        });
  s.add_uplink(2, Endpoint::v4(0x0a020002, 40002));
  s.path_delay[2] = extra;
  s.cs().start(s.now);
  s.run_for(3s, 1ms);
  s.cs().set_bond({{1, false}, {2, false}}, s.now);
  return s;
}

// The sequence numbers (make_inner's) of one flow's packets a side delivered, in order.
std::vector<std::uint32_t> flow_seqs(const std::vector<std::vector<std::uint8_t>>& delivered, std::uint16_t port,
                                     std::size_t port_at) {
  std::vector<std::uint32_t> seqs;
  for (const auto& p : delivered)
    if (p.size() >= 32 && load_be16(p.data() + port_at) == port) seqs.push_back(load_be32(p.data() + 28));
  return seqs;
}

// One bulk flow up, 400 packets every half millisecond: faster than a new
// path's pacer lets through, so the flow's path fills.
void upload(Sim& s) {
  for (std::uint32_t k = 0; k < 400; ++k) {
    s.client_send(flow_up(kPort, k, kBulk));
    s.now += 500us;
    s.pump();
  }
  s.run_for(2s, 1ms);
}

bool increasing(const std::vector<std::uint32_t>& v) {
  for (std::size_t i = 1; i < v.size(); ++i)
    if (v[i] <= v[i - 1]) {
      std::string ctx;
      for (std::size_t j = i > 5 ? i - 5 : 0; j < std::min(v.size(), i + 5); ++j) ctx += std::to_string(v[j]) + " ";
      ADD_FAILURE() << "out of order at " << i << ": " << ctx;
      return false;
    }
  return true;
}

TEST(Spreading, AnUploadSpilledOntoTheAlikePathArrivesInOrder) {
  Sim s = bonded_sim(501, 8ms);
  upload(s);
  const auto seqs = flow_seqs(s.delivered_to_hub, kPort, 20);
  EXPECT_GT(s.cs().bond().counters().spilled, 20u) << "the flow went over both paths";
  EXPECT_GT(s.hub->session(0)->stream().reorder().counters().held, 0u) << "and arrived out of order";
  EXPECT_GT(seqs.size(), 300u) << "what CoDel let through";
  EXPECT_TRUE(increasing(seqs)) << "delivered in order";
}

TEST(Spreading, ADownloadSpilledOntoTheOtherEndpointArrivesInOrder) {
  Sim s = bonded_sim(502, 8ms);
  // The hub learns the client bonds (data from both uplinks) and where each
  // flow came from.
  for (std::uint16_t port = 6000; port < 6016; ++port)
    for (std::uint32_t k = 0; k < 3; ++k) {
      s.client_send(flow_up(port, k, 200));
      s.now += 1ms;
      s.pump();
    }
  s.client_send(flow_up(kPort, 0, 200));
  s.run_for(50ms, 1ms);
  ASSERT_TRUE(s.hub->session(0)->bonding());
  for (std::uint32_t k = 0; k < 400; ++k) {
    s.hub_send(flow_down(kPort, k, kBulk));
    s.now += 500us;
    s.pump();
  }
  s.run_for(2s, 1ms);
  const auto seqs = flow_seqs(s.delivered_to_client, kPort, 22);
  EXPECT_GT(s.delivered_per_path[1], 50u);
  EXPECT_GT(s.delivered_per_path[2], 50u) << "the download went to both endpoints";
  EXPECT_GT(s.cs().stream().reorder().counters().held, 0u) << "and arrived out of order";
  EXPECT_GT(seqs.size(), 300u);
  EXPECT_TRUE(increasing(seqs)) << "delivered in order";
}

TEST(Spreading, PathsTooFarApartNeverSpreadAFlow) {
  Sim s = bonded_sim(503, 80ms);  // beyond kBondAlikeRttDifference
  upload(s);
  EXPECT_EQ(s.cs().bond().counters().spilled, 0u);
  EXPECT_EQ(s.hub->session(0)->stream().reorder().counters().held, 0u) << "nothing waits at the hub";
  EXPECT_TRUE(increasing(flow_seqs(s.delivered_to_hub, kPort, 20)));
}

}  // namespace
}  // namespace tund
