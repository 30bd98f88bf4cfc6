// The active path's health from its data (session/path_health.hpp): a lossy
// fade and a capacity collapse are judged within a window; a link that only
// got busier (a bulk transfer filling its own queue) is not.
#include <gtest/gtest.h>

#include "session/path_health.hpp"

using namespace tund;
using namespace tund::session;
using namespace std::chrono_literals;

namespace {

constexpr Duration kStandbyRtt = 45ms;

// A voice call each way on a 10 ms path: 50 frames a second up (each
// acknowledged, or lost with `loss_every`) and 50 down, for `ms`.
struct Call {
  PathHealth& h;
  Time t;
  std::uint64_t frame = 1, down_seq = 1;
  // Runs the call; returns the first time judge() said something, if any.
  std::optional<Time> run(Duration length, int loss_every, Duration rtt = 10ms) {
    std::optional<Time> judged;
    for (const Time end = t + length; t < end; t += 10ms, ++frame) {
      const bool lost = loss_every && (frame % loss_every == 0);
      if (frame % 2) {  // a frame up: acknowledged, or found lost later
        h.on_ack(t, lost ? std::nullopt : std::optional<Duration>(rtt), lost ? 0 : 1, lost ? 0 : 200, lost ? 1 : 0);
      } else if (!lost) {
        h.on_receive(t, down_seq++, 200);
      } else {
        ++down_seq;  // the hub sent it; it never came
      }
      if (!judged && h.judge(t, kStandbyRtt)) judged = t;
    }
    return judged;
  }
};

// 4 Mbit/s down (a 1500-byte packet every 3 ms) and an acknowledged packet
// up every 5 ms, on a 10 ms path, for 3 s from a reset at t.
void steady_download(PathHealth& h, Time& t, std::uint64_t& seq) {
  h.reset(t);
  for (const Time end = t + Duration(3s); t < end; t += 1ms) {
    if (t.time_since_epoch().count() % 3000000 == 0) h.on_receive(t, seq++, 1500);
    if (t.time_since_epoch().count() % 5000000 == 0) h.on_ack(t, 10ms, 1, 60, 0);
  }
}

}  // namespace

TEST(PathHealth, AHealthyCallIsNeverJudged) {
  PathHealth h;
  h.reset(Time{});
  Call call{h, Time{}};
  EXPECT_FALSE(call.run(10s, 0));
  const auto s = h.summary(call.t);
  EXPECT_EQ(s.loss, 0);
  ASSERT_TRUE(s.base_rtt);
  EXPECT_EQ(*s.base_rtt, Duration(10ms));
}

TEST(PathHealth, AFadeLosingAThirdIsLossyWithinAWindow) {
  PathHealth h;
  h.reset(Time{});
  Call call{h, Time{}};
  ASSERT_FALSE(call.run(2s, 0));
  const Time fade = call.t;
  const auto judged = call.run(2s, 3);  // one in three lost, both ways
  ASSERT_TRUE(judged);
  EXPECT_LE(*judged - fade, Duration(250ms));
  EXPECT_STREQ(h.judge(call.t, kStandbyRtt), "lossy");
}

TEST(PathHealth, OneLossInAWhileIsNotAFade) {
  PathHealth h;
  h.reset(Time{});
  Call call{h, Time{}};
  EXPECT_FALSE(call.run(20s, 50));  // 2% lost
}

TEST(PathHealth, ABulkTransferFillingItsQueueIsNotAFailure) {
  // 20 Mbit/s delivered steadily, the queue full (60 ms above a 10 ms
  // baseline) and a loss in 20 from its overflowing, one in three for
  // 300 ms (an overshoot): congestion, our own.
  PathHealth h;
  h.reset(Time{});
  Time t{};
  std::uint64_t seq = 1;
  for (; t < Time(2s); t += 1ms) h.on_ack(t, 10ms, 1, 200, 0);  // the baseline
  for (; t < Time(22s); t += 1ms) {
    for (int i = 0; i < 2; ++i, ++seq)
      if (seq % (t >= Time(5s) && t < Time(5300ms) ? 3 : 20)) h.on_receive(t, seq, 1250);  // 20 Mbit/s
    h.on_ack(t, 70ms, 1, 60, 0);
    ASSERT_EQ(h.judge(t, kStandbyRtt), nullptr) << "at " << t.time_since_epoch().count();
  }
}

TEST(PathHealth, ACapacityCollapseWithAGrowingQueueIsJudged) {
  PathHealth h;
  Time t{};
  std::uint64_t seq = 1;
  steady_download(h, t, seq);
  // ...then a tenth of that, while the round trip climbs past the standby's.
  const Time collapse = t;
  std::optional<Time> judged;
  for (Duration rtt = 10ms; t < collapse + Duration(2s); t += 1ms) {
    if (t.time_since_epoch().count() % 30000000 == 0) h.on_receive(t, seq++, 1500);
    if (t.time_since_epoch().count() % 5000000 == 0) {
      rtt += 2ms;
      h.on_ack(t, rtt, 1, 60, 0);
    }
    if (!judged && h.judge(t, kStandbyRtt)) judged = t;
  }
  ASSERT_TRUE(judged);
  EXPECT_STREQ(h.judge(t, kStandbyRtt), "collapsed");
  EXPECT_LE(*judged - collapse, Duration(600ms));
}

// After a steady download, 2 s of the hub's packets arriving every
// `every`, each `skipped`-th of its sequence missing (lost), acknowledged
// every 5 ms after `rtt`: never judged bonded (asserted); returns whether a
// lone path would have been.
static bool bonded_share(std::int64_t every_ms, std::uint64_t skipped, Duration rtt) {
  PathHealth h;
  Time t{};
  std::uint64_t seq = 1;
  steady_download(h, t, seq);
  bool lone = false;
  for (const Time start = t; t < start + Duration(2s); t += 1ms) {
    if (t.time_since_epoch().count() % (every_ms * 1000000) == 0) {
      if (seq % skipped == 0) ++seq;
      h.on_receive(t, seq++, 1500);
    }
    if (t.time_since_epoch().count() % 5000000 == 0) h.on_ack(t, rtt, 1, 60, 0);
    EXPECT_EQ(h.judge(t, kStandbyRtt, true), nullptr) << "at " << t.time_since_epoch().count();
    lone = lone || h.judge(t, kStandbyRtt);
  }
  return lone;
}

TEST(PathHealth, ABondedPathCarryingItsShareWithItsOwnQueueIsNotJudged) {
  // Bonded (issue 30), the other path takes half the flows: delivery half
  // the best, its flows' queue 60 ms and one packet in ten overflowing it.
  // Judged as a lone path that is a collapse (or a fade); bonded, nothing.
  EXPECT_TRUE(bonded_share(7, 10, 70ms)) << "alone on the path, the same would be judged";
}

TEST(PathHealth, ABondedPathIsNotJudgedByTheOtherPathsDownstreamLosses) {
  // Bonded, with a short queue: every other packet of the hub's sequence
  // went on the other bonded path, which is dying (lost there). This path's
  // own packets all arrive.
  EXPECT_TRUE(bonded_share(3, 2, 14ms)) << "alone on the path, the same gaps are its losses";
}

TEST(PathHealth, LateArrivalsAreNotLosses) {
  PathHealth h;
  h.reset(Time{});
  Time t{};
  for (; t < Time(1s); t += 10ms) h.on_ack(t, 10ms, 1, 100, 0);
  // Down: every pair swapped (2 before 1, 4 before 3, ...): reordered, not lost.
  for (std::uint64_t s = 1; s < 400; s += 2, t += 10ms) {
    h.on_receive(t, s + 1, 100);
    h.on_receive(t, s, 100);
    EXPECT_EQ(h.judge(t, kStandbyRtt), nullptr);
  }
  EXPECT_EQ(h.summary(t).loss, 0);
}

TEST(PathHealth, LossWithAShortStandingQueueAndFallingDeliveryIsLossy) {
  // A fading Wi-Fi under a download: a third lost, a queue of 25 ms (over the
  // 10 ms floor, under the standby's 45 ms round trip) and delivery down to
  // a third of its best: not congestion, a fade.
  PathHealth h;
  Time t{};
  std::uint64_t seq = 1;
  steady_download(h, t, seq);
  const Time fade = t;
  std::optional<Time> judged;
  int up = 0;
  for (; t < fade + Duration(1s); t += 1ms) {
    if (t.time_since_epoch().count() % 9000000 == 0) {
      if (seq % 3 == 0) ++seq;  // lost on the way down
      h.on_receive(t, seq++, 1500);
    }
    if (t.time_since_epoch().count() % 5000000 == 0) {
      if (++up % 3 == 0) h.on_ack(t, std::nullopt, 0, 0, 1);  // lost on the way up too
      else h.on_ack(t, 35ms, 1, 60, 0);
    }
    if (!judged && h.judge(t, kStandbyRtt)) judged = t;
  }
  ASSERT_TRUE(judged);
  EXPECT_STREQ(h.judge(t, kStandbyRtt), "lossy");
  EXPECT_LE(*judged - fade, Duration(300ms));
}
