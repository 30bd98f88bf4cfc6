// The hub's side of a bond (issue 30), sans I/O: a bonding client's flows
// come from several of its endpoints; each flow's return packets go to the
// endpoint it last came from when that endpoint answered a challenge (so the
// download is spread like the upload), and never to one that did not (anti-
// reflection: at most kUnvalidatedAmplification times its bytes, and no data).
#include <gtest/gtest.h>

#include <map>

#include "support/sim.hpp"

namespace tund {
namespace {

using namespace std::chrono_literals;
using session::SealResult;
using test::flow_down;
using test::flow_up;
using test::Sim;

// Each flow's first packets up; the path the client pinned it to.
std::map<std::uint16_t, session::PathId> open_flows(Sim& s, std::uint16_t first, int n) {
  std::map<std::uint16_t, session::PathId> pinned;
  for (int i = 0; i < n; ++i) {
    const auto port = static_cast<std::uint16_t>(first + i);
    for (std::uint32_t k = 0; k < 3; ++k) {
      const SealResult r = s.client_send(flow_up(port, k));
      if (r.kind == SealResult::Kind::kSend) pinned[port] = r.path;
      s.now += 1ms;
      s.pump();
    }
  }
  s.run_for(20ms, 1ms);
  return pinned;
}

TEST(HubBond, AFlowReturnsToTheValidatedEndpointItCameFrom) {
  Sim s = test::two_path_sim(301);  // path 2 probed: challenged and answered
  s.cs().set_bond({{1, false}, {2, false}}, s.now);
  const auto pinned = open_flows(s, 5000, 8);
  ASSERT_EQ(pinned.size(), 8u);
  int on_second = 0;
  for (const auto& [port, path] : pinned) on_second += path == 2;
  ASSERT_GT(on_second, 0) << "the client's scheduler put some flows on path 2";
  ASSERT_LT(on_second, 8);
  EXPECT_TRUE(s.hub->session(0)->bonding());

  // The replies: each to its flow's endpoint, the active path's untouched.
  std::map<session::PathId, int> to_path;
  for (const auto& [port, path] : pinned) {
    const SealResult r = s.hub_send(flow_down(port, 100));
    ASSERT_EQ(r.kind, SealResult::Kind::kSend) << "port " << port;
    EXPECT_EQ(r.to, s.path_addr(path)) << "port " << port;
    ++to_path[path];
    s.now += 1ms;
    s.pump();
  }
  EXPECT_EQ(to_path[2], on_second);
  EXPECT_EQ(s.hub->session(0)->endpoint(), s.path_addr(1)) << "bonded data never moves the return path";

  // Both endpoints' pacers release the queue (bonded), so a download is not
  // held to the return path's rate alone.
  const auto& paths = s.hub->session(0)->pacer().paths();
  int bonded = 0;
  for (const auto& slot : paths) bonded += slot.path && slot.bonded;
  EXPECT_EQ(bonded, 2);
  const auto before = s.delivered_to_client.size();
  s.run_for(50ms, 1ms);
  EXPECT_EQ(s.delivered_to_client.size(), before) << "nothing lost or duplicated";
  EXPECT_GE(before, 8u);
}

TEST(HubBond, AnUnvalidatedEndpointNeverGetsData) {
  const Endpoint victim = Endpoint::v4(0x0a0900ee, 5555);
  Sim s = test::two_path_sim(302);
  // A third "uplink" seen at an address the client does not own: whatever
  // the hub sends there is lost, so it never answers a challenge.
  s.not_ours.push_back(victim);
  s.add_uplink(3, victim);
  s.run_for(1s, 1ms);
  s.cs().set_bond({{1, false}, {2, false}, {3, false}}, s.now);
  const auto pinned = open_flows(s, 6000, 12);
  int on_victim = 0;
  for (const auto& [port, path] : pinned) on_victim += path == 3;
  ASSERT_GT(on_victim, 0) << "some flows came from the unvalidated address";

  const std::size_t sent_before = s.bytes_to(victim);
  for (const auto& [port, path] : pinned) {
    for (std::uint32_t k = 0; k < 5; ++k) {
      const SealResult r = s.hub_send(flow_down(port, 200 + k));
      if (r.kind == SealResult::Kind::kSend) {
        EXPECT_FALSE(r.to == victim) << "port " << port;
        // A flow from the unvalidated address returns on the return path.
        if (path == 3) {
          EXPECT_EQ(r.to, s.path_addr(1));
        }
      }
      s.now += 1ms;
      s.pump();
    }
  }
  s.run_for(100ms, 1ms);
  EXPECT_LE(s.bytes_to(victim), limits::kUnvalidatedAmplification * s.bytes_from(victim))
      << "only challenges, within the budget";
  EXPECT_LT(s.bytes_to(victim) - sent_before, 12u * 5u * 300u) << "no data went there";
}

}  // namespace
}  // namespace tund
