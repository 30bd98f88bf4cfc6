// The anti-replay window: hand-checked rows at the edges (in the style of
// WireGuard's selftest/counter.c) and a differential run against a set model.
#include <gtest/gtest.h>

#include <random>
#include <set>

#include "crypto/replay_window.hpp"

namespace tund {
namespace {

using crypto::ReplayWindow;
constexpr std::uint64_t W = limits::kReplayWindow;
constexpr std::uint64_t kLimit = limits::kRejectAfterMessages;

struct Row {
  std::uint64_t counter;
  bool accepted;
};

TEST(ReplayWindow, WindowSizeIsAtLeast8192) { EXPECT_GE(W, 8192u); }

TEST(ReplayWindow, EdgeCases) {
  const Row rows[] = {
      /*  1 */ {0, true},
      /*  2 */ {1, true},
      /*  3 */ {1, false},          // duplicate
      /*  4 */ {9, true},
      /*  5 */ {8, true},           // reordered, inside the window
      /*  6 */ {7, true},
      /*  7 */ {7, false},
      /*  8 */ {W, true},           // highest = W
      /*  9 */ {W - 1, true},
      /* 10 */ {W - 1, false},
      /* 11 */ {W - 2, true},
      /* 12 */ {1, false},           // W - 1 below highest: inside, but seen at row 2
      /* 13 */ {2, true},           // W - 2 below highest: inside, new
      /* 14 */ {0, false},          // exactly W below highest: outside
      /* 15 */ {W + 16, true},      // highest = W + 16
      /* 16 */ {16, false},         // exactly W below: too old
      /* 17 */ {17, true},          // W - 1 below: the oldest still accepted
      /* 18 */ {17, false},
      /* 19 */ {W * 4, true},       // big jump clears the whole ring
      /* 20 */ {W * 4 - (W - 1), true},
      /* 21 */ {W * 4 - W, false},
      /* 22 */ {W + 16, false},     // was accepted before the jump, now too old
      /* 23 */ {W * 4 - 1, true},   // every block between the old top and the new one is clear
      /* 24 */ {W * 4 - 64, true},
      /* 25 */ {W * 4 - 65, true},
      /* 26 */ {W * 4 + 1, true},
      /* 27 */ {W * 4 + 1, false},
  };
  ReplayWindow w;
  int i = 1;
  for (const auto& r : rows) {
    EXPECT_EQ(w.accept(r.counter), r.accepted) << "row " << i << " counter " << r.counter;
    ++i;
  }
}

TEST(ReplayWindow, HardLimitRefusesBeforeWrap) {
  ReplayWindow w;
  EXPECT_TRUE(w.accept(kLimit - 1));
  EXPECT_FALSE(w.accept(kLimit));
  EXPECT_FALSE(w.accept(~std::uint64_t{0}));
  EXPECT_FALSE(w.accept(kLimit - 1));
  EXPECT_TRUE(w.accept(kLimit - 2));
  EXPECT_FALSE(w.accept(0));
}

TEST(ReplayWindow, MayAcceptDoesNotCommit) {
  ReplayWindow w;
  EXPECT_TRUE(w.may_accept(5));
  EXPECT_TRUE(w.may_accept(5));
  EXPECT_TRUE(w.accept(5));
  EXPECT_FALSE(w.may_accept(5));
  EXPECT_TRUE(w.seen(5));
  EXPECT_FALSE(w.seen(4));
  EXPECT_EQ(w.highest(), 5u);
}

TEST(ReplayWindow, SequentialRingWraps) {
  ReplayWindow w;
  for (std::uint64_t c = 0; c < 20 * W; ++c) ASSERT_TRUE(w.accept(c)) << c;
  for (std::uint64_t c = 20 * W - W; c < 20 * W; ++c) ASSERT_FALSE(w.accept(c)) << c;
}

TEST(ReplayWindow, MatchesSetModel) {
  std::mt19937_64 rng(12345);
  for (int run = 0; run < 20; ++run) {
    ReplayWindow w;
    std::set<std::uint64_t> seen;
    std::uint64_t highest = 0;
    bool any = false;
    std::uint64_t base = run % 2 ? 0 : (1ull << 40);
    for (int i = 0; i < 20000; ++i) {
      std::uint64_t c;
      switch (rng() % 4) {
        case 0: c = base + (any ? highest + 1 + rng() % 3 : 0); break;
        case 1: c = any ? highest - std::min<std::uint64_t>(highest - base, rng() % (2 * W)) : base; break;
        case 2: c = any ? highest - std::min<std::uint64_t>(highest, rng() % 70) : base; break;
        default: c = base + (any ? highest - base + rng() % (W / 2) : rng() % 100); break;
      }
      if (c < base) c = base;
      const bool expect = c < kLimit && (!any || c > highest || (highest - c < W && !seen.count(c)));
      ASSERT_EQ(w.accept(c), expect) << "run " << run << " step " << i << " counter " << c;
      if (expect) {
        seen.insert(c);
        if (!any || c > highest) highest = c;
        any = true;
      }
    }
  }
}

}  // namespace
}  // namespace tund
