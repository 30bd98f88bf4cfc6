// Rate-limited logging: a burst passes, the rest are counted, and the count
// comes with the first line of the next window.
#include <gtest/gtest.h>

#include <thread>

#include "daemon/log.hpp"

namespace tund {
namespace {

int count_lines(const std::string& s, const std::string& what) {
  int n = 0;
  for (std::size_t p = s.find(what); p != std::string::npos; p = s.find(what, p + 1)) ++n;
  return n;
}

TEST(Log, RateLimitedPassesABurstThenCountsTheRest) {
  log::RateLimited limited(3, std::chrono::milliseconds(50));
  testing::internal::CaptureStderr();
  for (int i = 0; i < 10; ++i) limited.write(log::Level::kNotice, "uplink flapped");
  std::this_thread::sleep_for(std::chrono::milliseconds(60));
  limited.write(log::Level::kNotice, "uplink flapped");
  const std::string out = testing::internal::GetCapturedStderr();
  EXPECT_EQ(count_lines(out, "uplink flapped"), 4);
  EXPECT_EQ(count_lines(out, "(7 similar messages suppressed before this one)"), 1);
}

}  // namespace
}  // namespace tund
