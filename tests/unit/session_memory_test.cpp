// Memory per session is bounded and counted (issue 28): a session whose
// traffic ended gives its resend buffers back, and what all sessions' resend
// buffers and staged packets hold stays within the hub-wide caps, counted to
// the byte.
#include <gtest/gtest.h>

#include "support/sim.hpp"

namespace tund {
namespace {

using namespace std::chrono_literals;
using session::ResendBuffer;
using session::SealResult;
using test::kClientVip;
using test::kServer;
using test::make_inner;
using test::Sim;

// Several clients of one hub on the fake clock, over a wire that delivers at
// once and loses nothing (unless the clients are not to hear the hub at all).
class Fleet {
 public:
  Fleet(std::size_t n, std::size_t resend_total, std::size_t staged_total) : rng_(n) {
    crypto::init();
    session::HubConfig hc;
    hc.identity = test::keypair_from_seed(2);
    hc.resend_total_bytes = resend_total;
    hc.staged_total_bytes = staged_total;
    hub = std::make_unique<session::Hub>(hc, rng_);
    for (std::size_t i = 0; i < n; ++i) {
      session::ClientConfig cc;
      cc.identity = test::keypair_from_seed(static_cast<std::uint8_t>(10 + i));
      cc.wall_offset = 1'700'000'000ull * 1'000'000'000ull;
      hub->add_client(cc.identity.pub, crypto::VipAssignment{vip(i), 24, 0, test::kHubVip});
      clients.push_back(std::make_unique<session::Client>(cc, rng_));
      auto& c = *clients.back();
      c.set_routes(c.add_hub(hc.identity.pub), {session::IpPrefix::v4(kServer & 0xFFFFFF00u, 24)});
      c.session(0).add_path(1, now);
      c.session(0).set_active_path(1, now);
    }
  }

  Time now = Time{} + std::chrono::hours(1);
  std::unique_ptr<session::Hub> hub;
  std::vector<std::unique_ptr<session::Client>> clients;
  bool clients_hear_hub = true;
  std::size_t delivered = 0;  // inner packets the clients received

  static std::uint32_t vip(std::size_t i) { return kClientVip + static_cast<std::uint32_t>(i); }

  void start_all() {
    for (auto& c : clients) c->session(0).start(now);
    run_for(20ms, 1ms);
  }
  // A server's packet of `size` bytes toward client i, through the hub.
  SealResult send_to(std::size_t i, std::uint32_t seq, std::size_t size) {
    const auto inner = make_inner(kServer, vip(i), seq, size);
    std::vector<std::uint8_t> buf(Sim::kBuf);
    std::copy(inner.begin(), inner.end(), buf.begin() + wire::transport::kDataOffset);
    const auto r = hub->seal_to_vip(vip(i), buf, inner.size(), now);
    if (r.kind == SealResult::Kind::kSend) to_client(r.to, Bytes(buf.data(), r.len));
    return r;
  }
  void run_for(Duration d, Duration step) {
    for (const Time end = now + d; now < end;) {
      now += step;
      pump();
    }
  }
  // What the hub's sessions hold, one by one, added up.
  std::size_t resend_memory_of_sessions() const {
    std::size_t sum = 0;
    for (std::size_t i = 0; i < clients.size(); ++i)
      if (const auto* s = hub->session(static_cast<session::ClientId>(i))) sum += s->resend_buffer().memory();
    return sum;
  }

 private:
  static Endpoint addr(std::size_t i) { return Endpoint::v4(0x0a010002, static_cast<std::uint16_t>(40000 + i)); }
  void pump() {
    std::vector<std::uint8_t> out(Sim::kBuf);
    for (bool progress = true; progress;) {
      progress = false;
      if (hub->next_deadline() <= now) hub->on_timer(now);
      for (std::size_t i = 0; i < clients.size(); ++i) {
        if (clients[i]->next_deadline() <= now) clients[i]->on_timer(now);
        while (auto t = clients[i]->session(0).poll_transmit(out, now)) {
          std::vector<std::uint8_t> d(out.begin(), out.begin() + static_cast<long>(t->len)), reply(Sim::kBuf);
          const auto r = hub->receive(d, addr(i), now, reply);
          if (r.kind == session::ReceiveResult::Kind::kReply) to_client(addr(i), Bytes(reply.data(), r.len));
          progress = true;
        }
      }
      while (auto t = hub->poll_transmit(out, now)) {
        to_client(t->to, Bytes(out.data(), t->len));
        progress = true;
      }
    }
  }
  void to_client(const Endpoint& to, Bytes datagram) {
    if (!clients_hear_hub) return;
    std::vector<std::uint8_t> d(datagram.begin(), datagram.end());
    if (clients[to.port - 40000]->receive(d, 1, now).kind == session::ReceiveResult::Kind::kDeliver) ++delivered;
  }

  test::SeededRng rng_;
};

TEST(SessionMemory, ASessionWhoseTrafficEndedGivesItsBuffersBack) {
  Sim s(61);
  ASSERT_TRUE(s.connect());
  // A burst each way, acknowledged as it arrives: both resend buffers pool it.
  for (std::uint32_t i = 0; i < 300; ++i) {
    s.hub_send(make_inner(kServer, kClientVip, i, 1400));
    s.client_send(make_inner(kClientVip, kServer, i, 1400));
  }
  s.run_for(50ms, 1ms);
  ASSERT_EQ(s.delivered_to_client.size(), 300u);
  ASSERT_EQ(s.delivered_to_hub.size(), 300u);
  const ResendBuffer& hub_buf = s.hub->session(0)->resend_buffer();
  const ResendBuffer& client_buf = s.cs().resend_buffer();
  EXPECT_EQ(hub_buf.packets(), 0u) << "all acknowledged";
  EXPECT_GE(hub_buf.memory(), limits::kResendPoolMax * 1400) << "the burst's buffers, pooled";
  EXPECT_GE(client_buf.memory(), limits::kResendPoolMax * 1400);
  EXPECT_EQ(s.hub->resend_bytes(), hub_buf.memory()) << "the hub counts its sessions' pools";

  // Its traffic ended: after kResendIdleAfter (and the hub's next pass) both
  // sides keep only their ring's floor, and the hub's count follows.
  s.run_for(limits::kResendIdleAfter + 2 * limits::kHubHousekeeping, 100ms);
  EXPECT_EQ(hub_buf.memory(), ResendBuffer::idle_memory());
  EXPECT_EQ(client_buf.memory(), ResendBuffer::idle_memory());
  EXPECT_EQ(s.hub->resend_bytes(), ResendBuffer::idle_memory());
  EXPECT_EQ(s.hub->session(0)->buffered_bytes(), ResendBuffer::idle_memory());
  EXPECT_LE(ResendBuffer::idle_memory(), 1024u);

  // A new burst is kept as before.
  for (std::uint32_t i = 0; i < 10; ++i) s.hub_send(make_inner(kServer, kClientVip, 1000 + i, 1400));
  EXPECT_EQ(hub_buf.packets(), 10u);
  EXPECT_EQ(s.hub->resend_bytes(), hub_buf.memory());
}

TEST(SessionMemory, ManySessionsPoolsStayWithinTheHubWideCap) {
  constexpr std::size_t kSessions = 8, kCap = 200'000;
  Fleet f(kSessions, kCap, limits::kHubStagedTotalBytes);
  f.start_all();
  ASSERT_EQ(f.hub->session_count(), kSessions);
  // Each session in turn gets a burst that is acknowledged at once: its
  // buffers stay in its pool, and count against the cap like kept packets.
  for (std::size_t i = 0; i < kSessions; ++i) {
    for (std::uint32_t j = 0; j < 100; ++j) f.send_to(i, j, 1200);
    f.run_for(20ms, 1ms);
    ASSERT_EQ(f.delivered, 100 * (i + 1));
    EXPECT_EQ(f.hub->resend_bytes(), f.resend_memory_of_sessions()) << "after session " << i;
    EXPECT_LE(f.resend_memory_of_sessions(), kCap) << "after session " << i;
  }
  EXPECT_GT(f.hub->resend_bytes(), kCap / 2) << "the cap is used, not ignored";
  // The traffic ended: every session keeps its ring's floor at most.
  f.run_for(limits::kResendIdleAfter + 2 * limits::kHubHousekeeping, 100ms);
  for (std::size_t i = 0; i < kSessions; ++i)
    EXPECT_LE(f.hub->session(static_cast<session::ClientId>(i))->resend_buffer().memory(), ResendBuffer::idle_memory());
  EXPECT_EQ(f.hub->resend_bytes(), f.resend_memory_of_sessions());
  // So later sessions can keep packets again.
  for (std::uint32_t j = 0; j < 50; ++j) f.send_to(kSessions - 1, 1000 + j, 1200);
  EXPECT_EQ(f.hub->session(kSessions - 1)->resend_buffer().packets(), 50u);
}

TEST(SessionMemory, StagedPacketsOfAllSessionsStayWithinTheHubWideCap) {
  constexpr std::size_t kSessions = 4, kCap = 100'000;
  Fleet f(kSessions, 256u << 20, kCap);
  // The hub's responses are lost: its sessions hold keys the clients never
  // confirm, so whatever comes for them is staged.
  f.clients_hear_hub = false;
  f.start_all();
  ASSERT_EQ(f.hub->session_count(), 0u);  // all pending: no client confirmed its keys
  std::size_t staged = 0, refused = 0;
  for (std::size_t i = 0; i < kSessions; ++i)
    for (std::uint32_t j = 0; j < 100; ++j) {
      const auto r = f.send_to(i, j, 1000);
      if (r.kind == SealResult::Kind::kStaged) {
        ++staged;
      } else {
        EXPECT_EQ(r.reason, DropReason::kStagingTotalFull);
        ++refused;
      }
      EXPECT_LE(f.hub->staged_bytes(), kCap);
    }
  EXPECT_LE(staged * 1000, kCap);
  EXPECT_GE(staged * 1000, kCap * 9 / 10) << "the cap is used, not ignored";
  EXPECT_EQ(f.hub->drops()[DropReason::kStagingTotalFull], refused);
  // The clients hear the hub again (their initiations are retried): the
  // staged packets go out, and their bytes go back.
  f.clients_hear_hub = true;
  f.run_for(limits::kRekeyTimeout + 1s, 10ms);
  EXPECT_EQ(f.hub->staged_bytes(), 0u);
  EXPECT_EQ(f.delivered, staged);
}

}  // namespace
}  // namespace tund
