// Duplicate on suspicion in the simulation: when the active path goes quiet
// with data outstanding, copies go on the best standby and the first path to
// answer decides, so a silent death costs tens of milliseconds, not the
// liveness timeout; copies are bounded and never move the hub's return path
// (a session without data outstanding waits for the dead verdict: see
// Handover.DeadPathIsNoticedWithinTheLivenessTimeoutWithoutTraffic).
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


// One packet each way every millisecond; the daemon's policy reduced to what
// matters here: leave a path the session declared dead. Returns when the
// hub first delivered a packet the client sent after `since`, if it did.
struct Traffic {
  std::uint32_t up = 0, down = 0;
  std::map<std::uint32_t, Time> sent_at;
};
std::optional<Time> run(Sim& s, Traffic& f, Duration d, Time since = Time::max()) {
  std::optional<Time> first_after;
  const Time end = s.now + d;
  while (s.now < end) {
    s.now += 1ms;
    f.sent_at[f.up] = s.now;
    s.client_send(make_inner(kClientVip, kServer, f.up++, 300));
    s.hub_send(make_inner(kServer, kClientVip, f.down++, 1200));
    const std::size_t before = s.delivered_to_hub.size();
    s.pump();
    for (std::size_t i = before; i < s.delivered_to_hub.size() && !first_after; ++i)
      if (f.sent_at[load_be32(s.delivered_to_hub[i].data() + 28)] > since) first_after = s.now;
    const auto* st = s.cs().path_stats(s.cs().active_path());
    if (st && st->dead) s.cs().set_active_path(s.cs().active_path() == 1 ? 2 : 1, s.now);
  }
  return first_after;
}

void expect_each_once(const std::vector<std::vector<std::uint8_t>>& got, std::uint32_t sent) {
  std::map<std::uint32_t, int> seen;
  for (const auto& p : got) ++seen[load_be32(p.data() + 28)];
  for (std::uint32_t i = 0; i < sent; ++i) EXPECT_EQ(seen[i], 1) << "packet " << i;
}

TEST(Suspicion, ASilentDeathIsLeftWithinTensOfMilliseconds) {
  Sim s = two_path_sim(71);
  Traffic f;
  run(s, f, 200ms);
  s.dead.insert(1);  // a blackhole: the link stays up, nothing passes
  const Time died = s.now;
  const auto through = run(s, f, 1s, died);
  s.run_for(300ms, 1ms);
  ASSERT_TRUE(through);
  std::printf("   silent death: upstream through again after %.1f ms\n",
              std::chrono::duration<double, std::milli>(*through - died).count());
  EXPECT_LE(*through - died, 60ms) << "upstream flows again on the standby";
  EXPECT_EQ(s.cs().active_path(), 2u);
  const auto& h = s.cs().handover_stats();
  EXPECT_EQ(h.suspicions, 1u);
  EXPECT_EQ(h.suspicion_switches, 1u);
  EXPECT_EQ(h.switches, 1u) << "one switch for one event";
  EXPECT_GT(h.copies, 0u);
  EXPECT_LE(h.copied_bytes, limits::kSuspicionMaxBytes + 2048);
  EXPECT_EQ(s.hub->session(0)->endpoint(), s.path_addr(2));
  expect_each_once(s.delivered_to_hub, f.up);
  expect_each_once(s.delivered_to_client, f.down);
  EXPECT_FALSE(s.nonce_reused);
}

TEST(Suspicion, ACopyIsDeliveredOnceAndNeverMovesTheHubsReturnPath) {
  Sim s = two_path_sim(73);
  const Endpoint before = s.hub->session(0)->endpoint();
  // Seal a copy as the client would and hand it to the hub from the standby.
  std::vector<std::uint8_t> buf(Sim::kBuf);
  const auto inner = make_inner(kClientVip, kServer, 9, 300);
  std::copy(inner.begin(), inner.end(), buf.begin() + wire::transport::kDataOffset);
  auto* kp = s.cs().current_keypair_for_test();
  ASSERT_NE(kp, nullptr);
  const auto counter = kp->reserve_counter();
  ASSERT_TRUE(counter);
  store_le64(buf.data() + wire::transport::kHeaderSize, 1'000'000);  // a data sequence of its own
  const std::size_t n = kp->seal(wire::MessageType::kDataCopy, *counter,
                                 Bytes(buf.data() + wire::transport::kHeaderSize, inner.size() + 8), buf.data());
  buf.resize(n);
  const auto r = s.inject_to_hub(buf, s.path_addr(2));
  EXPECT_EQ(r.kind, session::ReceiveResult::Kind::kDeliver);
  EXPECT_EQ(s.hub->session(0)->endpoint(), before) << "a copy never moves the return path";
  EXPECT_EQ(s.inject_to_hub(buf, s.path_addr(2)).reason, DropReason::kReplay);
}

TEST(Suspicion, ASlowActivePathThatAnswersFirstStopsTheCopies) {
  Sim s = two_path_sim(74);
  Traffic f;
  run(s, f, 200ms);
  // The standby is slower than the active path will be late: the active
  // answers first and copying stops without a switch.
  s.dead.insert(2);
  s.dead.insert(1);
  run(s, f, 30ms);  // quiet long enough to be suspected
  s.dead.erase(1);
  run(s, f, 300ms);
  s.run_for(200ms, 1ms);
  const auto& h = s.cs().handover_stats();
  EXPECT_GE(h.suspicions, 1u);
  EXPECT_EQ(h.suspicion_switches, 0u);
  EXPECT_EQ(s.cs().active_path(), 1u);
  EXPECT_EQ(s.cs().copying_to(), 0u) << "copying stopped";
  // What the 30 ms outage swallowed is inner TCP's to resend (no switch, no
  // exchange); nothing arrives twice.
  std::map<std::uint32_t, int> seen;
  for (const auto& p : s.delivered_to_hub) EXPECT_EQ(++seen[load_be32(p.data() + 28)], 1);
}

}  // namespace
}  // namespace tund
