// A restarting client and peers that lie: forged handshake messages change
// nothing, switch acknowledgements cannot amplify, a hub's assignment is
// checked and a hub can speak only for its own prefixes.
#include <gtest/gtest.h>

#include "crypto/cookie.hpp"
#include "session/route_table.hpp"
#include "session/vip_check.hpp"
#include "support/sim.hpp"

namespace tund {
namespace {

using namespace std::chrono_literals;
using session::IpPrefix;
using session::ReceiveResult;
using session::SealResult;
using test::kClientVip;
using test::kServer;
using test::make_inner;
using test::Sim;

// Sends `n` packets each way and checks all arrived, once and intact.
void exchange(Sim& s, std::uint32_t first, std::uint32_t n) {
  const auto up0 = s.delivered_to_hub.size(), down0 = s.delivered_to_client.size();
  for (std::uint32_t i = 0; i < n; ++i) {
    EXPECT_EQ(s.client_send(make_inner(kClientVip, kServer, first + i)).kind, SealResult::Kind::kSend);
    EXPECT_EQ(s.hub_send(make_inner(kServer, kClientVip, first + i)).kind, SealResult::Kind::kSend);
  }
  s.run_for(20ms);
  ASSERT_EQ(s.delivered_to_hub.size(), up0 + n);
  ASSERT_EQ(s.delivered_to_client.size(), down0 + n);
  for (std::uint32_t i = 0; i < n; ++i) {
    EXPECT_EQ(s.delivered_to_hub[up0 + i], make_inner(kClientVip, kServer, first + i));
    EXPECT_EQ(s.delivered_to_client[down0 + i], make_inner(kServer, kClientVip, first + i));
  }
}

// --- A client that restarts ------------------------------------------------------

TEST(Restart, ARestartedClientPassesTrafficBothWaysAtOnce) {
  Sim s(101);
  ASSERT_TRUE(s.connect());
  exchange(s, 1, 300);  // the old stream's data sequences reach 300+
  // Mid-transfer: packets of the old process still in flight, then it dies.
  for (std::uint32_t i = 0; i < 10; ++i) s.client_send(make_inner(kClientVip, kServer, 1000 + i));
  s.restart_client();
  s.cs().start(s.now);
  const Time started = s.now;
  s.run_for(10ms, 1ms);
  ASSERT_TRUE(s.cs().established());
  EXPECT_LT(s.now - started, 20ms);
  const auto hub_drops = s.hub->drops()[DropReason::kDuplicateData];
  exchange(s, 5000, 20);  // the new stream starts at sequence 1 again: all delivered
  EXPECT_EQ(s.hub->drops()[DropReason::kDuplicateData], hub_drops);
  EXPECT_FALSE(s.nonce_reused);
}

TEST(Restart, ARekeyKeepsTheStream) {
  Sim s(102);
  ASSERT_TRUE(s.connect());
  exchange(s, 1, 50);
  const auto id = s.cs().session_id();
  const auto* hub_session = s.hub->session(0);
  const auto handshakes = s.cs().stats().handshakes;
  s.run_for(limits::kRekeyAfterTime + 1s, 100ms);  // keepalives and probes keep it alive
  EXPECT_GT(s.cs().stats().handshakes, handshakes);
  EXPECT_EQ(s.cs().session_id(), id);
  EXPECT_EQ(s.hub->session(0), hub_session) << "a rekey keeps the hub's stream";
  EXPECT_EQ(s.hub->session(0)->resend_buffer().packets(), 0u);
  exchange(s, 100, 50);
  EXPECT_EQ(s.hub->drops()[DropReason::kDuplicateData], 0u);
  EXPECT_EQ(s.client->drops()[DropReason::kDuplicateData], 0u);
}

// --- Forged handshake messages ------------------------------------------------------

// A response anyone can make: the right receiver index and a valid mac1
// (both computable from what is on the wire and the client's public key).
std::vector<std::uint8_t> forged_response(const Sim& s, std::uint32_t receiver, std::uint8_t fill) {
  std::vector<std::uint8_t> r(wire::response::kSize, fill);
  wire::write_header(r.data(), wire::MessageType::kResponse);
  store_le32(r.data() + wire::response::kReceiver, receiver);
  crypto::CookieMaker(s.client_key).stamp(r, wire::response::kMac1, s.now);
  return r;
}

TEST(Forgery, AForgedResponseThenTheGenuineOneConnectsWithoutDelay) {
  Sim s(103);
  s.cs().start(s.now);
  s.pump();
  auto initiation = s.take_in_flight(Sim::Dir::kToHub);
  ASSERT_EQ(initiation.size(), 1u);
  const std::uint32_t index = load_le32(initiation[0].data() + wire::initiation::kSender);
  for (std::uint8_t fill : {0x00, 0x11, 0x5a}) {
    const auto r = s.inject_to_client(forged_response(s, index, fill));
    EXPECT_EQ(r.kind, ReceiveResult::Kind::kDrop);
  }
  EXPECT_GE(s.client->drops()[DropReason::kHandshakeFailed] + s.client->drops()[DropReason::kLowOrderKey], 3u);
  EXPECT_FALSE(s.cs().established());
  // The genuine initiation reaches the hub now; its response must still work.
  s.put(Sim::Dir::kToHub, initiation[0], s.client_addr());
  s.run_for(3ms, 1ms);
  EXPECT_TRUE(s.cs().established()) << "no added delay: the genuine response is read at once";
  exchange(s, 1, 5);
}

TEST(Forgery, AForgedInitiationDisturbsNeitherALiveSessionNorAPendingHandshake) {
  Sim s(104);
  ASSERT_TRUE(s.connect());
  const auto endpoint = s.hub->session(0)->endpoint();
  const auto handshakes = s.hub->session(0)->stats().handshakes;
  const auto attacker = Endpoint::v4(0x0a0100ee, 6666);
  std::mt19937_64 rng(7);
  for (int i = 0; i < 50; ++i) {
    std::vector<std::uint8_t> g(wire::initiation::kSize);
    for (auto& b : g) b = static_cast<std::uint8_t>(rng());
    wire::write_header(g.data(), wire::MessageType::kInitiation);
    crypto::CookieMaker(s.hub_key).stamp(g, wire::initiation::kMac1, s.now);  // valid mac1, garbage inside
    std::vector<std::uint8_t> reply;
    EXPECT_EQ(s.inject_to_hub(g, attacker, &reply).kind, ReceiveResult::Kind::kDrop);
    EXPECT_TRUE(reply.empty());
  }
  EXPECT_EQ(s.hub->drops()[DropReason::kHandshakeFailed], 50u);
  EXPECT_EQ(s.hub->session(0)->endpoint(), endpoint);
  EXPECT_EQ(s.hub->session(0)->stats().handshakes, handshakes);
  exchange(s, 1, 5);

  // A replay of the client's own genuine initiation during a rekey: refused,
  // and the rekey completes.
  s.capture = true;
  s.run_for(limits::kRekeyAfterTime + 1s, 100ms);
  s.capture = false;
  std::vector<std::uint8_t> old_initiation;
  for (const auto& d : s.captured_to_hub)
    if (d[0] == static_cast<std::uint8_t>(wire::MessageType::kInitiation)) old_initiation = d;
  ASSERT_FALSE(old_initiation.empty());
  const auto stale = s.hub->drops()[DropReason::kStaleTimestamp];
  EXPECT_EQ(s.inject_to_hub(old_initiation, attacker).kind, ReceiveResult::Kind::kDrop);
  EXPECT_EQ(s.hub->drops()[DropReason::kStaleTimestamp], stale + 1);
  EXPECT_EQ(s.hub->session(0)->endpoint(), endpoint) << "a replayed initiation never moves the path";
  exchange(s, 10, 5);
}

// A hub cluster's members share the hub key but not their view of the
// client's newest initiation: one recorded at member A replays at member B
// (modelled by a hub with the same key and clients that never saw it). B
// answers, as it must (it cannot tell), but starts nothing the daemon sees:
// no live session, no session change to claim in etcd, until the client
// proves it holds the keys with its first packet under them.
TEST(Forgery, AReplayedInitiationAtAnotherMemberStartsNoSession) {
  Sim s(108);
  s.capture = true;
  ASSERT_TRUE(s.connect());
  s.capture = false;
  std::vector<std::uint8_t> recorded;
  for (const auto& d : s.captured_to_hub)
    if (d[0] == static_cast<std::uint8_t>(wire::MessageType::kInitiation)) recorded = d;
  ASSERT_FALSE(recorded.empty());
  exchange(s, 1, 5);
  auto member_a = std::move(s.hub);
  s.restart_hub();  // member B: same key and clients, has seen nothing
  (void)s.hub->take_session_changes();
  const Endpoint attacker = Endpoint::v4(0x0a0b0c0d, 999);
  std::vector<std::uint8_t> reply;
  EXPECT_EQ(s.inject_to_hub(recorded, attacker, &reply).kind, ReceiveResult::Kind::kReply);
  EXPECT_EQ(s.hub->session_count(), 0u);
  EXPECT_EQ(s.hub->session(0), nullptr);
  EXPECT_TRUE(s.hub->take_session_changes().empty()) << "nothing to claim in etcd";
  // What comes for the client waits (bounded) for its confirmation.
  EXPECT_EQ(s.hub_send(make_inner(kServer, kClientVip, 1)).kind, SealResult::Kind::kStaged);
  EXPECT_GT(s.hub->staged_bytes(), 0u);
  // B alone (the client keeps talking to A): nothing to send, and the
  // pending state is forgotten with what it staged.
  const Time later = s.now + limits::kPendingSessionLifetime + 1s;
  s.hub->on_timer(later);
  std::vector<std::uint8_t> out(Sim::kBuf);
  EXPECT_FALSE(s.hub->poll_transmit(out, later)) << "B sends nothing but the response (to the attacker)";
  EXPECT_EQ(s.hub->session_count(), 0u);
  EXPECT_EQ(s.hub->staged_bytes(), 0u);
  EXPECT_TRUE(s.hub->take_session_changes().empty());
  // Member A's session is untouched (it never saw the replay).
  s.hub = std::move(member_a);
  exchange(s, 10, 5);
  // The genuine client moving to B: its first packet under the new keys
  // makes the session live there, and only then is it reported.
  s.restart_hub();
  (void)s.hub->take_session_changes();
  s.restart_client();
  s.cs().start(s.now);
  s.run_for(50ms, 1ms);
  ASSERT_TRUE(s.cs().established());
  exchange(s, 20, 5);
  EXPECT_EQ(s.hub->session_count(), 1u);
  EXPECT_EQ(s.hub->take_session_changes(), std::vector<session::ClientId>{0});
}

TEST(Forgery, AForgedCookieReplyChangesNothing) {
  Sim s(105);
  s.cs().start(s.now);
  s.pump();
  auto initiation = s.take_in_flight(Sim::Dir::kToHub);
  ASSERT_EQ(initiation.size(), 1u);
  const std::uint32_t index = load_le32(initiation[0].data() + wire::initiation::kSender);
  std::vector<std::uint8_t> c(wire::cookie_reply::kSize, 0x42);
  wire::write_header(c.data(), wire::MessageType::kCookieReply);
  store_le32(c.data() + wire::cookie_reply::kReceiver, index);
  EXPECT_EQ(s.inject_to_client(c).kind, ReceiveResult::Kind::kDrop);
  EXPECT_EQ(s.client->drops()[DropReason::kBadCookie], 1u);
  s.put(Sim::Dir::kToHub, initiation[0], s.client_addr());
  s.run_for(3ms, 1ms);
  EXPECT_TRUE(s.cs().established());
}

// --- Switch acknowledgements cannot amplify -------------------------------------------

TEST(Amplification, ManySwitchAcksResendTheUnacknowledgedBytesAtMostOnce) {
  Sim s(106);
  // Both "paths" reach the hub from one address: no migration, no path
  // validation to hold the resends back; only the exchange limit can.
  s.paths[2] = s.paths[1];
  s.cs().add_path(2, s.now);
  ASSERT_TRUE(s.connect());
  // 40 packets toward the client are lost: the hub holds them unacknowledged.
  std::size_t unacked = 0;
  for (std::uint32_t i = 0; i < 40; ++i) {
    const auto r = s.hub_send(make_inner(kServer, kClientVip, i, 1200));
    ASSERT_EQ(r.kind, SealResult::Kind::kSend);
    unacked += r.len;
  }
  s.take_in_flight(Sim::Dir::kToClient);
  const std::size_t to_hub0 = s.bytes_to_hub, to_client0 = s.bytes_to_client;
  // A (malicious, authenticated) client flips paths 60 times in 120 ms, each
  // flip a switch-flagged ack, and never acknowledges what the hub resends
  // (everything toward it is lost), so every ack claims the same old state.
  // First as planned switches (each leaves a path it keeps): they schedule
  // nothing, so only the answers (one per ack, as big) come back.
  for (int i = 0; i < 60; ++i) {
    s.cs().set_active_path(i % 2 ? 1 : 2, s.now);
    for (int step = 0; step < 2; ++step) {
      s.now += 1ms;
      s.pump();
      s.take_in_flight(Sim::Dir::kToClient);
    }
  }
  const std::size_t planned_in = s.bytes_to_hub - to_hub0, planned_out = s.bytes_to_client - to_client0;
  EXPECT_LE(planned_out, planned_in) << "planned switches resend nothing";
  EXPECT_EQ(s.hub->session(0)->resend_buffer().resent(), 0u);
  // Then as sudden ones: each leaves a path that vanished (and comes back).
  for (int i = 0; i < 60; ++i) {
    const session::PathId from = s.cs().active_path(), to = from == 1 ? 2 : 1;
    s.cs().remove_path(from);
    s.cs().set_active_path(to, s.now);
    s.cs().add_path(from, s.now);
    for (int step = 0; step < 2; ++step) {
      s.now += 1ms;
      s.pump();
      s.take_in_flight(Sim::Dir::kToClient);
    }
  }
  const std::size_t received = s.bytes_to_hub - to_hub0, sent = s.bytes_to_client - to_client0;
  EXPECT_LE(sent, unacked + 3 * received) << "sent " << sent << " for " << received << " received, " << unacked
                                          << " unacknowledged";
  EXPECT_GT(s.hub->drops()[DropReason::kSwitchRateLimited], 0u);
  // A genuine sudden switch afterwards still gets what was lost.
  s.now += limits::kSwitchExchangeInterval;
  ASSERT_EQ(s.cs().active_path(), 1u);
  s.cs().remove_path(1);
  s.cs().set_active_path(2, s.now);
  s.run_for(50ms, 1ms);
  EXPECT_EQ(s.delivered_to_client.size(), 40u);
  std::printf("amplification: %zu switch-ack bytes in, %zu bytes out, %zu unacknowledged\n", received, sent, unacked);
}

// --- The client checks what the hub assigns ----------------------------------------

crypto::VipAssignment va(std::uint32_t vip, std::uint8_t len, std::uint32_t gw) { return {vip, len, 0, gw}; }

TEST(Assignment, OnlyUsableUnicastAddressesInASaneprefixAreAccepted) {
  EXPECT_TRUE(session::valid_assignment(va(0x0a4d0002, 24, 0x0a4d0001)));
  EXPECT_TRUE(session::valid_assignment(va(0x0a4d0002, 32, 0)));
  EXPECT_TRUE(session::valid_assignment(va(0x0a4d0002, 31, 0x0a4d0003)));
  EXPECT_FALSE(session::valid_assignment(va(0x0a4d0002, 168, 0x0a4d0001))) << "prefix beyond 32";
  EXPECT_FALSE(session::valid_assignment(va(0x0a4d0002, 1, 0))) << "a /1 takes over routing";
  EXPECT_FALSE(session::valid_assignment(va(0x0a4d0002, 0, 0)));
  EXPECT_FALSE(session::valid_assignment(va(0x0a4d0000, 24, 0x0a4d0001))) << "network address";
  EXPECT_FALSE(session::valid_assignment(va(0x0a4d00ff, 24, 0x0a4d0001))) << "broadcast address";
  EXPECT_FALSE(session::valid_assignment(va(0x7f000001, 8, 0))) << "loopback";
  EXPECT_FALSE(session::valid_assignment(va(0xe0000001, 24, 0))) << "multicast";
  EXPECT_FALSE(session::valid_assignment(va(0xa9fe0102, 16, 0))) << "link-local";
  EXPECT_FALSE(session::valid_assignment(va(0xffffffff, 32, 0))) << "limited broadcast";
  EXPECT_FALSE(session::valid_assignment(va(0, 24, 0)));
  EXPECT_FALSE(session::valid_assignment(va(0x0a4d0002, 24, 0x0a4e0001))) << "gateway outside the prefix";
  EXPECT_FALSE(session::valid_assignment(va(0x0a4d0002, 24, 0x7f000001))) << "loopback gateway";
}

TEST(Assignment, AHubThatAssignsNonsenseDoesNotConnect) {
  Sim s(107);
  s.hub->add_client(s.client_key, va(0x0a4d0002, 168, test::kHubVip));
  s.cs().start(s.now);
  s.run_for(50ms);
  EXPECT_FALSE(s.cs().established());
  EXPECT_GE(s.client->drops()[DropReason::kBadAssignment], 1u);
  EXPECT_EQ(s.client->routes().size(), 1u) << "nothing of the assignment was routed";
}

TEST(Assignment, AWideOrOverlappingSubnetIsNotRoutedOnlyTheHubsOwnVip) {
  Sim s(108);
  s.hub->add_client(s.client_key, va(0x0a000002, 8, 0x0a000001));  // 10.0.0.0/8 is wider than /16
  ASSERT_TRUE(s.connect());
  ASSERT_TRUE(s.cs().assigned_route());
  EXPECT_EQ(*s.cs().assigned_route(), IpPrefix::v4(0x0a000001, 32));

  Sim t(109);
  t.client->set_local_prefixes({IpPrefix::v4(0x0a4d0000, 16)});  // an uplink lives in 10.77.0.0/16
  ASSERT_TRUE(t.connect());
  EXPECT_FALSE(t.cs().assigned_route()) << "nothing over an uplink's own subnet, not even the hub's VIP";

  Sim u(110);
  ASSERT_TRUE(u.connect());
  ASSERT_TRUE(u.cs().assigned_route());
  EXPECT_EQ(*u.cs().assigned_route(), IpPrefix::v4(0x0a4d0000, 24)) << "a sane /24 is routed";
}

// --- Cryptokey routing on the client ---------------------------------------------

TEST(RouteTable, LongestPrefixWinsInBothFamilies) {
  session::RouteTable t;
  t.set_routes(0, {IpPrefix::v4(0x0a000000, 8)});
  t.set_routes(1, {IpPrefix::v4(0x0a040000, 16), IpPrefix::v4(0, 0)});
  std::array<std::uint8_t, 16> v6{0xfd, 0x04};
  t.set_routes(2, {IpPrefix::v6(v6.data(), 64)});
  EXPECT_EQ(t.lookup_v4(0x0a040001), 1u);
  EXPECT_EQ(t.lookup_v4(0x0a050001), 0u);
  EXPECT_EQ(t.lookup_v4(0x08080808), 1u) << "the default route";
  v6[15] = 9;
  EXPECT_EQ(t.lookup(6, v6.data()), 2u);
  v6[7] = 1;  // outside fd04::/64
  EXPECT_EQ(t.lookup(6, v6.data()), std::nullopt) << "an IPv4 default says nothing of IPv6";
  t.set_assigned(0, IpPrefix::v4(0x0a040000, 24));
  EXPECT_EQ(t.lookup_v4(0x0a040001), 0u) << "a more specific assignment";
  t.set_assigned(0, std::nullopt);
  EXPECT_EQ(t.lookup_v4(0x0a040001), 1u);
  EXPECT_TRUE(t.overlaps_routes_of_others(0, IpPrefix::v4(0x0a04ff00, 24)));
  EXPECT_TRUE(t.overlaps_routes_of_others(1, IpPrefix::v4(0x0a04ff00, 24))) << "slot 0's 10.0.0.0/8";
  EXPECT_FALSE(t.overlaps_routes_of_others(1, IpPrefix::v4(0x0b000000, 8)));
}

TEST(CryptokeyRouting, AHubMayDeliverOnlyFromItsOwnPrefixes) {
  Sim s(111);
  const auto other = s.client->add_hub(test::keypair_from_seed(9).pub);
  s.client->set_routes(other, {IpPrefix::v4(0x0a050000, 24)});  // hub B's servers: 10.5.0.0/24
  ASSERT_TRUE(s.connect());
  ASSERT_EQ(s.hub_send(make_inner(kServer, kClientVip, 1)).kind, SealResult::Kind::kSend);  // its route
  ASSERT_EQ(s.hub_send(make_inner(test::kHubVip, kClientVip, 2)).kind, SealResult::Kind::kSend);  // its VIP subnet
  ASSERT_EQ(s.hub_send(make_inner(0x0a050001, kClientVip, 3)).kind, SealResult::Kind::kSend);  // hub B's network
  ASSERT_EQ(s.hub_send(make_inner(0xc0a83201, kClientVip, 4)).kind, SealResult::Kind::kSend);  // a LAN address
  s.run_for(20ms);
  ASSERT_EQ(s.delivered_to_client.size(), 2u);
  EXPECT_EQ(s.client->drops()[DropReason::kBadInnerSource], 2u);
  s.run_for(20ms);  // the acknowledgement's delay
  EXPECT_EQ(s.hub->session(0)->resend_buffer().packets(), 0u) << "refused packets are still acknowledged";
}

}  // namespace
}  // namespace tund
