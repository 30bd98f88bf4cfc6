// The link emulator's model (bench/linkem/model.hpp) and its profile text:
// exact times on a given clock, loss rates over many frames, parse errors.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "model.hpp"
#include "profile.hpp"

using namespace linkem;
using namespace std::chrono_literals;

namespace {

struct Delivered {
  std::uint32_t slot;
  Time at;
};

// Runs `d` to `until` in 100 us steps, recording when each frame leaves.
std::vector<Delivered> run_until(Direction& d, Time from, Time until, std::vector<std::uint32_t>* dropped = nullptr) {
  std::vector<Delivered> out;
  for (Time t = from; t <= until; t += 100us)
    d.run(t, [&](std::uint32_t slot, Time) { out.push_back({slot, t}); },
          [&](std::uint32_t slot) { if (dropped) dropped->push_back(slot); });
  return out;
}

std::shared_ptr<const Trace> trace_of(std::vector<std::uint32_t> ms) {
  auto t = std::make_shared<Trace>();
  t->ms = std::move(ms);
  t->period_ms = t->ms.back();
  return t;
}

std::filesystem::path temp_file(const std::string& name, const std::string& text) {
  const auto path = std::filesystem::temp_directory_path() / ("linkem_test_" + name);
  std::ofstream(path) << text;
  return path;
}

}  // namespace

TEST(Linkem, RateSerialisesFramesThenAddsDelay) {
  Direction d(64);
  Params p;
  p.rate_bps = 10'000'000;  // 1250 bytes = 1 ms
  p.delay = 5ms;
  d.set(p, 0ms);
  for (std::uint32_t i = 0; i < 4; ++i) ASSERT_TRUE(d.arrive(0ms, i, 1250));
  EXPECT_EQ(d.next_event(), Time(1ms));
  const auto out = run_until(d, 0ms, 20ms);
  ASSERT_EQ(out.size(), 4u);
  for (std::uint32_t i = 0; i < 4; ++i) {
    EXPECT_EQ(out[i].slot, i);
    EXPECT_EQ(out[i].at, Time(std::chrono::milliseconds(6 + i)));
  }
}

TEST(Linkem, TraceGivesOneMtuPerLineAndSharesItAmongSmallFrames) {
  Direction d(64);
  Params p;
  p.trace = trace_of({1});  // one 1500-byte opportunity every millisecond: 12 Mbit/s
  d.set(p, 0ms);
  EXPECT_NEAR(p.trace->mean_bits_per_second(), 12e6, 1);
  for (std::uint32_t i = 0; i < 2; ++i) d.arrive(0ms, i, 1500);
  for (std::uint32_t i = 2; i < 5; ++i) d.arrive(0ms, i, 500);
  const auto out = run_until(d, 0ms, 10ms);
  ASSERT_EQ(out.size(), 5u);
  EXPECT_EQ(out[0].at, Time(1ms));
  EXPECT_EQ(out[1].at, Time(2ms));
  for (int i = 2; i < 5; ++i) EXPECT_EQ(out[i].at, Time(3ms));  // three 500-byte frames share one
}

TEST(Linkem, AnIdleTraceBanksNothing) {
  Direction d(64);
  Params p;
  p.trace = trace_of({10, 20});  // opportunities at 10, 20, 30, 40 ... ms
  d.set(p, 0ms);
  run_until(d, 0ms, 25ms);
  d.arrive(Time(25ms), 7, 1500);
  EXPECT_EQ(d.next_event(), Time(30ms));
  const auto out = run_until(d, 25ms, 50ms);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].at, Time(30ms));
}

TEST(Linkem, ATraceCanStartPartWayThrough) {
  Direction d(64);
  Params p;
  p.trace = trace_of({10, 20});  // opportunities at 10, 20, 30 ... ms of the trace
  p.trace_start = 15ms;          // set at 100 ms: the trace's 20 ms is at 105 ms
  d.set(p, 100ms);
  d.arrive(Time(100ms), 1, 1500);
  const auto out = run_until(d, 100ms, 120ms);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].at, Time(105ms));
}

TEST(Linkem, ADeadZoneHoldsFramesUntilTheQueueOverflows) {
  Direction d(64);
  Params p;
  p.trace = trace_of({1, 1000});  // one opportunity at 1 ms, then nothing until 1 s
  p.queue_bytes = 4500;
  d.set(p, 0ms);
  int accepted = 0;
  for (std::uint32_t i = 0; i < 6; ++i) accepted += d.arrive(Time(2ms), i, 1500);
  EXPECT_EQ(accepted, 3);
  EXPECT_EQ(d.counters().drop_queue, 3u);
  EXPECT_TRUE(run_until(d, 2ms, 999ms).empty());
  EXPECT_EQ(run_until(d, 1000ms, 1000ms).size(), 1u);  // the opportunity at 1 s
  EXPECT_EQ(run_until(d, 1001ms, 1001ms).size(), 1u);  // the loop's first line again, at 1 s + 1 ms
}

TEST(Linkem, BernoulliLossMatchesItsRate) {
  Direction d(64, 42);
  Params p;
  p.loss = 0.3;
  d.set(p, 0ms);
  std::size_t delivered = 0, dropped = 0;
  for (std::uint32_t i = 0; i < 20000; ++i) {
    d.arrive(Time(std::chrono::microseconds(i)), 0, 100);
    d.run(Time(std::chrono::microseconds(i)), [&](std::uint32_t, Time) { ++delivered; }, [&](std::uint32_t) { ++dropped; });
  }
  EXPECT_EQ(delivered + dropped, 20000u);
  EXPECT_NEAR(double(dropped) / 20000, 0.3, 0.015);
  EXPECT_EQ(d.counters().drop_loss, dropped);
}

TEST(Linkem, GilbertElliottLossComesInBursts) {
  Direction d(64, 7);
  Params p;
  p.ge_p = 0.01;  // good -> bad
  p.ge_r = 0.25;  // bad -> good: bursts of 4 on average
  d.set(p, 0ms);
  std::vector<bool> lost;
  for (std::uint32_t i = 0; i < 100000; ++i) {
    d.arrive(Time(std::chrono::microseconds(i)), 0, 100);
    d.run(Time(std::chrono::microseconds(i)), [&](std::uint32_t, Time) { lost.push_back(false); },
          [&](std::uint32_t) { lost.push_back(true); });
  }
  std::size_t losses = 0, bursts = 0;
  for (std::size_t i = 0; i < lost.size(); ++i) {
    losses += lost[i];
    bursts += lost[i] && (i == 0 || !lost[i - 1]);
  }
  EXPECT_NEAR(double(losses) / lost.size(), 0.01 / (0.01 + 0.25), 0.006);
  EXPECT_NEAR(double(losses) / bursts, 4.0, 0.6);
}

TEST(Linkem, JitterVariesDelayButKeepsOrder) {
  Direction d(4096, 3);
  Params p;
  p.delay = 4ms;
  p.jitter = 2ms;
  d.set(p, 0ms);
  for (std::uint32_t i = 0; i < 1000; ++i) d.arrive(Time(std::chrono::microseconds(i * 100)), i, 200);
  const auto out = run_until(d, 0ms, 200ms);
  ASSERT_EQ(out.size(), 1000u);
  Time min_delay = Time::max(), max_delay{0};
  for (std::uint32_t i = 0; i < out.size(); ++i) {
    EXPECT_EQ(out[i].slot, i);
    const Time delay = out[i].at - Time(std::chrono::microseconds(i * 100));
    min_delay = std::min(min_delay, delay);
    max_delay = std::max(max_delay, delay);
  }
  EXPECT_GE(min_delay, Time(4ms));
  EXPECT_LE(max_delay, Time(6ms) + Time(100us));  // the step of run_until
  EXPECT_GT(max_delay - min_delay, Time(1ms));
}

TEST(Linkem, ReorderLetsSomeFramesOvertake) {
  Direction d(4096, 5);
  Params p;
  p.delay = 4ms;
  p.jitter = 2ms;
  p.reorder = 0.5;
  d.set(p, 0ms);
  for (std::uint32_t i = 0; i < 1000; ++i) d.arrive(Time(std::chrono::microseconds(i * 100)), i, 200);
  const auto out = run_until(d, 0ms, 200ms);
  ASSERT_EQ(out.size(), 1000u);
  int overtaken = 0;
  for (std::size_t i = 1; i < out.size(); ++i) overtaken += out[i].slot < out[i - 1].slot;
  EXPECT_GT(overtaken, 10);
}

TEST(Linkem, OutagesDropEverythingForTheirLength) {
  Direction d(64);
  Params p;
  p.outage_every = 1s;
  p.outage_for = 200ms;
  d.set(p, Time(0ms));
  EXPECT_FALSE(d.arrive(Time(100ms), 0, 100));
  EXPECT_TRUE(d.arrive(Time(300ms), 1, 100));
  EXPECT_FALSE(d.arrive(Time(1150ms), 2, 100));
  EXPECT_TRUE(d.arrive(Time(1250ms), 3, 100));
  EXPECT_EQ(d.counters().drop_outage, 2u);
}

TEST(Linkem, WordsSetEveryParameter) {
  Params p;
  ASSERT_FALSE(apply_words("rate=20mbit delay=4ms jitter=500us loss=30% reorder=0.01 queue=150kB "
                           "ge=1%,25%,80% outage=200ms/15s",
                           ".", p));
  EXPECT_EQ(p.rate_bps, 20'000'000u);
  EXPECT_EQ(p.delay, Time(4ms));
  EXPECT_EQ(p.jitter, Time(500us));
  EXPECT_DOUBLE_EQ(p.loss, 0.3);
  EXPECT_DOUBLE_EQ(p.reorder, 0.01);
  EXPECT_EQ(p.queue_bytes, 150000u);
  EXPECT_DOUBLE_EQ(p.ge_p, 0.01);
  EXPECT_DOUBLE_EQ(p.ge_r, 0.25);
  EXPECT_DOUBLE_EQ(p.ge_loss_bad, 0.8);
  EXPECT_EQ(p.outage_for, Time(200ms));
  EXPECT_EQ(p.outage_every, Time(15s));
}

TEST(Linkem, BadWordsNameTheirColumnAndReason) {
  Params p;
  auto e = apply_words("delay=4ms loss=130%", ".", p);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->column, 11u);
  EXPECT_NE(e->reason.find("loss"), std::string::npos);
  EXPECT_TRUE(apply_words("speed=3", ".", p));
  EXPECT_TRUE(apply_words("rate", ".", p));
  EXPECT_TRUE(apply_words("outage=15s/200ms", ".", p));
  EXPECT_TRUE(apply_words("queue=10", ".", p));
}

TEST(Linkem, ProfileErrorsNameFileLineAndColumn) {
  const auto path = temp_file("bad.profile", "# comment\nboth delay=4ms\nup rate=fast\n");
  std::string error;
  EXPECT_FALSE(load_profile(path, error));
  EXPECT_EQ(error, path.string() + ":3:4: rate: expected a rate such as 20mbit, 800kbit or 0, got \"fast\"");
}

TEST(Linkem, ProfileLoadsTracesRelativeToItself) {
  temp_file("two.trace", "5\n5\n10\n");
  const auto path = temp_file("good.profile", "both delay=20ms queue=250kB\nup trace=linkem_test_two.trace\n");
  std::string error;
  const auto profile = load_profile(path, error);
  ASSERT_TRUE(profile) << error;
  ASSERT_TRUE(profile->up.trace);
  EXPECT_FALSE(profile->down.trace);
  EXPECT_EQ(profile->up.trace->period_ms, 10u);
  EXPECT_EQ(profile->down.delay, Time(20ms));
  EXPECT_NEAR(profile->up.trace->mean_bits_per_second(), 3.6e6, 1);
}

TEST(Linkem, ShippedProfilesAllLoad) {
  int loaded = 0;
  for (const auto& entry : std::filesystem::directory_iterator(TUND_SOURCE_DIR "/bench/linkem/profiles")) {
    std::string error;
    EXPECT_TRUE(load_profile(entry.path(), error)) << error;
    ++loaded;
  }
  EXPECT_GE(loaded, 6);
}
