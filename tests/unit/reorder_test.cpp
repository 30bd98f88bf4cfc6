// The receiver's reorder buffer (issue 30 item 3, session/reorder_buffer.hpp):
// a spread flow's packets leave in sequence order, a gap is waited for at
// most the wait, nothing unordered ever waits, a peer's jump ahead costs no
// loop, and what it holds is bounded, counted and given back.
#include <gtest/gtest.h>

#include <array>
#include <vector>

#include "session/data_stream.hpp"
#include "session/reorder_buffer.hpp"
#include "tund/wire.hpp"

namespace tund {
namespace {

using namespace std::chrono_literals;
using session::ReorderBuffer;

const Time t0 = Time{} + 1h;

// A packet whose single byte names its sequence.
std::vector<std::uint8_t> packet(std::uint64_t seq) { return std::vector<std::uint8_t>(100, static_cast<std::uint8_t>(seq)); }

struct Receiver {
  ReorderBuffer buf;
  std::vector<int> out;
  explicit Receiver(session::MemoryBudget* budget = nullptr) : buf(budget) { buf.set_wait(20ms); }
  // Arrives, as the session does: delivered now unless held, then what is
  // due. No paths are named unless a test names them: only the wait gives
  // gaps up.
  void arrive(std::uint64_t seq, Time now, bool ordered = true, std::uint64_t path = 1) {
    buf.arrived(seq, now, path);
    const auto p = packet(seq);
    if (!ordered || !buf.hold(seq, p, now)) out.push_back(static_cast<int>(seq & 0xff));
    buf.release(now, [&](Bytes b) { out.push_back(b[0]); });
  }
  void tick(Time now) {
    buf.release(now, [&](Bytes b) { out.push_back(b[0]); });
  }
};

TEST(ReorderBuffer, ASpreadFlowLeavesInSequenceOrder) {
  Receiver r;
  for (std::uint64_t s : {1, 2, 5, 4, 3, 6, 8, 7}) r.arrive(s, t0);
  EXPECT_EQ(r.out, (std::vector<int>{1, 2, 3, 4, 5, 6, 7, 8}));
  EXPECT_EQ(r.buf.waiting(), 0u);
  EXPECT_EQ(r.buf.counters().held, 3u) << "5, 4 and 8 waited";
  EXPECT_EQ(r.buf.deadline(), kNever);
}

TEST(ReorderBuffer, AMissingSequenceIsWaitedForAtMostTheWait) {
  Receiver r;
  r.arrive(1, t0);
  r.arrive(3, t0);  // 2 was lost
  r.arrive(4, t0 + 5ms);
  EXPECT_EQ(r.out, (std::vector<int>{1}));
  EXPECT_EQ(r.buf.deadline(), t0 + 20ms) << "the oldest waiting packet's arrival plus the wait";
  r.tick(t0 + 19ms);
  EXPECT_EQ(r.out, (std::vector<int>{1}));
  r.tick(t0 + 20ms);
  EXPECT_EQ(r.out, (std::vector<int>{1, 3, 4}));
  EXPECT_EQ(r.buf.counters().gaps_given_up, 1u);
  // 2 comes after all: late, it goes at once (inner TCP sorts it out).
  r.arrive(2, t0 + 30ms);
  EXPECT_EQ(r.out, (std::vector<int>{1, 3, 4, 2}));
  // That says these paths need longer: it came 10 ms after the give-up,
  // which was 20 ms after 3 began to wait, so the wait covers 30 ms.
  EXPECT_EQ(r.buf.counters().late, 1u);
  EXPECT_EQ(r.buf.skew(), 30ms);
  EXPECT_EQ(r.buf.wait(), std::chrono::duration_cast<Duration>(30ms * limits::kReorderSkewMargin));
  // Two windows later, with nothing late since, it is the round trips' again.
  r.arrive(5, t0 + 30ms + limits::kReorderSkewWindow);
  r.arrive(6, t0 + 30ms + 2 * limits::kReorderSkewWindow);
  EXPECT_EQ(r.buf.wait(), 20ms);
}

TEST(ReorderBuffer, TheWaitFollowsTheReorderingTheStreamShows) {
  Receiver r;
  r.arrive(1, t0);
  r.arrive(3, t0);
  r.arrive(2, t0 + 16ms);  // filled 16 ms after 3 began to wait: in time
  EXPECT_EQ(r.out, (std::vector<int>{1, 2, 3}));
  EXPECT_EQ(r.buf.skew(), 16ms);
  EXPECT_EQ(r.buf.wait(), 20ms) << "within what the round trips gave";
  r.arrive(5, t0 + 20ms);
  r.arrive(4, t0 + 38ms);
  EXPECT_EQ(r.buf.skew(), 18ms);
  EXPECT_EQ(r.buf.wait(), std::chrono::duration_cast<Duration>(18ms * limits::kReorderSkewMargin));
}

TEST(ReorderBuffer, APacketThatArrivedFirstIsNotKeptLongerForLowerOnes) {
  Receiver r;
  r.arrive(1, t0);
  r.arrive(6, t0);        // 2..5 missing
  r.arrive(4, t0 + 8ms);  // lower, arrived later
  r.tick(t0 + 20ms);      // 6's wait is over: everything below it is given up
  EXPECT_EQ(r.out, (std::vector<int>{1, 4, 6}));
  EXPECT_EQ(r.buf.waiting(), 0u);
}

TEST(ReorderBuffer, UnorderedPacketsNeverWaitButStillFillTheGaps) {
  Receiver r;
  r.arrive(1, t0);
  r.arrive(3, t0);         // ordered: waits for 2
  r.arrive(4, t0, false);  // another flow's: goes now
  EXPECT_EQ(r.out, (std::vector<int>{1, 4}));
  r.arrive(2, t0 + 1ms, false);  // unordered, fills the gap: 3 follows it
  EXPECT_EQ(r.out, (std::vector<int>{1, 4, 2, 3}));
}

TEST(ReorderBuffer, APeersJumpFarAheadMovesTheWatermarkOnce) {
  Receiver r;
  r.arrive(1, t0);
  r.arrive(3, t0);
  // An authenticated peer's sequence 2^62: no loop over the jump. What lay
  // more than a span below it is given up (3 goes); order across a whole
  // span cannot be kept, so the jump itself goes at once, counted.
  const std::uint64_t far = std::uint64_t{1} << 62;
  r.arrive(far, t0 + 1ms);
  EXPECT_EQ(r.out, (std::vector<int>{1, static_cast<int>(far & 0xff), 3}));
  EXPECT_EQ(r.buf.counters().unordered, 1u);
  EXPECT_EQ(r.buf.waiting(), 0u);
  EXPECT_EQ(r.buf.deadline(), kNever);
}

TEST(ReorderBuffer, ItHoldsAtMostItsSlotsAndThenLetsPacketsGoUnordered) {
  Receiver r;
  r.arrive(1, t0);
  // 2 never comes; everything after it waits, up to the slots.
  for (std::uint64_t s = 3; s < 3 + limits::kReorderPackets + 10; ++s) r.arrive(s, t0);
  EXPECT_EQ(r.buf.waiting(), limits::kReorderPackets);
  EXPECT_EQ(r.buf.counters().unordered, 10u);
  EXPECT_EQ(r.out.size(), 11u) << "1 and the ten that found no slot";
  r.tick(t0 + 20ms);
  EXPECT_EQ(r.out.size(), 11u + limits::kReorderPackets);
}

TEST(ReorderBuffer, MemoryIsTakenAtTheFirstHoldCountedAndGivenBackWhenIdle) {
  session::MemoryBudget budget;
  {
    Receiver r(&budget);
    r.arrive(1, t0);
    r.arrive(2, t0);
    EXPECT_EQ(budget.held, 0u) << "nothing held: nothing allocated";
    r.arrive(4, t0);
    EXPECT_GT(budget.held, 0u);
    EXPECT_EQ(r.buf.memory(), budget.held);
    r.tick(t0 + 20ms);
    r.buf.expire(t0 + 1s);
    EXPECT_GT(budget.held, 0u) << "kept through a short lull";
    r.buf.expire(t0 + limits::kReorderIdleAfter + 1ms);
    EXPECT_EQ(budget.held, 0u);
    r.arrive(6, t0 + 3s);  // 5 missing: allocated again
    EXPECT_GT(budget.held, 0u);
  }
  EXPECT_EQ(budget.held, 0u) << "given back with the buffer";
}

TEST(ReorderBuffer, AJumpThatCannotBeHeldTakesNoMemoryAndLeavesTheIdleClockSane) {
  // Found by fuzz_client_receive (corpus/client_receive/reorder-jump-regression):
  // a first ordered packet far ahead is refused; it allocated the buffers
  // without starting the idle clock, and expire() subtracted Time::min().
  session::MemoryBudget budget;
  Receiver r(&budget);
  const std::uint64_t far = std::uint64_t{1} << 40;
  r.arrive(far, t0);
  EXPECT_EQ(r.out, (std::vector<int>{static_cast<int>(far & 0xff)}));
  EXPECT_EQ(r.buf.counters().unordered, 1u);
  EXPECT_EQ(budget.held, 0u) << "a refused packet allocates nothing";
  EXPECT_EQ(r.buf.memory(), 0u);
  r.buf.expire(t0 + limits::kReorderIdleAfter);  // UBSan: no Time::min() arithmetic
  EXPECT_EQ(r.buf.deadline(), kNever);
}

TEST(ReorderBuffer, BeyondTheSharedBudgetPacketsGoUnordered) {
  session::MemoryBudget budget{1000};
  Receiver r(&budget);
  r.arrive(1, t0);
  r.arrive(3, t0);
  EXPECT_EQ(r.out, (std::vector<int>{1, 3}));
  EXPECT_EQ(r.buf.counters().unordered, 1u);
  EXPECT_EQ(budget.held, 0u);
}

// The path rule: each path delivers in the order the sender numbered its
// packets, so a gap every path the peer spreads over has passed is lost,
// given up at once.
constexpr std::uint64_t kFast = 1, kSlow = 2;

struct Bonded : Receiver {
  Bonded() {
    const std::array<std::uint64_t, 2> paths{kFast, kSlow};
    buf.set_paths(paths);
  }
};

TEST(ReorderBuffer, AGapEveryPathHasPassedIsGivenUpAtOnce) {
  Bonded r;
  r.arrive(1, t0, true, kFast);
  r.arrive(2, t0, true, kSlow);
  r.arrive(4, t0 + 1ms, true, kFast);  // 3 missing: on the slow path, maybe
  EXPECT_EQ(r.out, (std::vector<int>{1, 2}));
  r.arrive(5, t0 + 2ms, true, kFast);
  EXPECT_EQ(r.out, (std::vector<int>{1, 2})) << "the slow path has not passed 3: it may be on its way";
  r.arrive(6, t0 + 5ms, true, kSlow);
  EXPECT_EQ(r.out, (std::vector<int>{1, 2, 4, 5, 6})) << "both passed 3: lost, no wait, and 6 after 4 and 5";
  EXPECT_EQ(r.buf.counters().gaps_passed, 1u);
  EXPECT_EQ(r.buf.counters().gaps_given_up, 0u);
  EXPECT_EQ(r.buf.waiting(), 0u);
}

TEST(ReorderBuffer, AGapOnTheSlowPathIsWaitedForWhileTheFastOneRunsAhead) {
  Bonded r;
  r.arrive(1, t0, true, kSlow);
  for (std::uint64_t s = 3; s <= 9; ++s) r.arrive(s, t0 + 1ms, true, kFast);
  EXPECT_EQ(r.out, (std::vector<int>{1}));
  r.arrive(2, t0 + 15ms, true, kSlow);  // the slow path's next, in its order
  EXPECT_EQ(r.out, (std::vector<int>{1, 2, 3, 4, 5, 6, 7, 8, 9}));
  EXPECT_EQ(r.buf.counters().gaps_passed, 0u);
}

TEST(ReorderBuffer, ANamedPathThatDeliveredNothingYetHoldsTheRuleBack) {
  // The first packets spilled onto a path that carried no data before are
  // on their way behind later ones on the fast path.
  Bonded r;
  r.arrive(1, t0, true, kFast);
  r.arrive(3, t0 + 1ms, true, kFast);
  r.arrive(4, t0 + 2ms, true, kFast);
  EXPECT_EQ(r.out, (std::vector<int>{1}));
  r.arrive(2, t0 + 10ms, true, kSlow);
  EXPECT_EQ(r.out, (std::vector<int>{1, 2, 3, 4}));
  EXPECT_EQ(r.buf.counters().gaps_passed, 0u);
}

TEST(ReorderBuffer, OneThatCameAfterThePathRuleGaveItUpSaysNothingOfTheWait) {
  Bonded r;
  r.arrive(1, t0, true, kFast);
  r.arrive(2, t0, true, kSlow);
  r.arrive(4, t0 + 1ms, true, kFast);
  r.arrive(5, t0 + 2ms, true, kSlow);  // 3 given up: both passed it
  r.arrive(3, t0 + 40ms, true, kSlow);  // its path reordered after all
  EXPECT_EQ(r.out, (std::vector<int>{1, 2, 4, 5, 3}));
  EXPECT_EQ(r.buf.counters().late, 1u);
  EXPECT_EQ(r.buf.counters().passed_late, 1u);
  EXPECT_EQ(r.buf.skew(), 0ms);
  EXPECT_EQ(r.buf.wait(), 20ms);
}

TEST(ReorderBuffer, DataOnAPathNotNamedRestsThePathRule) {
  Bonded r;
  r.arrive(1, t0, true, kFast);
  r.arrive(2, t0, true, kSlow);
  r.arrive(4, t0 + 1ms, true, 99);  // a third uplink the receiver was not told of
  r.arrive(5, t0 + 1ms, true, kFast);
  r.arrive(6, t0 + 2ms, true, kSlow);
  EXPECT_EQ(r.out, (std::vector<int>{1, 2})) << "3 may be on the third path";
  r.tick(t0 + 21ms);
  EXPECT_EQ(r.buf.counters().gaps_given_up, 1u) << "the wait still bounds it";
  EXPECT_EQ(r.out, (std::vector<int>{1, 2, 4, 5, 6}));
  const Time later = t0 + 1ms + limits::kReorderPathRest;
  r.arrive(8, later, true, kFast);
  r.arrive(9, later, true, kSlow);
  EXPECT_EQ(r.out, (std::vector<int>{1, 2, 4, 5, 6, 8, 9})) << "rested long enough: 7 is lost";
  EXPECT_EQ(r.buf.counters().gaps_passed, 1u);
}

TEST(ReorderBuffer, MorePathsThanItTracksLeaveOnlyTheWait) {
  Receiver r;
  std::array<std::uint64_t, limits::kReorderPaths + 1> paths{};
  for (std::size_t i = 0; i < paths.size(); ++i) paths[i] = i + 1;
  r.buf.set_paths(paths);
  for (std::uint64_t p = 1; p <= paths.size(); ++p) r.arrive(p, t0, true, p);
  for (std::uint64_t p = 1; p <= paths.size(); ++p) r.arrive(paths.size() + 1 + p, t0, true, p);
  EXPECT_EQ(r.out.size(), paths.size()) << "every path passed the gap, but not every path is tracked";
  EXPECT_EQ(r.buf.counters().gaps_passed, 0u);
}

TEST(ReorderBuffer, TheWaitFollowsThePathsRoundTripsWithinItsBounds) {
  EXPECT_EQ(ReorderBuffer::wait_for(20ms, 20ms), 10ms) << "alike: half a round trip for the queues";
  EXPECT_EQ(ReorderBuffer::wait_for(8ms, 40ms), 52ms) << "the spread, and half the longest";
  ReorderBuffer b;
  b.set_wait(1ms);
  EXPECT_EQ(b.wait(), limits::kReorderWaitFloor);
  b.set_wait(5s);
  EXPECT_EQ(b.wait(), limits::kReorderWaitCeiling);
}

// What a data stream does with the flag: masks it for the sequence, holds
// only flagged packets, and forgets everything when the peer's stream is new.
TEST(ReorderBuffer, TheDataStreamHoldsOnlyPacketsMarkedOrdered) {
  session::DataStream stream(session::ResendLimits{});
  stream.set_reorder_wait(20ms);
  const auto plain = [](std::uint64_t word, std::uint8_t tag) {
    std::vector<std::uint8_t> p(8 + 20, 0);
    store_le64(p.data(), word);
    p[8] = 0x45;  // IPv4, 20 bytes
    store_be16(p.data() + 8 + 2, 20);
    p[8 + 8] = 64;
    p[8 + 9] = 17;
    p[8 + 19] = tag;
    return p;
  };
  DropReason why{};
  const auto first = plain(1, 1), third = plain(3 | wire::transport::kSeqOrdered, 3), fourth = plain(4, 4);
  ASSERT_TRUE(stream.receive(first, t0, 1, why));
  EXPECT_FALSE(stream.hold_for_order(first, 20, t0));
  ASSERT_TRUE(stream.receive(third, t0, 3, why)) << "the flag is no part of the sequence";
  EXPECT_TRUE(stream.hold_for_order(third, 20, t0));
  ASSERT_TRUE(stream.receive(fourth, t0, 4, why));
  EXPECT_FALSE(stream.hold_for_order(fourth, 20, t0));
  EXPECT_FALSE(stream.receive(plain(3, 3), t0, 3, why)) << "a duplicate, flag or not";
  std::vector<std::uint8_t> released;
  stream.release_ordered(t0 + 20ms, [&](Bytes b) { released.push_back(b[19]); });
  EXPECT_EQ(released, (std::vector<std::uint8_t>{3}));

  ASSERT_TRUE(stream.receive(plain(9 | wire::transport::kSeqOrdered, 9), t0 + 21ms, 9, why));
  EXPECT_TRUE(stream.hold_for_order(plain(9 | wire::transport::kSeqOrdered, 9), 20, t0 + 21ms));
  stream.forget_peer();
  EXPECT_EQ(stream.reorder().waiting(), 0u);
  EXPECT_EQ(stream.reorder_deadline(), kNever);
}

}  // namespace
}  // namespace tund
