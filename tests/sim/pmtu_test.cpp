// Path MTU in the simulation: each path finds what it carries with padded
// probes (no ICMP exists here), the hub learns the active path's from the
// client, and both ends answer inner packets that do not fit instead of
// sending them into a black hole; the probe echoes are never bigger than the
// probes.
#include <gtest/gtest.h>

#include "session/inner_mtu.hpp"
#include "support/packets.hpp"
#include "support/sim.hpp"

namespace tund {
namespace {

using namespace std::chrono_literals;
using test::kClientVip;
using test::kServer;
using test::make_inner;
using test::Sim;

constexpr std::size_t kCeiling = 1460;  // a 1420-byte TUN's largest datagram
constexpr std::size_t kSmall = 1252;    // what a 1280-byte IPv4 link carries

Sim small_second_path(std::uint64_t seed) {
  Sim s(seed);
  s.path_mtu[2] = kSmall;
  s.add_uplink(2, Endpoint::v4(0x0a020002, 40002));
  s.cs().set_path_mtu_limits(1, limits::kPmtuBase4, kCeiling, s.now);
  s.cs().set_path_mtu_limits(2, limits::kPmtuBase4, kCeiling, s.now);
  EXPECT_TRUE(s.connect());
  s.run_for(2s);
  return s;
}

TEST(PathMtu, EachPathFindsWhatItCarries) {
  Sim s = small_second_path(1);
  const auto* big = s.cs().path_mtu(1);
  const auto* small = s.cs().path_mtu(2);
  ASSERT_TRUE(big && small);
  EXPECT_TRUE(big->found());
  EXPECT_EQ(big->mtu(), kCeiling);
  EXPECT_TRUE(small->found());
  EXPECT_LE(small->mtu(), kSmall);
  EXPECT_GE(small->mtu() + limits::kPmtuGranularity, kSmall);
  EXPECT_LT(small->last_duration(), 500ms);
  EXPECT_GT(s.too_big_for_path, 0u);  // the probes above it were lost, as on a real link
  EXPECT_EQ(s.cs().inner_mtu(), kCeiling - wire::transport::kDataOverhead);
}

TEST(PathMtu, TheHubLearnsTheActivePathsMtuAndBothEndsAnswerTooBig) {
  Sim s = small_second_path(2);
  ASSERT_TRUE(s.hub->session(*s.hub->find_client(s.client_key)));
  const auto& hs = *s.hub->session(*s.hub->find_client(s.client_key));
  EXPECT_EQ(hs.path_mtu(), kCeiling);
  s.cs().set_active_path(2, s.now);
  s.run_for(200ms);
  const std::size_t small = s.cs().path_mtu(2)->mtu();
  EXPECT_EQ(hs.path_mtu(), small);
  const std::size_t inner = small - wire::transport::kDataOverhead;
  EXPECT_EQ(s.cs().inner_mtu(), inner);
  // What fits goes through; what does not is answered, not sent.
  EXPECT_EQ(s.client_send(make_inner(kClientVip, kServer, 1, inner)).kind, session::SealResult::Kind::kSend);
  const auto up = s.client_send(make_inner(kClientVip, kServer, 2, inner + 1));
  EXPECT_EQ(up.kind, session::SealResult::Kind::kTooBig);
  EXPECT_EQ(up.len, inner);
  const auto down = s.hub_send(make_inner(kServer, kClientVip, 3, 1400));
  EXPECT_EQ(down.kind, session::SealResult::Kind::kTooBig);
  EXPECT_EQ(down.len, inner);
  EXPECT_EQ(s.hub_send(make_inner(kServer, kClientVip, 4, inner)).kind, session::SealResult::Kind::kSend);
  const std::size_t lost = s.too_big_for_path;
  s.run_for(100ms);
  EXPECT_EQ(s.too_big_for_path, lost);  // no data was sent too big for the path
  ASSERT_EQ(s.delivered_to_hub.size(), 1u);
  ASSERT_EQ(s.delivered_to_client.size(), 1u);
  // Back to the big path: full-size packets again.
  s.cs().set_active_path(1, s.now);
  s.run_for(200ms);
  EXPECT_EQ(hs.path_mtu(), kCeiling);
  EXPECT_EQ(s.client_send(make_inner(kClientVip, kServer, 5, 1420)).kind, session::SealResult::Kind::kSend);
}

// IPv6 promises every link 1280 bytes: on a path that carries less, an IPv6
// packet up to 1280 is sealed anyway and its datagram marked for outer
// fragmentation (the simulated path then carries it), both ways; beyond 1280,
// and for IPv4, the path's limit holds.
TEST(PathMtu, AnIpv6PacketUpTo1280CrossesASmallerPathInOuterFragments) {
  Sim s = small_second_path(6);
  crypto::VipAssignment vip{test::kClientVip, 24, 0, test::kHubVip};
  vip.vip6[0] = 0xfd;
  vip.vip6[15] = 2;  // test::build_packet's IPv6 source, fd00::2
  s.hub->add_client(s.client_key, vip);
  const std::uint8_t servers6[16] = {0xfd};  // fd00::/64 routed to the hub: fd00::1 may speak
  s.client->set_routes(s.slot, {session::IpPrefix::v4(kServer & 0xFFFFFF00u, 24), session::IpPrefix::v6(servers6, 64)});
  s.cs().set_active_path(2, s.now);
  s.run_for(200ms);
  const std::size_t inner = s.cs().path_mtu(2)->mtu() - wire::transport::kDataOverhead;
  ASSERT_LT(inner, limits::kIpv6MinimumMtu);
  test::PacketSpec up_spec, down_spec;
  up_spec.version = down_spec.version = 6;
  up_spec.proto = down_spec.proto = 17;
  down_spec.src_last = 1;
  down_spec.dst_last = 2;
  const std::size_t payload = limits::kIpv6MinimumMtu - 40 - 8;
  const auto up = test::build_packet(up_spec, std::vector<std::uint8_t>(payload, 7));
  const auto down = test::build_packet(down_spec, std::vector<std::uint8_t>(payload, 9));
  ASSERT_EQ(up.size(), limits::kIpv6MinimumMtu);
  const std::size_t lost = s.too_big_for_path;
  const auto sent_up = s.client_send(up);
  const auto sent_down = s.hub_send(down);
  ASSERT_EQ(sent_up.kind, session::SealResult::Kind::kSend);
  ASSERT_EQ(sent_down.kind, session::SealResult::Kind::kSend);
  EXPECT_TRUE(sent_up.fragment);
  EXPECT_TRUE(sent_down.fragment);
  s.run_for(100ms);
  EXPECT_EQ(s.too_big_for_path, lost);
  ASSERT_EQ(s.delivered_to_hub.size(), 1u);
  ASSERT_EQ(s.delivered_to_client.size(), 1u);
  EXPECT_EQ(s.delivered_to_hub[0], up);
  EXPECT_EQ(s.delivered_to_client[0], down);
  // What fits is sent whole; IPv6 beyond 1280 and IPv4 beyond the path are answered.
  const auto fits = test::build_packet(up_spec, std::vector<std::uint8_t>(inner - 48, 1));
  const auto whole = s.client_send(fits);
  EXPECT_EQ(whole.kind, session::SealResult::Kind::kSend);
  EXPECT_FALSE(whole.fragment);
  const auto beyond = test::build_packet(up_spec, std::vector<std::uint8_t>(payload + 1, 1));
  EXPECT_EQ(s.client_send(beyond).kind, session::SealResult::Kind::kTooBig);
  EXPECT_EQ(s.hub_send(make_inner(kServer, kClientVip, 3, inner + 1)).kind, session::SealResult::Kind::kTooBig);
}

// A SYN asks for segments that fit every path the session has, not only the
// active one: after a handover to the smaller path none is too big for it.
TEST(PathMtu, SynsAreClampedToTheSmallestPathWhilePacketsUseTheActivePath) {
  Sim s = small_second_path(5);
  const std::size_t small_inner = s.cs().path_mtu(2)->mtu() - wire::transport::kDataOverhead;
  ASSERT_EQ(s.cs().inner_mtu(), kCeiling - wire::transport::kDataOverhead);
  EXPECT_EQ(s.cs().clamp_mtu(), small_inner);
  test::PacketSpec spec;
  spec.tcp_flags = 0x02;                                 // SYN, from the client's VIP
  spec.tcp_options = {2, 4, 0x05, 0xb4, 1, 1, 1, 1};     // MSS 1460
  const auto syn = test::build_packet(spec, {});
  s.delivered_to_hub.clear();
  ASSERT_EQ(s.client_send(syn).kind, session::SealResult::Kind::kSend);
  s.run_for(20ms);
  ASSERT_EQ(s.delivered_to_hub.size(), 1u);
  const auto& got = s.delivered_to_hub[0];
  EXPECT_EQ(std::uint16_t(got[20 + 22] << 8 | got[20 + 23]), session::mss_for(small_inner, 4));
  // Packets still go at the active path's size.
  EXPECT_EQ(s.client_send(make_inner(kClientVip, kServer, 1, 1420)).kind, session::SealResult::Kind::kSend);
  // A segment of the clamped size fits the small path after a handover.
  s.cs().set_active_path(2, s.now);
  s.run_for(200ms);
  EXPECT_EQ(s.client_send(make_inner(kClientVip, kServer, 2, session::mss_for(small_inner, 4) + 40)).kind,
            session::SealResult::Kind::kSend);
}

TEST(PathMtu, ProbeEchoesAreNeverBiggerThanProbesAndIdleSessionsDoNotSearch) {
  Sim s = small_second_path(3);
  // Everything the hub sent, probes echoes included, against what it got.
  EXPECT_LE(s.bytes_to_client, s.bytes_to_hub);
  // Later searches happen only while traffic flows: an idle session sends
  // no padded probes past its first search.
  const auto probes = s.cs().path_mtu(1)->probes_sent() + s.cs().path_mtu(2)->probes_sent();
  s.run_for(limits::kPmtuRaiseInterval + 30s, 100ms);
  EXPECT_EQ(s.cs().path_mtu(1)->probes_sent() + s.cs().path_mtu(2)->probes_sent(), probes);
}

TEST(PathMtu, AHubIgnoresAClaimBelowTheBase) {
  Sim s = small_second_path(4);
  // A client (authenticated, maybe malicious) claims a tiny MTU for itself:
  // the hub never goes below what every path carries.
  session::ControlFrame f;
  f.kind = wire::ControlKind::kPathMtu;
  f.path_mtu = 100;
  std::vector<std::uint8_t> frame(session::encoded_size(f));
  session::encode_control(f, frame.data());
  auto* kp = s.cs().current_keypair_for_test();
  ASSERT_TRUE(kp);
  const auto counter = kp->reserve_counter();
  ASSERT_TRUE(counter);
  std::vector<std::uint8_t> out(frame.size() + wire::transport::kOverhead);
  kp->seal(wire::MessageType::kControl, *counter, frame, out.data());
  s.inject_to_hub(out, s.client_addr());
  EXPECT_EQ(s.hub->session(*s.hub->find_client(s.client_key))->path_mtu(), limits::kPmtuBase4);
}

}  // namespace
}  // namespace tund
