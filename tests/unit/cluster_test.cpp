// The pure parts of a hub cluster: rendezvous hashing of clients over
// members, the home blocks of the VIP pool, and the core's hooks the daemon's
// etcd agent drives (a session ended by a takeover, a member that takes no
// handshakes, the authenticated kMove of a drain).
#include <gtest/gtest.h>

#include <set>

#include "hub/cluster_agent.hpp"
#include "session/rendezvous.hpp"
#include "support/sim.hpp"

namespace tund {
namespace {

using namespace std::chrono_literals;
using session::home_block;
using session::member_order;
using test::kClientVip;
using test::kServer;
using test::make_inner;
using test::Sim;

PublicKey key_of(std::uint32_t n) {
  PublicKey k{};
  store_le32(k.data(), n);
  k[31] = 0x5a;
  return k;
}

TEST(Rendezvous, EveryOrderIsAPermutationAndTheSameEachTime) {
  for (std::uint32_t n = 0; n < 200; ++n) {
    const auto order = member_order(key_of(n), 5);
    ASSERT_EQ(order.size(), 5u);
    EXPECT_EQ(std::set<std::size_t>(order.begin(), order.end()).size(), 5u);
    EXPECT_EQ(order, member_order(key_of(n), 5));
  }
  EXPECT_TRUE(member_order(key_of(1), 0).empty());
}

TEST(Rendezvous, LoadSpreadsEvenlyAndALostMemberMovesOnlyItsOwnClients) {
  constexpr std::size_t kClients = 6000, kMembers = 3;
  std::array<std::size_t, kMembers> homes{};
  for (std::uint32_t n = 0; n < kClients; ++n) ++homes[session::home_member(key_of(n), kMembers)];
  for (const auto h : homes) {
    EXPECT_GT(h, kClients / kMembers * 9 / 10);
    EXPECT_LT(h, kClients / kMembers * 11 / 10);
  }
  // Member 2 gone (clients skip it in their order): everyone else stays home,
  // its clients go to their second choice.
  for (std::uint32_t n = 0; n < kClients; ++n) {
    const auto order = member_order(key_of(n), kMembers);
    const std::size_t next = order[0] == 2 ? order[1] : order[0];
    if (order[0] != 2) {
      EXPECT_EQ(next, order[0]);
    }
    EXPECT_NE(next, 2u);
  }
}

TEST(Rendezvous, HomeBlocksSplitThePoolIntoEqualDisjointParts) {
  const std::uint32_t pool = 0x0a4d0000;  // 10.77.0.0/16
  const auto b0 = home_block(pool, 16, 3, 0), b1 = home_block(pool, 16, 3, 1), b2 = home_block(pool, 16, 3, 2);
  EXPECT_EQ(b0.len, 18);  // four blocks for three members
  EXPECT_EQ(b0.network, 0x0a4d0000u);
  EXPECT_EQ(b1.network, 0x0a4d4000u);
  EXPECT_EQ(b2.network, 0x0a4d8000u);
  EXPECT_TRUE(b1.contains(0x0a4d7fff));
  EXPECT_FALSE(b1.contains(0x0a4d8000));
  EXPECT_FALSE(b0.contains(0x0a4d4000));
  // Host bits in the pool's address do not matter; too small a pool is not split.
  EXPECT_EQ(home_block(0x0a4d0001, 16, 2, 1).network, 0x0a4d8000u);
  EXPECT_EQ(home_block(0x0a4d0001, 29, 4, 3).len, 29);
  EXPECT_EQ(home_block(0x0a4d0001, 29, 4, 3).network, 0x0a4d0000u);
  EXPECT_EQ(home_block(0x0a4d0001, 24, 1, 0).len, 24);
}

TEST(Rendezvous, VipCandidatesAreTheHomeBlockFirstThenTheRestNeverTheEdges) {
  const config::Prefix pool{0x0a4d0001, 24};  // hub 10.77.0.1
  const auto second = home_block(0x0a4d0000, 24, 2, 1);
  const auto c = hub::vip_candidates(pool, second);
  ASSERT_EQ(c.size(), 253u);  // 256 less network, broadcast and the hub
  EXPECT_EQ(c.front(), 0x0a4d0080u);
  EXPECT_EQ(c[126], 0x0a4d00feu);  // the home block's last usable (.255 is the broadcast)
  EXPECT_EQ(c[127], 0x0a4d0002u);  // then the other block, skipping .0 and the hub's .1
  EXPECT_EQ(std::set<std::uint32_t>(c.begin(), c.end()).size(), c.size());
  EXPECT_EQ(std::count(c.begin(), c.end(), 0x0a4d0001u), 0);
}

TEST(ClusterHooks, ADrainAsksTheClientToMoveAndATakeoverEndsTheSession) {
  Sim s(3);
  ASSERT_TRUE(s.connect());
  const auto changes = s.hub->take_session_changes();
  ASSERT_EQ(changes.size(), 1u);  // the session began
  EXPECT_EQ(changes[0], 0u);
  EXPECT_TRUE(s.hub->take_session_changes().empty());

  EXPECT_EQ(s.cs().moves_asked(), 0u);
  ASSERT_TRUE(s.hub->ask_to_move(0, s.now));
  s.run_for(20ms);
  EXPECT_EQ(s.cs().moves_asked(), 1u);  // authenticated, seen by the client

  // Another member took the client over: the session ends, the VIP stays.
  s.hub->end_session(0);
  EXPECT_EQ(s.hub->session_count(), 0u);
  EXPECT_EQ(s.hub->take_session_changes(), std::vector<session::ClientId>{0});
  EXPECT_EQ(s.hub->find_client_by_vip(kClientVip), std::optional<session::ClientId>{0});
  EXPECT_FALSE(s.hub->ask_to_move(0, s.now));
  EXPECT_EQ(s.hub_send(make_inner(kServer, kClientVip, 1)).kind, session::SealResult::Kind::kDrop);
}

TEST(ClusterHooks, AMemberThatTakesNoHandshakesCountsThemAndAnswersNone) {
  Sim s(4);
  s.hub->set_accepting(false);
  s.cs().start(s.now);
  s.run_for(200ms);
  EXPECT_EQ(s.hub->session_count(), 0u);
  EXPECT_GE(s.hub->drops()[DropReason::kNotServing], 1u);
  EXPECT_EQ(s.cs().state(), session::ClientSession::State::kHandshaking);
  // Serving again: the client's next attempt gets in, on the same session id.
  s.hub->set_accepting(true);
  s.cs().rehandshake(s.now);
  s.run_for(50ms);
  EXPECT_EQ(s.hub->session_count(), 1u);
}

}  // namespace
}  // namespace tund

namespace tund {
namespace {

TEST(ClusterKeys, AClientListedTwiceInOneAnswerIsRefusedNotLetThrough) {
  // A range lists each key once. The fuzzer's etcd listed one client twice,
  // with a bad value and a good one: it was counted refused and let through.
  const std::string hex(64, 'a'), key = "/tund/t/client/" + hex;
  const config::Prefix pool{0x0a4d0001, 24};
  for (const auto& order : {std::vector<std::pair<std::string, std::string>>{{key, "no address"}, {key, "10.77.0.5"}},
                            std::vector<std::pair<std::string, std::string>>{{key, "10.77.0.5"}, {key, "10.77.0.6"}}}) {
    const auto m = hub::check_mappings(order, {}, "/tund/t/client/", "/tund/t/vip/", pool);
    EXPECT_FALSE(m.clients.count(hex));
    EXPECT_TRUE(m.refused.count(hex));
  }
}

}  // namespace
}  // namespace tund
