// The queue in tund and the path's pacer (issue 29): session/flow_queue.hpp
// serves a call before a bulk flow's backlog, shares between bulk flows,
// drops or marks a standing queue (CoDel) and stays bounded;
// path_rate_test.cpp has the pacer's.
#include <gtest/gtest.h>

#include <deque>

#include "session/flow_queue.hpp"
#include "session/paced_sender.hpp"
#include "support/inner_packets.hpp"

using namespace tund;
using namespace tund::session;
using namespace tund::test;
using namespace std::chrono_literals;

namespace {

bool checksum_ok(const std::vector<std::uint8_t>& p) {
  std::uint32_t sum = 0;
  for (std::size_t i = 0; i < 20; i += 2) sum += load_be16(p.data() + i);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return sum == 0xffff;
}

std::uint16_t sport_of(const std::uint8_t* p) { return load_be16(p + 20); }

struct Out {
  std::array<std::uint8_t, 2048> buf{};
  std::optional<std::uint16_t> next(FlowQueue& q, Time now) {
    const auto n = q.dequeue(MutableBytes(buf.data(), buf.size()), now);
    if (!n) return std::nullopt;
    return sport_of(buf.data());
  }
};

const Time t0 = Time{} + 1h;

}  // namespace

TEST(FlowQueue, ACallsPacketGoesBeforeABulkBacklog) {
  FlowQueue q(42);
  const auto bulk = packet4(1000, 1400), call = packet4(2000, 200);
  for (int i = 0; i < 200; ++i) ASSERT_TRUE(q.enqueue(Bytes(bulk.data(), bulk.size()), t0));
  Out out;
  // The bulk flow is being served; a call's frame arrives.
  ASSERT_EQ(out.next(q, t0), 1000);
  ASSERT_TRUE(q.enqueue(Bytes(call.data(), call.size()), t0));
  int waited = 0;
  while (out.next(q, t0) != 2000) ASSERT_LT(++waited, 3) << "the call waited behind the backlog";
  EXPECT_EQ(q.packets(), 198u);
}

TEST(FlowQueue, APacketWaitingForAPacerWithoutRoomLetsTheNextFlowGo) {
  // Bonding: flow 1000 waits for pacer (tag) 1, flow 2000 for pacer 2.
  FlowQueue q(42);
  const auto a = packet4(1000, 1400), b = packet4(2000, 1400);
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(q.enqueue(Bytes(a.data(), a.size()), t0, 1));
    ASSERT_TRUE(q.enqueue(Bytes(b.data(), b.size()), t0, 2));
  }
  std::array<std::uint8_t, 2048> buf{};
  const MutableBytes out(buf.data(), buf.size());
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(q.dequeue(out, t0, 1u << 2)) << "only pacer 2 has room";
    EXPECT_EQ(sport_of(buf.data()), 2000);
  }
  EXPECT_FALSE(q.dequeue(out, t0, 1u << 2)) << "what is left waits for pacer 1";
  EXPECT_EQ(q.packets(), 10u);
  ASSERT_TRUE(q.dequeue(out, t0, 1u << 1));
  EXPECT_EQ(sport_of(buf.data()), 1000);
  // Untagged packets go with any.
  const auto c = packet4(3000, 200);
  ASSERT_TRUE(q.enqueue(Bytes(c.data(), c.size()), t0));
  ASSERT_TRUE(q.dequeue(out, t0, 1u << 5));
  EXPECT_EQ(sport_of(buf.data()), 3000);
}

TEST(FlowQueue, ACallWaitingForItsOwnPacerKeepsItsPlaceBeforeTheBulk) {
  // Bonding: eight bulk flows on pacer 1 and a call on pacer 2, which has
  // no room the instant the call's frame comes. The frame is passed over,
  // but stays among the new flows: once pacer 2 has room it goes before
  // any bulk flow's turn. (Among the old flows it waited their whole round:
  // 60-100 ms of the bulk's quanta in bench/bond, against 30 in failover.)
  FlowQueue q(42);
  for (std::uint16_t f = 0; f < 8; ++f) {
    const auto bulk = packet4(static_cast<std::uint16_t>(1000 + f), 1400);
    for (int i = 0; i < 20; ++i) ASSERT_TRUE(q.enqueue(Bytes(bulk.data(), bulk.size()), t0, 1));
  }
  std::array<std::uint8_t, 2048> buf{};
  const MutableBytes out(buf.data(), buf.size());
  for (int i = 0; i < 40; ++i) ASSERT_TRUE(q.dequeue(out, t0, 1u << 1));  // the bulk flows are old ones now
  const auto call = packet4(2000, 200);
  ASSERT_TRUE(q.enqueue(Bytes(call.data(), call.size()), t0, 2));
  ASSERT_TRUE(q.dequeue(out, t0, 1u << 1)) << "pacer 2 has no room: a bulk packet goes";
  EXPECT_NE(sport_of(buf.data()), 2000);
  ASSERT_TRUE(q.dequeue(out, t0, 1u << 1 | 1u << 2)) << "both have room";
  EXPECT_EQ(sport_of(buf.data()), 2000) << "the call first";
}

TEST(FlowQueue, BulkFlowsShareByBytes) {
  FlowQueue q(7);
  const auto a = packet4(1000, 1400), b = packet4(1001, 700);
  for (int i = 0; i < 100; ++i) q.enqueue(Bytes(a.data(), a.size()), t0);
  for (int i = 0; i < 200; ++i) q.enqueue(Bytes(b.data(), b.size()), t0);
  Out out;
  std::size_t bytes_a = 0, bytes_b = 0;
  for (int i = 0; i < 120; ++i) {
    const auto s = out.next(q, t0);
    ASSERT_TRUE(s);
    (*s == 1000 ? bytes_a : bytes_b) += *s == 1000 ? 1400 : 700;
  }
  EXPECT_NEAR(static_cast<double>(bytes_a) / static_cast<double>(bytes_b), 1.0, 0.1);
}

TEST(FlowQueue, CoDelKeepsAResponsiveFlowsQueueShortAndLeavesAShortOneAlone) {
  FlowQueue q(1);
  q.set_round_trip(40ms);  // interval 100 ms (the floor), target 5 ms
  ASSERT_EQ(q.interval(), 100ms);
  ASSERT_EQ(q.target(), 5ms);
  const auto p = packet4(1000, 1400);
  Out out;
  // A sender that halves its rate at each drop and otherwise grows it (a
  // TCP's AIMD, in packets per ms), into a path that takes one packet a ms.
  Time t = t0;
  double rate = 1.0, owed = 0;
  std::uint64_t drops_seen = 0;
  std::vector<Duration> sojourns;
  for (int step = 0; step < 8000; ++step, t += 1ms) {
    for (owed += rate; owed >= 1; owed -= 1) q.enqueue(Bytes(p.data(), p.size()), t);
    out.next(q, t);
    if (q.counters().codel_drops != drops_seen) {
      drops_seen = q.counters().codel_drops;
      rate /= 2;
    } else {
      rate += 0.0005;
    }
    if (step >= 3000) sojourns.push_back(q.head_sojourn(t));
  }
  EXPECT_GT(q.counters().codel_drops, 5u);
  EXPECT_EQ(q.counters().overflow, 0u) << "CoDel, not the limit, kept the queue";
  std::sort(sojourns.begin(), sojourns.end());
  // A drop-tail queue would stand at its limit (2048 packets: 2 s here).
  EXPECT_LT(sojourns[sojourns.size() * 95 / 100], 100ms);
  // A queue that drains within the target is never touched.
  FlowQueue calm(1);
  calm.set_round_trip(40ms);
  t = t0;
  for (int step = 0; step < 2000; ++step, t += 1ms) {
    calm.enqueue(Bytes(p.data(), p.size()), t);
    if (step % 2) {
      out.next(calm, t);
      out.next(calm, t);
    }
  }
  EXPECT_EQ(calm.counters().codel_drops, 0u);
  EXPECT_EQ(calm.counters().codel_marks, 0u);
}

TEST(FlowQueue, EcnCapablePacketsAreMarkedNotDropped) {
  FlowQueue q(1);
  const auto p = packet4(1000, 1400, /*ECT(0)*/ 2, /*TCP*/ 6);
  Out out;
  Time t = t0;
  std::size_t ce = 0;
  for (int step = 0; step < 1000; ++step, t += 1ms) {
    q.enqueue(Bytes(p.data(), p.size()), t);
    q.enqueue(Bytes(p.data(), p.size()), t);
    if (const auto n = q.dequeue(MutableBytes(out.buf.data(), out.buf.size()), t)) {
      std::vector<std::uint8_t> got(out.buf.begin(), out.buf.begin() + static_cast<std::ptrdiff_t>(*n));
      ASSERT_TRUE(checksum_ok(got));
      ce += (got[1] & 3) == 3;
    }
  }
  EXPECT_EQ(q.counters().codel_drops, 0u);
  EXPECT_GT(q.counters().codel_marks, 10u);
  EXPECT_EQ(ce, q.counters().codel_marks);
}

TEST(FlowQueue, MarkingIpv6SetsCeInTheTrafficClass) {
  std::vector<std::uint8_t> p(60, 0);
  p[0] = 0x60 | 0x0b;  // traffic class 0xb? : high nibble in byte 0's low bits
  p[1] = 0x10;         // ECN ECT(1) in bits 4-5 of byte 1
  ASSERT_TRUE(mark_congestion(MutableBytes(p.data(), p.size())));
  EXPECT_EQ(p[1] & 0x30, 0x30);
  EXPECT_EQ(p[0], 0x6b) << "the DSCP is left alone";
  p[1] = 0;
  EXPECT_FALSE(mark_congestion(MutableBytes(p.data(), p.size()))) << "Not-ECT is never marked";
}

TEST(FlowQueue, FullTheFattestFlowLosesAndTheCallKeepsItsPacket) {
  FlowQueue q(3);
  const auto bulk = packet4(1000, 1400), call = packet4(2000, 200);
  q.enqueue(Bytes(call.data(), call.size()), t0);
  for (std::size_t i = 0; i < limits::kFlowQueueMaxPackets + 100; ++i) q.enqueue(Bytes(bulk.data(), bulk.size()), t0);
  EXPECT_LE(q.bytes(), limits::kFlowQueueMaxBytes);
  EXPECT_LE(q.packets(), limits::kFlowQueueMaxPackets);
  EXPECT_GT(q.counters().overflow, 0u);
  Out out;
  EXPECT_EQ(out.next(q, t0), 2000);
}

TEST(FlowQueue, MemoryIsCountedRefusedBeyondTheBudgetAndGivenBackWhenIdle) {
  MemoryBudget budget;
  budget.cap = 64u << 10;
  FlowQueue q(5, &budget);
  const auto p = packet4(1000, 1400);
  std::size_t kept = 0;
  for (int i = 0; i < 100; ++i) kept += q.enqueue(Bytes(p.data(), p.size()), t0);
  EXPECT_LT(kept, 100u);
  EXPECT_GT(kept, 10u);
  EXPECT_EQ(q.counters().no_memory, 100 - kept);
  EXPECT_EQ(budget.held, q.memory());
  EXPECT_LE(budget.held, budget.cap);
  Out out;
  while (out.next(q, t0)) {
  }
  q.expire(t0 + limits::kFlowQueueIdleAfter / 2);
  EXPECT_GT(budget.held, 0u) << "kept for the next burst a while";
  q.expire(t0 + limits::kFlowQueueIdleAfter);
  EXPECT_EQ(budget.held, 0u);
  EXPECT_EQ(q.memory(), 0u);
  // And it works again after.
  EXPECT_TRUE(q.enqueue(Bytes(p.data(), p.size()), t0 + 3s));
  EXPECT_EQ(out.next(q, t0 + 3s), 1000);
}

TEST(FlowQueue, GarbageAndNonIpAreQueuedNotParsedBeyondTheirBytes) {
  FlowQueue q(9);
  const std::uint8_t junk[3] = {0x45, 0, 0};
  EXPECT_TRUE(q.enqueue(Bytes(junk, sizeof junk), t0));
  EXPECT_FALSE(q.enqueue(Bytes(), t0));
  std::array<std::uint8_t, 16> out{};
  EXPECT_EQ(q.dequeue(MutableBytes(out.data(), out.size()), t0), 3u);
}
