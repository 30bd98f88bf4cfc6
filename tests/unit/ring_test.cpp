// The ring under the resend buffer: order kept across wrap-around and growth,
// and a steady stream of packets through the resend buffer allocating nothing
// once warm (counted by replacing the global operator new in this binary).
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>

#include "session/resend_buffer.hpp"
#include "session/ring.hpp"

namespace {
std::atomic<std::size_t> g_allocations{0};
}  // namespace

void* operator new(std::size_t n) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

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
