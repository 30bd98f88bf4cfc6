// The ring under the resend buffer: order kept across wrap-around, growth and
// shrinking, a steady stream of packets through the resend buffer allocating
// nothing once warm (counted by replacing the global operator new in this
// binary), and what it holds counted and given back when idle.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>

#include "session/resend_buffer.hpp"
#include "session/ring.hpp"

// The replacements below pair malloc with free on purpose; GCC 12 at -O3
// (the arm64 Release build) follows a vector's delete into them and calls
// that a mismatch.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

namespace {
std::atomic<std::size_t> g_allocations{0};
}  // namespace

// Every form that pairs with the replaced delete (the library's nothrow and
// array forms too: a sanitizer's own would be freed here, and say so).
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  return std::malloc(n ? n : 1);
}
void* operator new(std::size_t n) {
  if (void* p = operator new(n, std::nothrow)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) { return operator new(n); }
void* operator new[](std::size_t n, const std::nothrow_t& tag) noexcept { return operator new(n, tag); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }

namespace tund {
namespace {

using session::Ring;

TEST(Ring, KeepsOrderAcrossWrapAroundAndGrowth) {
  Ring<int> r;
  int next_in = 0, next_out = 0;
  // Sizes that wrap the head around several capacities, growing on the way.
  for (int round = 0; round < 200; ++round) {
    for (int i = 0; i < round % 37 + 1; ++i) r.push_back(next_in++);
    for (int i = 0; i < round % 23 && !r.empty(); ++i) {
      ASSERT_EQ(r.front(), next_out++);
      r.pop_front();
    }
    ASSERT_EQ(r.size(), static_cast<std::size_t>(next_in - next_out));
    for (std::size_t i = 0; i < r.size(); ++i) ASSERT_EQ(r[i], next_out + static_cast<int>(i));
    if (!r.empty()) {
      ASSERT_EQ(r.back(), next_in - 1);
    }
  }
}

TEST(Ring, ShrinksToWhatItHoldsAndTheFloorButNeverBelow) {
  Ring<int> r;
  for (int i = 0; i < 100; ++i) r.push_back(i);
  EXPECT_EQ(r.capacity(), 128u);
  for (int i = 0; i < 90; ++i) r.pop_front();
  r.shrink(4);
  EXPECT_EQ(r.capacity(), 16u) << "10 queued: the next power of two";
  for (std::size_t i = 0; i < r.size(); ++i) EXPECT_EQ(r[i], 90 + static_cast<int>(i));
  r.shrink(64);
  EXPECT_EQ(r.capacity(), 16u) << "never grows";
  while (!r.empty()) r.pop_front();
  r.shrink(0);
  EXPECT_EQ(r.capacity(), 0u);
  r.push_back(7);
  EXPECT_EQ(r.front(), 7);
  EXPECT_EQ(r.capacity(), r.grown_capacity() / 2);
}

// Steady state allocates nothing; once idle, the pool and ring go back to the
// floor, and every byte held is counted in the budget the buffer shares.
TEST(ResendBuffer, AnIdleBufferGivesItsMemoryBackAndCountsIt) {
  session::MemoryBudget shared;
  session::ResendBuffer buf({}, &shared);
  std::vector<std::uint8_t> packet(1200, 0x5a);
  const Time t0 = Time{} + std::chrono::hours(1);
  for (std::uint64_t seq = 1; seq <= 300; ++seq) ASSERT_TRUE(buf.remember(seq, packet, t0));
  session::Ack ack;
  ack.highest = 300;
  for (auto& b : ack.bitmap) b = 0xff;
  ASSERT_TRUE(buf.on_ack(ack, 301));
  EXPECT_EQ(buf.packets(), 0u);
  EXPECT_GE(buf.memory(), limits::kResendPoolMax * packet.size() + 512 * 32) << "pool and ring";
  EXPECT_EQ(shared.held, buf.memory());
  const Time idle = t0 + limits::kResendIdleAfter;
  EXPECT_EQ(buf.idle_release_at(), idle);
  buf.expire(idle - std::chrono::milliseconds(1));
  EXPECT_GE(buf.memory(), limits::kResendPoolMax * packet.size()) << "not idle yet";
  buf.expire(idle);
  EXPECT_EQ(buf.memory(), session::ResendBuffer::idle_memory());
  EXPECT_EQ(shared.held, buf.memory());
  EXPECT_EQ(buf.idle_release_at(), kNever) << "nothing more to give back";
  // A buffer that goes holds nothing in the budget any more.
  { session::ResendBuffer other({}, &shared); other.remember(1, packet, idle); }
  EXPECT_EQ(shared.held, buf.memory());
}

// An acknowledgement of a packet sent twice (a switching exchange's resend,
// a copy on suspicion) says it arrived, not how long it took: after a
// silent blackhole the first copy's send time would read as a round trip of
// the whole outage, and the new path's pacer would think it slow.
TEST(ResendBuffer, APacketSentAgainGivesNoRoundTrip) {
  session::ResendBuffer buf({}, nullptr);
  std::vector<std::uint8_t> packet(1000, 7);
  const Time t0 = Time{} + std::chrono::hours(1);
  for (std::uint64_t seq = 1; seq <= 4; ++seq) ASSERT_TRUE(buf.remember(seq, packet, t0));
  ASSERT_EQ(buf.schedule_resend(5, t0 + std::chrono::milliseconds(20)), 4u);
  std::vector<std::uint8_t> out(1500);
  std::uint64_t seq = 0;
  ASSERT_TRUE(buf.next_resend(MutableBytes(out.data(), out.size()), seq));
  ASSERT_EQ(seq, 1u);
  session::Ack ack;
  ack.highest = 1;
  session::ResendBuffer::AckOutcome resent;
  ASSERT_TRUE(buf.on_ack(ack, 5, &resent));
  EXPECT_EQ(resent.acked, 1u) << "delivered all the same";
  EXPECT_EQ(resent.bytes, 1000u);
  EXPECT_FALSE(resent.newest_sent) << "no round trip from a packet sent twice";
  EXPECT_FALSE(resent.highest_sent) << "nor a one-way delay";
  // Sent once: both are read.
  ASSERT_TRUE(buf.remember(5, packet, t0 + std::chrono::milliseconds(30)));
  ack.highest = 5;
  ack.bitmap = {};
  session::ResendBuffer::AckOutcome once;
  ASSERT_TRUE(buf.on_ack(ack, 6, &once));
  ASSERT_TRUE(once.newest_sent);
  EXPECT_EQ(*once.newest_sent, t0 + std::chrono::milliseconds(30));
  EXPECT_EQ(once.highest_sent, once.newest_sent);
}

// A shared budget refuses what would go beyond it, pooled buffers included.
TEST(ResendBuffer, KeepsNothingBeyondTheSharedBudget) {
  session::MemoryBudget shared{50'000};
  session::ResendBuffer a({}, &shared), b({}, &shared);
  std::vector<std::uint8_t> packet(1000, 1);
  const Time t0 = Time{} + std::chrono::hours(1);
  std::size_t kept = 0;
  for (std::uint64_t seq = 1; seq <= 100; ++seq) kept += a.remember(seq, packet, t0);
  EXPECT_LE(shared.held, shared.cap);
  EXPECT_GT(kept, 40u);
  EXPECT_LT(kept, 50u);
  a.expire(t0 + std::chrono::seconds(1));  // aged out: pooled, still held
  EXPECT_EQ(a.packets(), 0u);
  EXPECT_FALSE(b.remember(1, packet, t0 + std::chrono::seconds(1))) << "a's pool holds the budget";
  a.expire(t0 + limits::kResendIdleAfter);
  EXPECT_TRUE(b.remember(1, packet, t0 + limits::kResendIdleAfter)) << "until a goes idle";
  EXPECT_EQ(shared.held, a.memory() + b.memory());
}

TEST(ResendBuffer, ASteadyStreamAllocatesNothingOnceWarm) {
  session::ResendBuffer buf;
  std::vector<std::uint8_t> packet(1200, 0x5a);
  const Time t0{};
  std::uint64_t seq = 1;
  // Acknowledged in batches of 32 as the peer would, up to 400 in flight.
  const auto run = [&](int packets) {
    for (int i = 0; i < packets; ++i, ++seq) {
      buf.remember(seq, Bytes(packet.data(), packet.size()), t0);
      if (seq % 32 == 0 && seq > 400) {
        session::Ack ack;
        ack.highest = seq - 400;
        for (auto& b : ack.bitmap) b = 0xff;
        ASSERT_TRUE(buf.on_ack(ack, seq + 1));
      }
    }
  };
  run(5000);  // warm: the ring and the pool reach their working size
  const std::size_t before = g_allocations.load();
  run(20000);
  EXPECT_EQ(g_allocations.load() - before, 0u) << "allocations in 20000 packets of steady state";
  EXPECT_GT(buf.packets(), 300u);
  EXPECT_LE(buf.packets(), 432u);
}

}  // namespace
}  // namespace tund
