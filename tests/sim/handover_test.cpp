// Handover in the simulation: traffic both ways, then the active path dies
// silently (or the client switches by plan). The client must notice within
// its liveness timeout, switch, run the switching exchange, and between the
// two sides every inner packet must arrive exactly once, intact.
#include <gtest/gtest.h>

#include <map>

#include "support/sim.hpp"

namespace tund {
namespace {

using namespace std::chrono_literals;
using session::SealResult;
using test::kClientVip;
using test::kServer;
using test::make_inner;
using test::Sim;
using test::two_path_sim;

struct Flow {
  std::uint32_t up = 0, down = 0;
};

// Sends one packet each way every `gap`, for `d`, doing what the daemon's
// policy would: leave a path the session declared dead.
void run_traffic(Sim& s, Flow& f, Duration d, Duration gap = 1ms) {
  const Time end = s.now + d;
  while (s.now < end) {
    s.now += gap;
    s.client_send(make_inner(kClientVip, kServer, f.up++, 300));
    s.hub_send(make_inner(kServer, kClientVip, f.down++, 1200));
    s.pump();
    const auto* st = s.cs().path_stats(s.cs().active_path());
    if (st && st->dead) s.cs().set_active_path(s.cs().active_path() == 1 ? 2 : 1, s.now);
  }
}

void expect_exactly_once(const std::vector<std::vector<std::uint8_t>>& got, std::uint32_t src, std::uint32_t dst,
                         std::uint32_t sent, std::size_t size) {
  std::map<std::uint32_t, int> seen;
  for (const auto& p : got) {
    const std::uint32_t seq = load_be32(p.data() + 28);
    EXPECT_EQ(p, make_inner(src, dst, seq, size));
    EXPECT_EQ(++seen[seq], 1) << "packet " << seq << " delivered twice";
  }
  std::string missing;
  for (std::uint32_t i = 0; i < sent; ++i)
    if (!seen.count(i)) missing += " " + std::to_string(i);
  EXPECT_EQ(seen.size(), sent) << "every packet arrived; missing:" << missing;
}


// The hub restarts (all its sessions gone): the client notices the silence on
// every path and handshakes again by itself, within kHubSilence + kSilentRetry
// (+ jitter) of the hub being back, keeping its VIP; then data flows again.
TEST(Handover, ClientReHandshakesSoonAfterAHubRestart) {
  for (const Duration downtime : {Duration(300ms), Duration(4s), Duration(11s)}) {
    Sim s(40);
    s.cs().start(s.now);
    s.run_for(2s, 1ms);
    ASSERT_TRUE(s.cs().established());
    for (std::uint32_t i = 0; i < 50; ++i) s.hub_send(make_inner(kServer, kClientVip, i));  // a sequence to forget
    s.run_for(20ms, 1ms);
    const auto handshakes = s.cs().stats().handshakes;
    s.hub_down = true;
    s.run_for(downtime, 1ms);
    s.restart_hub();
    s.hub_down = false;
    const Time back = s.now;
    while (s.hub->session_count() == 0 && s.now - back < 10s) s.run_for(10ms, 1ms);
    ASSERT_EQ(s.hub->session_count(), 1u) << "downtime " << downtime.count();
    const auto took = s.now - back;
    EXPECT_LE(took, limits::kHubSilence + limits::kSilentRetry + limits::kRekeyTimeoutJitterMax)
        << "downtime " << std::chrono::duration_cast<std::chrono::milliseconds>(downtime).count() << " ms";
    s.run_for(100ms, 1ms);
    EXPECT_GT(s.cs().stats().handshakes, handshakes);
    EXPECT_EQ(s.cs().vip().vip, kClientVip);
    const auto before = s.delivered_to_hub.size();
    EXPECT_EQ(s.client_send(make_inner(kClientVip, kServer, 1)).kind, SealResult::Kind::kSend);
    s.run_for(20ms, 1ms);
    EXPECT_EQ(s.delivered_to_hub.size(), before + 1) << "data flows after the re-handshake";
    // The new hub numbers its data from the start again: the client takes it.
    const auto down_before = s.delivered_to_client.size();
    EXPECT_EQ(s.hub_send(make_inner(kServer, kClientVip, 7)).kind, SealResult::Kind::kSend);
    s.run_for(20ms, 1ms);
    EXPECT_EQ(s.delivered_to_client.size(), down_before + 1) << "the hub's restarted data sequence is accepted";
  }
}

TEST(Handover, SilentPathDeathLosesNothing) {
  Sim s = two_path_sim(21);
  Flow f;
  run_traffic(s, f, 200ms);
  s.dead.insert(1);  // wlan0 walks out of range: no error, no event
  const Time died = s.now;
  run_traffic(s, f, 1s);
  s.run_for(200ms, 1ms);

  EXPECT_EQ(s.cs().active_path(), 2u);
  EXPECT_EQ(s.hub->session(0)->endpoint(), s.path_addr(2));
  EXPECT_EQ(s.cs().handover_stats().switches, 1u);
  EXPECT_GT(s.cs().handover_stats().resent_packets + s.hub->session(0)->resend_buffer().resent(), 0u);
  expect_exactly_once(s.delivered_to_hub, kClientVip, kServer, f.up, 300);
  expect_exactly_once(s.delivered_to_client, kServer, kClientVip, f.down, 1200);
  EXPECT_FALSE(s.nonce_reused) << "resends are re-encrypted under fresh nonces";
  EXPECT_LE(s.cs().dead_timeout(), limits::kDeadCeiling);
  (void)died;
}

// The client leaves for the standby the hub validated already (the client
// probes it every few seconds; it is sent copies): the hub sends what it
// owes there at once, not after a challenge's round trip of the new path
// (RFC 9000 9.3). On a radio standby that round trip was most of the
// downstream stall of a handover (bench/handover, LTE).
TEST(Handover, AMoveToTheValidatedStandbyIsNotChallengedAgain) {
  Sim s = two_path_sim(27);
  s.path_delay[2] = 30ms;
  s.run_for(5s, 1ms);  // the standby probed again at its new round trip
  Flow f;
  run_traffic(s, f, 200ms);
  s.dead.insert(1);
  Time moved = kNever;
  bool validated_at_move = false;
  std::size_t delivered = 0;
  for (int i = 0; i < 2000 && moved == kNever; ++i) {
    run_traffic(s, f, 1ms);
    if (s.hub->session(0)->endpoint() == s.path_addr(2)) {
      moved = s.now;
      validated_at_move = s.hub->session(0)->path_validated();
      delivered = s.delivered_to_client.size();
    }
  }
  ASSERT_NE(moved, kNever) << "the client left the dead path";
  EXPECT_TRUE(validated_at_move);
  // One way on the standby is 31 ms; a challenge first would take 62 more.
  run_traffic(s, f, 45ms);
  EXPECT_GT(s.delivered_to_client.size(), delivered) << "the hub's resends arrive a one-way trip after the move";
  run_traffic(s, f, 500ms);
  s.run_for(300ms, 1ms);
  expect_exactly_once(s.delivered_to_hub, kClientVip, kServer, f.up, 300);
  expect_exactly_once(s.delivered_to_client, kServer, kClientVip, f.down, 1200);
}

// Make before break: the old path still carries, so neither side holds new
// data for the switching exchange, nor resends anything. Onto the standby
// the hub validated already its data moves at once; onto an address it has
// not validated (the standby's NAT rebound), its data goes on the old path
// until the new one answers a challenge.
TEST(Handover, PlannedSwitchHoldsNothingAndResendsNothing) {
  for (const bool rebound : {false, true}) {
    SCOPED_TRACE(rebound ? "onto a new address" : "onto the validated standby");
    Sim s = two_path_sim(22);
    Flow f;
    run_traffic(s, f, 200ms);
    const auto old_before = s.delivered_per_path[1];
    if (rebound) s.paths[2] = Endpoint::v4(0x0a020002, 41002);
    s.cs().set_active_path(2, s.now);  // tund switch lte0
    std::size_t waited = 0, old_at_move = 0;
    bool validated_at_move = false;
    for (int i = 0; i < 300; ++i) {
      s.now += 1ms;
      waited += s.client_send(make_inner(kClientVip, kServer, f.up++, 300)).kind != SealResult::Kind::kSend;
      waited += s.hub_send(make_inner(kServer, kClientVip, f.down++, 1200)).kind != SealResult::Kind::kSend;
      s.pump();
      if (!old_at_move && s.hub->session(0)->endpoint() == s.path_addr(2)) {
        old_at_move = s.delivered_per_path[1];
        validated_at_move = s.hub->session(0)->path_validated();
      }
    }
    s.run_for(100ms, 1ms);
    EXPECT_EQ(waited, 0u) << "no packet waited for the exchange or the validation";
    EXPECT_EQ(s.hub->session(0)->endpoint(), s.path_addr(2));
    EXPECT_TRUE(s.hub->session(0)->path_validated());
    EXPECT_EQ(validated_at_move, !rebound);
    EXPECT_GT(s.delivered_per_path[1], old_before);
    if (rebound) {  // data sent after the move, on the old path
      EXPECT_GT(s.delivered_per_path[1], old_at_move + 1) << "the hub's data went on the old path while it validated";
    }
    EXPECT_EQ(s.cs().handover_stats().switches, 1u);
    EXPECT_LT(s.cs().handover_stats().last_duration, 10ms);
    EXPECT_EQ(s.cs().handover_stats().resent_packets, 0u);
    EXPECT_EQ(s.hub->session(0)->resend_buffer().resent(), 0u);
    expect_exactly_once(s.delivered_to_hub, kClientVip, kServer, f.up, 300);
    expect_exactly_once(s.delivered_to_client, kServer, kClientVip, f.down, 1200);
  }
}

TEST(Handover, DeadPathIsNoticedWithinTheLivenessTimeoutWithoutTraffic) {
  Sim s = two_path_sim(23);
  s.dead.insert(1);
  const Time died = s.now;
  // No traffic yet (not idle: that is tests/sim/idle_test.cpp): the
  // active-path probe, every second, is the keepalive.
  while (!s.cs().path_stats(1)->dead && s.now - died < 5s) s.run_for(1ms, 1ms);
  EXPECT_TRUE(s.cs().path_stats(1)->dead);
  EXPECT_LE(s.now - died, limits::kProbeIntervalActive + s.cs().dead_timeout() + 5ms);
  EXPECT_EQ(s.cs().handover_stats().suspicions, 0u) << "no data outstanding: no copies, the dead verdict decides";
  EXPECT_EQ(s.cs().handover_stats().copies, 0u);
}

TEST(Handover, AckForDataNeverSentIsRefused) {
  Sim s = two_path_sim(24);
  // A client (authenticated, but lying) acknowledges data the hub never
  // sent: the hub must refuse it, and keep what it holds for resending.
  s.cs().start(s.now);
  s.run_for(50ms, 1ms);
  ASSERT_TRUE(s.cs().established());
  for (std::uint32_t i = 0; i < 5; ++i) s.hub_send(make_inner(kServer, kClientVip, i));
  s.take_in_flight(Sim::Dir::kToClient);  // lost: the hub holds 5 unacknowledged
  ASSERT_EQ(s.hub->session(0)->resend_buffer().packets(), 5u);
  const auto before = s.hub->drops()[DropReason::kBadAck];
  std::uint8_t frame[wire::control::kMaxSize];
  session::ControlFrame ack;
  ack.kind = wire::ControlKind::kAck;
  ack.ack.highest = 1000;  // the hub sent 5
  std::fill(ack.ack.bitmap.begin(), ack.ack.bitmap.end(), 0xFF);
  const std::size_t n = session::encode_control(ack, frame);
  std::vector<std::uint8_t> msg(n + wire::transport::kOverhead);
  auto* kp = s.cs().current_keypair_for_test();
  kp->seal(wire::MessageType::kControl, *kp->reserve_counter(), Bytes(frame, n), msg.data());
  EXPECT_EQ(s.inject_to_hub(msg, s.client_addr()).kind, session::ReceiveResult::Kind::kDrop);
  EXPECT_EQ(s.hub->drops()[DropReason::kBadAck], before + 1);
  EXPECT_EQ(s.hub->session(0)->resend_buffer().packets(), 5u) << "a refused ack drops nothing";
}

TEST(Handover, HubWideResendCapHoldsWhenAClientStopsAcking) {
  Sim s(25, {}, limits::kUnderLoadInitiationsPerSecond, /*hub_resend_total_bytes=*/100000);
  s.cs().start(s.now);
  s.run_for(50ms, 1ms);
  ASSERT_TRUE(s.cs().established());
  s.dead.insert(1);  // nothing reaches the client, nothing is acknowledged
  for (std::uint32_t i = 0; i < 2000; ++i) {
    s.hub_send(make_inner(kServer, kClientVip, i, 1200));
    EXPECT_LE(s.hub->resend_bytes(), 100000u);
    if (i % 50 == 0) s.run_for(1ms, 1ms);
  }
  EXPECT_GT(s.hub->resend_bytes(), 50000u) << "the cap is used, not ignored";
}

TEST(Handover, ResendBufferStaysWithinItsCaps) {
  session::ResendBuffer buf({/*bytes*/ 10000, /*packets*/ 50, /*age*/ 100ms});
  std::vector<std::uint8_t> pkt(700, 1);
  Time now{};
  for (std::uint64_t seq = 1; seq < 1000; ++seq) {
    buf.remember(seq, pkt, now);
    EXPECT_LE(buf.bytes(), 10000u);
    EXPECT_LE(buf.packets(), 50u);
  }
  now += 200ms;
  buf.expire(now);
  EXPECT_EQ(buf.packets(), 0u) << "older than the age bound: gone, inner TCP takes over";
  // Resends come oldest first, each once.
  for (std::uint64_t seq = 1; seq <= 5; ++seq) buf.remember(seq, pkt, now);
  session::Ack ack;
  ack.highest = 4;                         // has 4, and (bit 1 = seq 2) 2
  ack.bitmap[0] = 0b10;
  ASSERT_TRUE(buf.on_ack(ack, 6));
  EXPECT_EQ(buf.schedule_resend(6, now), 3u);  // 1, 3, 5
  std::vector<std::uint8_t> out(2000);
  std::uint64_t seq = 0;
  std::vector<std::uint64_t> order;
  while (buf.next_resend(out, seq)) order.push_back(seq);
  EXPECT_EQ(order, (std::vector<std::uint64_t>{1, 3, 5}));
}

}  // namespace
}  // namespace tund
