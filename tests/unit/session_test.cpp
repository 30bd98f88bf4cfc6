// Client and hub cores against each other on a fake clock: handshake, data,
// staging, rekey on time and count, expiry, the previous key's grace period,
// and every way the hub refuses bad input without answering it.
#include <gtest/gtest.h>

#include "support/sim.hpp"

namespace tund {
namespace {

using namespace std::chrono_literals;
using session::ReceiveResult;
using session::SealResult;
using test::kClientVip;
using test::kServer;
using test::make_inner;
using test::Sim;

void connect(Sim& s) { ASSERT_TRUE(s.connect()); }

TEST(Session, HandshakeAssignsVipAndCarriesDataBothWays) {
  Sim s(1);
  connect(s);
  EXPECT_EQ(s.cs().vip().vip, kClientVip);
  EXPECT_EQ(s.cs().vip().prefix_len, 24);
  EXPECT_EQ(s.cs().vip().gateway, test::kHubVip);
  ASSERT_EQ(s.hub->session_count(), 1u);
  EXPECT_EQ(s.hub->session(0)->endpoint(), s.client_addr());

  const auto up = make_inner(kClientVip, kServer, 1);
  EXPECT_EQ(s.client_send(up).kind, SealResult::Kind::kSend);
  const auto down = make_inner(kServer, kClientVip, 2, 1400);
  EXPECT_EQ(s.hub_send(down).kind, SealResult::Kind::kSend);
  s.run_for(20ms);
  ASSERT_EQ(s.delivered_to_hub.size(), 1u);
  EXPECT_EQ(s.delivered_to_hub[0], up);
  ASSERT_EQ(s.delivered_to_client.size(), 1u);
  EXPECT_EQ(s.delivered_to_client[0], down);
  EXPECT_FALSE(s.nonce_reused);
}

// The transport suite is negotiated: AES-256-GCM when the client offers it,
// the hub allows it and has hardware AES; ChaCha20-Poly1305 otherwise. Data
// flows under either.
TEST(Session, TheTransportSuiteIsNegotiated) {
  for (int variant = 0; variant < 3; ++variant) {
    Sim s(30 + variant, {}, limits::kUnderLoadInitiationsPerSecond, 256u << 20,
          [variant](session::ClientConfig& c, session::HubConfig& h) {
            if (variant == 1) h.allow_aes = false;
            if (variant == 2) c.capabilities = 0;
          });
    connect(s);
    const bool aes = variant == 0 && crypto::aes256gcm_available();
    EXPECT_EQ(s.cs().suite(), aes ? crypto::Suite::kAes256Gcm : crypto::Suite::kChaCha20Poly1305) << variant;
    EXPECT_EQ(s.hub->session(0)->suite(), s.cs().suite());
    const auto up = make_inner(kClientVip, kServer, 1, 1400);
    const auto down = make_inner(kServer, kClientVip, 2, 1400);
    EXPECT_EQ(s.client_send(up).kind, SealResult::Kind::kSend);
    EXPECT_EQ(s.hub_send(down).kind, SealResult::Kind::kSend);
    s.run_for(20ms);
    ASSERT_EQ(s.delivered_to_hub.size(), 1u);
    ASSERT_EQ(s.delivered_to_client.size(), 1u);
    EXPECT_EQ(s.delivered_to_hub[0], up);
    EXPECT_EQ(s.delivered_to_client[0], down);
  }
}

// A message sealed under one suite never opens under the other with the same keys.
TEST(Keypair, SuitesDoNotCrossOpen) {
  crypto::init();  // libsodium detects the CPU's AES support here
  if (!crypto::aes256gcm_available()) GTEST_SKIP() << "libsodium offers no AES-256-GCM here (x86 without AES-NI; arm64 before libsodium 1.0.19)";
  crypto::noise::TransportKeys keys{};
  keys.send.fill(7);
  keys.recv.fill(7);
  crypto::Keypair aes(keys, 1, 1, Time{}, crypto::Suite::kAes256Gcm);
  crypto::Keypair chacha(keys, 1, 1, Time{}, crypto::Suite::kChaCha20Poly1305);
  std::vector<std::uint8_t> msg(100 + wire::transport::kOverhead, 0x55);
  const auto c = aes.reserve_counter();
  aes.seal(wire::MessageType::kData, *c, Bytes(msg.data() + 16, 100), msg.data());
  auto copy = msg;
  EXPECT_FALSE(chacha.decrypt(copy));
  EXPECT_TRUE(aes.decrypt(msg));
}

TEST(Session, PacketsBeforeTheHandshakeAreStagedThenSent) {
  Sim s(2);
  s.cs().start(s.now);
  for (std::uint32_t i = 0; i < 5; ++i)
    EXPECT_EQ(s.client_send(make_inner(kClientVip, kServer, i)).kind, SealResult::Kind::kStaged);
  s.run_for(50ms);
  ASSERT_EQ(s.delivered_to_hub.size(), 5u);
  for (std::uint32_t i = 0; i < 5; ++i) EXPECT_EQ(s.delivered_to_hub[i], make_inner(kClientVip, kServer, i));
}

TEST(Session, StagingIsBounded) {
  Sim s(3);
  s.cs().start(s.now);
  std::size_t staged = 0, dropped = 0;
  for (std::uint32_t i = 0; i < limits::kStagedPackets + 10; ++i) {
    const auto r = s.client_send(make_inner(kClientVip, kServer, i));
    (r.kind == SealResult::Kind::kStaged ? staged : dropped)++;
    if (r.kind == SealResult::Kind::kDrop) {
      EXPECT_EQ(r.reason, DropReason::kStagingFull);
    }
  }
  EXPECT_EQ(staged, limits::kStagedPackets);
  EXPECT_EQ(dropped, 10u);
}

TEST(Session, RekeysOnTimeAndKeepsThePreviousKeyForInFlightPackets) {
  Sim s(4);
  connect(s);
  const auto first_key = s.cs().channel().current()->local_index();

  // A packet sealed under the old key but delivered after the rekey.
  std::vector<std::uint8_t> held(Sim::kBuf);
  const auto late = make_inner(kClientVip, kServer, 777);
  std::copy(late.begin(), late.end(), held.begin() + wire::transport::kDataOffset);
  s.run_for(limits::kRekeyAfterTime - 1s, 100ms);
  const auto r = s.cs().seal(held, late.size(), s.now);
  ASSERT_EQ(r.kind, SealResult::Kind::kSend);
  held.resize(r.len);

  s.run_for(2s + limits::kRekeyTimeoutJitterMax, 100ms);
  EXPECT_EQ(s.cs().stats().handshakes, 2u);
  EXPECT_NE(s.cs().channel().current()->local_index(), first_key);
  // The client sends with the new key; the hub promotes it on first use.
  ASSERT_EQ(s.client_send(make_inner(kClientVip, kServer, 1)).kind, SealResult::Kind::kSend);
  s.run_for(10ms);

  const auto before = s.delivered_to_hub.size();
  const auto got = s.inject_to_hub(held, s.client_addr());
  EXPECT_EQ(got.kind, ReceiveResult::Kind::kDeliver) << to_string(got.reason);
  ASSERT_EQ(s.delivered_to_hub.size(), before + 1);
  EXPECT_EQ(s.delivered_to_hub.back(), late);
  EXPECT_FALSE(s.nonce_reused);
}

TEST(Session, RekeysAfterMessageCountAndRefusesAtTheHardLimit) {
  Sim s(5);
  connect(s);
  s.cs().current_keypair_for_test()->skip_send_counter_for_test(limits::kRekeyAfterMessages);
  EXPECT_EQ(s.client_send(make_inner(kClientVip, kServer, 1)).kind, SealResult::Kind::kSend);
  s.run_for(50ms);
  EXPECT_EQ(s.cs().stats().handshakes, 2u) << "the send saw the count and rekeyed";

  s.cs().current_keypair_for_test()->skip_send_counter_for_test(limits::kRejectAfterMessages);
  // At the hard limit nothing is sealed under that key: the packet waits for a new one.
  EXPECT_EQ(s.client_send(make_inner(kClientVip, kServer, 2)).kind, SealResult::Kind::kStaged);
  s.run_for(50ms);
  EXPECT_EQ(s.cs().stats().handshakes, 3u);
  EXPECT_EQ(s.delivered_to_hub.back(), make_inner(kClientVip, kServer, 2));
}

TEST(Session, KeysExpireWhenTheHubIsGoneAndTheClientKeepsTrying) {
  Sim s(6, test::WireNoise{1.0, 0, {}});  // everything is dropped
  s.cs().start(s.now);
  s.run_for(1s, 100ms);
  EXPECT_FALSE(s.cs().established());
  const auto sent = s.sent_to_hub;
  s.run_for(30s, 100ms);
  // One initiation per kRekeyTimeout (+ jitter): about 6 in 30 s.
  EXPECT_GE(s.sent_to_hub - sent, 5u);
  EXPECT_LE(s.sent_to_hub - sent, 7u);
}

TEST(Session, KeysNeverOutliveRejectAfterTime) {
  Sim s(7);
  connect(s);
  for (int i = 0; i < 40; ++i) {
    s.run_for(10s, 500ms);
    s.client_send(make_inner(kClientVip, kServer, i));
    ASSERT_TRUE(s.cs().channel().current());
    EXPECT_LT(s.now - s.cs().channel().current()->created(), limits::kRejectAfterTime);
  }
  EXPECT_GE(s.cs().stats().handshakes, 3u);
}

TEST(HubDefence, GarbageGetsNoReplyAndIsCounted) {
  Sim s(8);
  connect(s);
  std::mt19937_64 rng(99);
  const auto from = Endpoint::v4(0x0a010063, 5555);
  for (std::size_t n : {std::size_t{0}, std::size_t{1}, std::size_t{3}, std::size_t{4}, std::size_t{31}, std::size_t{32}, std::size_t{64}, std::size_t{107}, wire::response::kSize, wire::initiation::kSize - 1, wire::initiation::kSize, wire::initiation::kSize + 1, std::size_t{1500}}) {
    for (int type = 0; type < 7; ++type) {
      std::vector<std::uint8_t> g(n);
      for (auto& b : g) b = static_cast<std::uint8_t>(rng());
      if (n >= 4) {
        g[0] = static_cast<std::uint8_t>(type);
        g[1] = g[2] = g[3] = 0;
      }
      const auto r = s.inject_to_hub(g, from);
      EXPECT_EQ(r.kind, ReceiveResult::Kind::kDrop) << "size " << n << " type " << type;
    }
  }
  EXPECT_GT(s.hub->drops()[DropReason::kMalformed], 0u);
  EXPECT_GT(s.hub->drops()[DropReason::kBadMac1], 0u);
  EXPECT_GT(s.hub->drops()[DropReason::kUnknownIndex], 0u);
  EXPECT_EQ(s.hub->session(0)->endpoint(), s.client_addr()) << "garbage never moves the path";
}

TEST(HubDefence, UnknownClientGetsNoAnswer) {
  Sim s(9);
  test::SeededRng rng(1);
  session::ClientConfig cc;
  cc.identity = test::keypair_from_seed(42);  // not registered at the hub
  session::Client stranger(cc, rng);
  const auto slot = stranger.add_hub(s.hub_key);
  stranger.session(slot).start(s.now);
  std::vector<std::uint8_t> out(Sim::kBuf);
  const auto t = stranger.session(slot).poll_transmit(out, s.now);
  ASSERT_TRUE(t);
  out.resize(t->len);
  const auto r = s.inject_to_hub(out, Endpoint::v4(0x0a010009, 1));
  EXPECT_EQ(r.kind, ReceiveResult::Kind::kDrop);
  EXPECT_EQ(r.reason, DropReason::kUnknownPeer);
  EXPECT_EQ(s.hub->drops()[DropReason::kUnknownPeer], 1u);
  EXPECT_EQ(s.hub->session_count(), 0u);
}

TEST(HubDefence, ReplayedInitiationAndFloodAreRefused) {
  Sim s(10);
  s.capture = true;
  connect(s);
  ASSERT_FALSE(s.captured_to_hub.empty());
  const auto initiation = s.captured_to_hub.front();
  ASSERT_EQ(wire::classify(initiation), wire::MessageType::kInitiation);
  std::vector<std::uint8_t> reply;
  s.now += 1s;
  const auto r = s.inject_to_hub(initiation, Endpoint::v4(0x0a0100ee, 1), &reply);
  EXPECT_EQ(r.reason, DropReason::kStaleTimestamp);
  EXPECT_TRUE(reply.empty());
  EXPECT_EQ(s.hub->session(0)->endpoint(), s.client_addr()) << "a replay never moves the path";

  // Two fresh initiations 1 ms apart: the second is a flood.
  s.cs().stop();
  s.cs().start(s.now);
  std::vector<std::uint8_t> a(Sim::kBuf), b(Sim::kBuf);
  a.resize(s.cs().poll_transmit(a, s.now)->len);
  s.cs().stop();
  s.cs().start(s.now + 1ms);
  b.resize(s.cs().poll_transmit(b, s.now + 1ms)->len);
  EXPECT_EQ(s.inject_to_hub(a, s.client_addr()).kind, ReceiveResult::Kind::kReply);
  s.now += 1ms;
  EXPECT_EQ(s.inject_to_hub(b, s.client_addr()).reason, DropReason::kInitiationFlood);
}

TEST(HubDefence, LowOrderEphemeralCostsNoReply) {
  Sim s(11);
  s.cs().start(s.now);
  std::vector<std::uint8_t> m(Sim::kBuf);
  m.resize(s.cs().poll_transmit(m, s.now)->len);
  std::fill(m.begin() + wire::initiation::kNoise, m.begin() + wire::initiation::kNoise + 32, 0);
  crypto::CookieMaker(s.hub_key).stamp(m, wire::initiation::kMac1, s.now);
  std::vector<std::uint8_t> reply;
  EXPECT_EQ(s.inject_to_hub(m, s.client_addr(), &reply).reason, DropReason::kLowOrderKey);
  EXPECT_TRUE(reply.empty());
}

TEST(HubDefence, UnderLoadAnswersWithACookieThenAcceptsMac2) {
  Sim s(12, {}, /*under_load_threshold=*/0);
  s.cs().start(s.now);
  std::vector<std::uint8_t> m(Sim::kBuf);
  m.resize(s.cs().poll_transmit(m, s.now)->len);
  std::vector<std::uint8_t> reply;
  const auto r = s.inject_to_hub(m, s.client_addr(), &reply);
  ASSERT_EQ(r.kind, ReceiveResult::Kind::kReply);
  EXPECT_EQ(reply.size(), wire::cookie_reply::kSize);
  EXPECT_LT(reply.size(), m.size());
  EXPECT_EQ(s.hub->session_count(), 0u) << "no state for a handshake without mac2";
  // The client takes the cookie and its next initiation carries mac2.
  EXPECT_EQ(s.client->receive(reply, 0, s.now).kind, ReceiveResult::Kind::kNone);
  // The retry comes after kRekeyTimeout and its jitter; its answer a step later.
  s.run_for(limits::kRekeyTimeout + limits::kRekeyTimeoutJitterMax + 300ms, 10ms);
  EXPECT_TRUE(s.cs().established());
  EXPECT_TRUE(s.hub->under_load(s.now));
}

TEST(HubDefence, DataReplayTamperSpoofAndStaleEndpoint) {
  Sim s(13);
  s.capture = true;
  connect(s);
  s.captured_to_hub.clear();
  ASSERT_EQ(s.client_send(make_inner(kClientVip, kServer, 1)).kind, SealResult::Kind::kSend);
  s.run_for(10ms);
  ASSERT_EQ(s.captured_to_hub.size(), 1u);
  const auto data = s.captured_to_hub[0];

  EXPECT_EQ(s.inject_to_hub(data, s.client_addr()).reason, DropReason::kReplay);
  auto flipped = data;
  flipped[40] ^= 1;
  // Counter is new (we bump it) so only the tag can catch the flip.
  store_le64(flipped.data() + 8, 1000);
  EXPECT_EQ(s.inject_to_hub(flipped, s.client_addr()).reason, DropReason::kAuthFailed);

  // A replayed packet from a new address does not move the return path.
  const auto attacker = Endpoint::v4(0x0a0100ee, 6666);
  s.inject_to_hub(data, attacker);
  EXPECT_EQ(s.hub->session(0)->endpoint(), s.client_addr());

  // The inner source must be the session's VIP.
  ASSERT_EQ(s.client_send(make_inner(0x0a4d0009, kServer, 2)).kind, SealResult::Kind::kSend);
  s.run_for(10ms);
  EXPECT_EQ(s.hub->drops()[DropReason::kInnerSourceMismatch], 1u);
  EXPECT_EQ(s.delivered_to_hub.size(), 1u);

  // A fresh authenticated packet from a new address moves it (the client roamed).
  s.paths[1] = Endpoint::v4(0x0a020002, 40001);
  ASSERT_EQ(s.client_send(make_inner(kClientVip, kServer, 3)).kind, SealResult::Kind::kSend);
  s.run_for(10ms);
  EXPECT_EQ(s.hub->session(0)->endpoint(), s.client_addr());
}

// A batch decrypted ahead: a duplicate inside the batch is delivered once, a
// tampered datagram is refused, and a verdict is only used for the datagram
// and keypair it was made for.
TEST(HubDefence, DecryptedAheadStillChecksReplayAndTampering) {
  Sim s(21);
  connect(s);
  for (std::uint32_t i = 0; i < 3; ++i) s.client_send(make_inner(kClientVip, kServer, i));
  // Take the three datagrams off the wire before the hub sees them.
  auto batch = s.take_in_flight(Sim::Dir::kToHub);
  ASSERT_EQ(batch.size(), 3u);
  batch.push_back(batch[1]);        // a duplicate in the same batch
  batch[2][40] ^= 1;                // tampered
  std::vector<crypto::OpenJob> jobs;
  for (auto& d : batch) jobs.push_back(crypto::OpenJob{s.hub->keypair_for(d, s.now), d.data(), d.size(), false});
  for (auto& j : jobs) {
    ASSERT_NE(j.keypair, nullptr);
    j.run();
  }
  EXPECT_TRUE(jobs[0].ok);
  EXPECT_FALSE(jobs[2].ok);
  std::vector<std::uint8_t> reply(2048);
  std::vector<ReceiveResult::Kind> kinds;
  for (std::size_t i = 0; i < batch.size(); ++i)
    kinds.push_back(s.hub->receive(batch[i], s.client_addr(), s.now, reply, &jobs[i]).kind);
  EXPECT_EQ(kinds[0], ReceiveResult::Kind::kDeliver);
  EXPECT_EQ(kinds[1], ReceiveResult::Kind::kDeliver);
  EXPECT_EQ(kinds[2], ReceiveResult::Kind::kDrop);
  EXPECT_EQ(kinds[3], ReceiveResult::Kind::kDrop);
  EXPECT_EQ(s.hub->drops()[DropReason::kAuthFailed], 1u);
  EXPECT_EQ(s.hub->drops()[DropReason::kReplay], 1u);
  // A "good" verdict made for another datagram is not taken for this one.
  auto forged = batch[2];
  crypto::OpenJob other = jobs[0];
  other.ok = true;
  EXPECT_EQ(s.hub->receive(forged, s.client_addr(), s.now, reply, &other).kind, ReceiveResult::Kind::kDrop);
  EXPECT_EQ(s.hub->drops()[DropReason::kAuthFailed], 2u);
}

TEST(Paths, ProbesMeasureRttAndLossOnEveryPath) {
  Sim s(14);
  s.paths[2] = Endpoint::v4(0x0a020002, 40002);
  s.cs().add_path(2, s.now);
  connect(s);
  s.run_for(5s, 1ms);
  for (session::PathId p : {1u, 2u}) {
    const auto* st = s.cs().path_stats(p);
    ASSERT_TRUE(st && st->rtt) << "path " << p;
    EXPECT_GT(*st->rtt, 0ms);
    EXPECT_LT(*st->rtt, 30ms);  // first samples were taken at 10 ms steps
    EXPECT_EQ(st->loss, 0.0);
  }
  EXPECT_GE(s.cs().path_stats(1)->probes_sent, 4u) << "active path: one probe a second";
  EXPECT_GE(s.cs().path_stats(2)->probes_sent, 2u) << "standby path: one every two seconds";
  EXPECT_EQ(s.hub->session(0)->endpoint(), s.path_addr(1)) << "standby probes never move the hub";
  EXPECT_EQ(s.hub->session(0)->path_changes(), 0u);

  s.dead.insert(2);
  s.run_for(12s, 10ms);
  ASSERT_TRUE(s.cs().path_stats(2)->loss);
  EXPECT_GE(*s.cs().path_stats(2)->loss, 0.5) << "a dead path shows its loss";
  EXPECT_EQ(*s.cs().path_stats(1)->loss, 0.0);
}

TEST(Paths, SwitchingMovesTheHubWhichValidatesTheNewPath) {
  Sim s(15);
  s.paths[2] = Endpoint::v4(0x0a020002, 40002);
  s.cs().add_path(2, s.now);
  connect(s);
  s.cs().set_active_path(2, s.now);
  s.run_for(20ms, 1ms);  // keepalive on path 2 -> hub moves, challenges, client answers
  EXPECT_EQ(s.hub->session(0)->endpoint(), s.path_addr(2));
  EXPECT_TRUE(s.hub->session(0)->path_validated());
  EXPECT_EQ(s.hub->session(0)->path_changes(), 1u);
  // Data both ways now flows on path 2.
  const auto before = s.delivered_per_path[2];
  ASSERT_EQ(s.hub_send(make_inner(kServer, kClientVip, 1)).kind, SealResult::Kind::kSend);
  s.run_for(10ms, 1ms);
  EXPECT_EQ(s.delivered_per_path[2], before + 1);
  EXPECT_EQ(s.delivered_to_client.back(), make_inner(kServer, kClientVip, 1));
}

TEST(Paths, UnvalidatedPathGetsABudgetThenTheHubFallsBack) {
  Sim s(16);
  connect(s);
  // Someone sends a fresh authenticated packet from an address that cannot
  // answer (a copied-and-raced packet): the hub moves, challenges, gets no
  // answer, sends little there, and returns to the validated path.
  std::vector<std::uint8_t> buf(Sim::kBuf);
  const auto inner = make_inner(kClientVip, kServer, 9);
  std::copy(inner.begin(), inner.end(), buf.begin() + wire::transport::kDataOffset);
  const auto r = s.cs().seal(buf, inner.size(), s.now);
  buf.resize(r.len);
  const auto attacker = Endpoint::v4(0x0a0900ee, 9999);
  EXPECT_EQ(s.inject_to_hub(buf, attacker).kind, session::ReceiveResult::Kind::kDeliver);
  EXPECT_EQ(s.hub->session(0)->endpoint(), attacker);
  EXPECT_FALSE(s.hub->session(0)->path_validated());

  std::size_t sent_to_attacker = 0, staged = 0;
  for (std::uint32_t i = 0; i < 20; ++i) {
    const auto x = s.hub_send(make_inner(kServer, kClientVip, 100 + i, 1000));
    if (x.kind == SealResult::Kind::kSend && x.to == attacker) sent_to_attacker += x.len;
    if (x.kind == SealResult::Kind::kStaged) ++staged;
  }
  EXPECT_LE(sent_to_attacker, limits::kUnvalidatedAmplification * buf.size());
  EXPECT_GT(staged, 0u);
  s.run_for(limits::kPathValidationTimeout + 100ms, 10ms);
  EXPECT_EQ(s.hub->session(0)->endpoint(), s.client_addr());
  EXPECT_TRUE(s.hub->session(0)->path_validated());
  // The staged packets went to the real client after the fallback.
  EXPECT_GE(s.delivered_to_client.size(), staged);
}

TEST(Session, IdleHubSessionIsForgottenButTheVipStays) {
  Sim s(15);
  connect(s);
  s.cs().stop();
  s.run_for(limits::kRejectAfterTime + limits::kSessionIdleExpiry + 5s, 1s);
  EXPECT_EQ(s.hub->session_count(), 0u);
  EXPECT_EQ(s.hub->client_vip(0).vip, kClientVip);
  s.cs().start(s.now);
  s.run_for(50ms);
  EXPECT_TRUE(s.cs().established());
  EXPECT_EQ(s.cs().vip().vip, kClientVip);
}

// A cluster member cut off from etcd ends a session only when its data goes
// unanswered (hub/hub_cluster.cpp): quiet alone says nothing, a live client
// acknowledges data, a gone one does not.
TEST(Session, DataUnansweredSaysTheClientIsGoneQuietDoesNot) {
  Sim s(16);
  connect(s);
  s.run_for(30s, 1s);  // idle: nothing sent, nothing unanswered
  EXPECT_EQ(s.hub->session(0)->unanswered_since(), kNever);
  EXPECT_EQ(s.hub_send(make_inner(kServer, kClientVip, 1)).kind, SealResult::Kind::kSend);
  EXPECT_NE(s.hub->session(0)->unanswered_since(), kNever);
  s.run_for(200ms);  // the client acknowledged it
  EXPECT_EQ(s.hub->session(0)->unanswered_since(), kNever);
  s.cs().stop();
  const Time sent = s.now;
  EXPECT_EQ(s.hub_send(make_inner(kServer, kClientVip, 2)).kind, SealResult::Kind::kSend);
  s.run_for(3s, 100ms);
  EXPECT_EQ(s.hub->session(0)->unanswered_since(), sent);
}

}  // namespace
}  // namespace tund
