// One flow spread over two bonded paths (issue 30 item 3), both ways, in the
// two-peer simulation with pacing on: when the flow's path has no room its
// packets spill onto the alike partner, which is 8 ms longer here, so they
// arrive out of order; the receiver's reorder buffer hands them to the TUN in
// order. Unlike paths never spread a flow; there the hub moves whole flows of
// a download onto the other bonded endpoint when theirs is full (HubMoves).
// A call travels on both paths at once, as a copy on the second (Copies).
#include <gtest/gtest.h>

#include <algorithm>
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

// The hub learns the client bonds (data from both uplinks) and where each
// flow came from, kPort's included.
void open_flows_at_hub(Sim& s) {
  for (std::uint16_t port = 6000; port < 6016; ++port)
    for (std::uint32_t k = 0; k < 3; ++k) {
      s.client_send(flow_up(port, k, 200));
      s.now += 1ms;
      s.pump();
    }
  s.client_send(flow_up(kPort, 0, 200));
  s.run_for(50ms, 1ms);
}

// `packets` of one bulk flow down, one every half millisecond (19.2 Mbit/s).
void download(Sim& s, std::uint32_t packets, std::uint16_t port = kPort) {
  for (std::uint32_t k = 0; k < packets; ++k) {
    s.hub_send(flow_down(port, k, kBulk));
    s.now += 500us;
    s.pump();
  }
  s.run_for(2s, 1ms);
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
  open_flows_at_hub(s);
  ASSERT_TRUE(s.hub->session(0)->bonding());
  download(s, 400);
  const auto seqs = flow_seqs(s.delivered_to_client, kPort, 22);
  EXPECT_GT(s.delivered_per_path[1], 50u);
  EXPECT_GT(s.delivered_per_path[2], 50u) << "the download went to both endpoints";
  EXPECT_GT(s.cs().stream().reorder().counters().held, 0u) << "and arrived out of order";
  EXPECT_GT(seqs.size(), 300u);
  EXPECT_TRUE(increasing(seqs)) << "delivered in order";
}

TEST(Spreading, AStreamTheClientOpenedWithOneDatagramIsSpreadToo) {
  // A UDP download (iperf3 -u -R, a video stream): the client sent one
  // datagram to open it, then nothing for seconds. The server's stream keeps
  // the flow live; taken as idle, it was not spread (bench/bond, alike pair:
  // 19 Mbit/s on one link, 47% lost, the other idle).
  Sim s = bonded_sim(504, 8ms);
  s.path_rate_bps[1] = 12e6;  // the stream (19.2 Mbit/s) is more than one carries
  s.path_rate_bps[2] = 12e6;
  open_flows_at_hub(s);
  ASSERT_TRUE(s.hub->session(0)->bonding());
  // 19.2 Mbit/s for 2.5 s; the client's datagram is over a second old from 1.2 s on.
  std::size_t second_before = 0;
  for (std::uint32_t k = 0; k < 5000; ++k) {
    if (k == 2400) second_before = s.delivered_per_path[2];
    s.hub_send(flow_down(kPort, k, kBulk));
    s.now += 500us;
    s.pump();
  }
  s.run_for(2s, 1ms);
  EXPECT_GT(s.delivered_per_path[2] - second_before, 200u) << "the stream went to both endpoints after its first second";
  // More than the two links carry: their queues grow past the reorder wait,
  // and a packet later than that is delivered late, not held for ever.
  const auto seqs = flow_seqs(s.delivered_to_client, kPort, 22);
  std::size_t late = 0;
  std::uint32_t highest = 0;
  for (const std::uint32_t seq : seqs) {
    if (seq < highest) ++late;
    highest = std::max(highest, seq);
  }
  EXPECT_LT(late * 100, seqs.size()) << "under 1% delivered after a later one";
}

TEST(Spreading, ADownloadTheClientNeverSpokeInSinceBondingIsSpreadToo) {
  // Its opening came before the hub knew the client bonds: the hub takes
  // the flow as on the endpoint it sends it to, and spreads it from there.
  Sim s = bonded_sim(506, 8ms);
  open_flows_at_hub(s);
  ASSERT_TRUE(s.hub->session(0)->bonding());
  constexpr std::uint16_t kUnseen = 7000;  // no packet of it came from the client
  download(s, 400, kUnseen);
  EXPECT_GT(s.delivered_per_path[2], 50u) << "the download went to both endpoints";
  const auto seqs = flow_seqs(s.delivered_to_client, kUnseen, 22);
  EXPECT_GT(seqs.size(), 300u);
  EXPECT_TRUE(increasing(seqs)) << "delivered in order";
}

TEST(Spreading, ALossOnEitherPathIsNotWaitedFor) {
  // Each path delivers in the order it was given: once both delivered a
  // later sequence, a missing one is lost, and what waits behind it goes
  // without the wait (reorder_buffer.hpp's path rule).
  Sim s = bonded_sim(505, 8ms);
  s.path_rate_bps[1] = 12e6;  // the download (19.2 Mbit/s) keeps both busy
  s.path_rate_bps[2] = 12e6;
  s.path_loss[1] = 0.01;
  s.path_loss[2] = 0.01;
  open_flows_at_hub(s);
  ASSERT_TRUE(s.hub->session(0)->bonding());
  download(s, 2000);
  const auto& c = s.cs().stream().reorder().counters();
  EXPECT_GT(s.delivered_per_path[2], 100u) << "the download went to both endpoints";
  EXPECT_GT(c.gaps_passed, 10u) << "losses given up at once";
  EXPECT_LT(c.gaps_given_up, c.gaps_passed) << "not after the wait";
  EXPECT_TRUE(increasing(flow_seqs(s.delivered_to_client, kPort, 22))) << "delivered in order";
}

TEST(Spreading, PathsTooFarApartNeverSpreadAFlow) {
  Sim s = bonded_sim(503, 80ms);  // beyond kBondAlikeRttDifference
  upload(s);
  EXPECT_EQ(s.cs().bond().counters().spilled, 0u);
  EXPECT_EQ(s.hub->session(0)->stream().reorder().counters().held, 0u) << "nothing waits at the hub";
  EXPECT_TRUE(increasing(flow_seqs(s.delivered_to_hub, kPort, 20)));
}

// --- unlike endpoints: the hub moves whole flows (hub_paths.cpp, move()) ----

constexpr std::uint16_t kFirstFlow = 7100;
constexpr int kFlows = 8;

// The client opens kFlows flows; returns how many it pinned to path 1.
int open_download(Sim& s) {
  int on_first = 0;
  for (int f = 0; f < kFlows; ++f) {
    const SealResult r = s.client_send(flow_up(static_cast<std::uint16_t>(kFirstFlow + f), 0, 100));
    on_first += r.kind == SealResult::Kind::kSend && r.path == 1;
    s.now += 1ms;
    s.pump();
  }
  return on_first;
}

// `span` of a download: each flow a 1200-byte packet every 4 ms (2.4 Mbit/s,
// 19 in all) and a small packet up every 20 ms (its acknowledgements).
void download(Sim& s, Duration span, std::uint32_t& k) {
  for (const Time end = s.now + span; s.now < end; s.now += 1ms, ++k) {
    for (int f = 0; f < kFlows; ++f)
      if ((k + f) % 4 == 0) s.hub_send(flow_down(static_cast<std::uint16_t>(kFirstFlow + f), k, kBulk));
    if (k % 20 == 0)
      for (int f = 0; f < kFlows; ++f) s.client_send(flow_up(static_cast<std::uint16_t>(kFirstFlow + f), k, 60));
    s.pump();
  }
}

// Data the hub sealed toward one of the client's addresses.
std::uint64_t sent_toward(Sim& s, const Endpoint& to) {
  const auto* h = s.hub->session(0);
  for (std::size_t i = 0; i < h->paced_endpoints().size(); ++i)
    if (h->paced_endpoints()[i] == to) return h->endpoint_bytes()[i];
  return 0;
}

TEST(HubMoves, ADownloadsFlowsOnAFullEndpointMoveToTheBondedOtherAndComeBackWhenItLeaves) {
  Sim s = bonded_sim(601, 80ms);  // 80 ms apart: unlike, nothing is spread
  s.path_rate_bps[1] = 8e6;
  s.path_rate_bps[2] = 8e6;
  s.run_for(2500ms, 1ms);  // a bonded probe from path 2 reached the hub
  ASSERT_EQ(open_download(s), kFlows) << "the client put every flow on the shorter round trip";
  std::uint32_t k = 0;
  download(s, 3s, k);
  const auto* h = s.hub->session(0);
  EXPECT_GE(h->bond_moves(), 1u) << "flows left the full endpoint";
  EXPECT_LE(h->bond_moves(), static_cast<std::uint64_t>(kFlows)) << "one at a time, each held";
  const std::uint64_t second = sent_toward(s, s.path_addr(2));
  EXPECT_GT(second, 100u * kBulk) << "the second endpoint carried some of the download";
  EXPECT_EQ(s.hub->session(0)->stream().reorder().counters().held, 0u);
  // Path 2 leaves the client's bond (by policy here; dead or gray alike):
  // its acknowledgements say so, and the hub takes its flows back.
  s.cs().set_bond({{1, false}}, s.now);
  download(s, 300ms, k);
  const std::uint64_t then = sent_toward(s, s.path_addr(2));
  download(s, 500ms, k);
  EXPECT_EQ(sent_toward(s, s.path_addr(2)), then) << "nothing more went to the uplink that left";
}

TEST(HubMoves, AStandbyOutsideTheBondNeverGetsTheHubsChoice) {
  // Path 2 is a backup the client probes but does not bond (a metered
  // uplink); path 3 is bonded. Whatever the hub moves goes to path 3.
  Sim s = bonded_sim(602, 80ms);
  s.add_uplink(3, Endpoint::v4(0x0a030002, 40003));
  s.path_delay[3] = 80ms;
  s.run_for(3s, 1ms);
  s.cs().set_bond({{1, false}, {3, false}}, s.now);
  for (const session::PathId p : {1u, 2u, 3u}) s.path_rate_bps[p] = 8e6;
  s.run_for(2500ms, 1ms);
  ASSERT_EQ(open_download(s), kFlows);
  std::uint32_t k = 0;
  download(s, 3s, k);
  EXPECT_GE(s.hub->session(0)->bond_moves(), 1u);
  EXPECT_GT(sent_toward(s, s.path_addr(3)), 100u * kBulk);
  EXPECT_EQ(sent_toward(s, s.path_addr(2)), 0u) << "no data to an uplink outside the bond";
}

TEST(HubMoves, OneFlowAloneStaysOnItsFullEndpoint) {
  Sim s = bonded_sim(603, 80ms);
  s.path_rate_bps[1] = 8e6;
  s.path_rate_bps[2] = 8e6;
  s.run_for(2500ms, 1ms);
  const SealResult r = s.client_send(flow_up(kPort, 0, 100));
  ASSERT_EQ(r.path, 1u);
  for (std::uint32_t k = 0; k < 3000; ++k) {
    s.hub_send(flow_down(kPort, k, kBulk));  // 9.6 Mbit/s: more than its endpoint carries
    if (k % 20 == 0) s.client_send(flow_up(kPort, k, 60));
    s.now += 1ms;
    s.pump();
  }
  EXPECT_EQ(s.hub->session(0)->bond_moves(), 0u) << "it fills its path alone: a move gains it nothing";
}

TEST(HubMoves, OneDownloadBesideACallStaysOnItsFullEndpoint) {
  // A call (200-byte frames every 20 ms each way) beside the one download:
  // it contends for nothing, so the download still has its endpoint to
  // itself. Counted as a second flow there, it halved the download's share
  // and sent it to the other endpoint (bench/bond, unlike pair: onto the
  // 8 Mbit/s link, 7-13 Mbit/s where the fast one alone gave 18).
  Sim s = bonded_sim(604, 80ms);
  s.path_rate_bps[1] = 8e6;
  s.path_rate_bps[2] = 8e6;
  s.run_for(2500ms, 1ms);
  constexpr std::uint16_t kCall = kPort + 1;
  ASSERT_EQ(s.client_send(flow_up(kPort, 0, 100)).path, 1u);
  ASSERT_EQ(s.client_send(flow_up(kCall, 0, 200)).path, 1u);
  // The download fills its endpoint for 1.5 s (its pacer learns the 8
  // Mbit/s), then comes in bursts (a TCP's window: 20 packets at once every
  // 50 ms, 3.8 Mbit/s on average), each more than the pacer lets through at
  // once: the endpoint is found full while the flow sends under half of it.
  for (std::uint32_t k = 0; k < 4500; ++k) {
    if (k < 1500) s.hub_send(flow_down(kPort, k, kBulk));
    else if (k % 50 == 0)
      for (std::uint32_t b = 0; b < 20; ++b) s.hub_send(flow_down(kPort, k * 20 + b, kBulk));
    if (k % 20 == 0) {
      s.client_send(flow_up(kPort, k, 60));
      s.client_send(flow_up(kCall, k, 200));
      s.hub_send(flow_down(kCall, k, 200));
    }
    s.now += 1ms;
    s.pump();
  }
  EXPECT_EQ(s.hub->session(0)->bond_moves(), 0u) << "the call shares nothing: a move gains the download nothing";
  // The other endpoint took call frames only (a frame goes where there is
  // room first, HubSession::call_to_room), none of the download's packets.
  const std::uint64_t call_bytes = 4500 / 20 * flow_down(kCall, 0, 200).size();
  EXPECT_LE(sent_toward(s, s.path_addr(2)), call_bytes) << "the download stayed on its endpoint";
  EXPECT_GT(sent_toward(s, s.path_addr(2)), 0u) << "call frames took the other endpoint's room";
}

TEST(Copies, ACallTravelsOnBothBondedPathsEachWayAndArrivesOnce) {
  // A call gains nothing from a second path's capacity and much from its
  // delay: each of its packets also goes, as a copy, on the other bonded
  // path, both ways (BondScheduler::copies), and the receiver delivers the
  // first. With 10% lost on each path, about 1% of the hub's frames are
  // lost on both; without the copies, 10%. (Up, the client's own resends
  // on suspicion blur the count.)
  Sim s = bonded_sim(701, 8ms);
  open_flows_at_hub(s);
  ASSERT_TRUE(s.hub->session(0)->bonding());
  constexpr std::uint16_t kCall = 7200;
  constexpr std::uint32_t kFrames = 250;  // 5 s at 50 a second, 200 bytes each
  const auto call = [&](std::uint32_t from, std::uint32_t to) {
    for (std::uint32_t k = from; k < to; ++k) {
      s.client_send(flow_up(kCall, k, 200));
      s.hub_send(flow_down(kCall, k, 200));
      s.run_for(20ms, 1ms);
    }
    s.run_for(500ms, 1ms);
  };
  call(0, kFrames);
  EXPECT_GT(s.cs().bond().counters().copied, kFrames * 9 / 10) << "the client copied its frames";
  EXPECT_GT(s.hub->session(0)->bond_copies(), kFrames * 9 / 10) << "the hub copied its frames";
  auto up = flow_seqs(s.delivered_to_hub, kCall, 20), down = flow_seqs(s.delivered_to_client, kCall, 22);
  EXPECT_EQ(up.size(), kFrames) << "each delivered once";
  EXPECT_EQ(down.size(), kFrames) << "each delivered once";
  s.path_loss[1] = 0.1;
  s.path_loss[2] = 0.1;
  call(kFrames, 2 * kFrames);
  down = flow_seqs(s.delivered_to_client, kCall, 22);
  EXPECT_GE(down.size() - kFrames, kFrames * 97 / 100) << "lost only where both paths lost it";
  std::sort(down.begin(), down.end());
  EXPECT_EQ(std::adjacent_find(down.begin(), down.end()), down.end()) << "none delivered twice";
}

TEST(Copies, ABulkFlowIsNotCopied) {
  // A download sends far more than kBondCopyFlowRate. Its first packets,
  // before its rate shows (FlowRate::known), are not copied either: copied,
  // they came out of order.
  Sim s = bonded_sim(702, 8ms);
  open_flows_at_hub(s);
  ASSERT_TRUE(s.hub->session(0)->bonding());
  download(s, 400);
  EXPECT_EQ(s.hub->session(0)->bond_copies(), 0u);
}

}  // namespace
}  // namespace tund
