// The systemd glue without systemd: a unix datagram socket in the abstract
// namespace stands in for the notification socket ($NOTIFY_SOCKET), and the
// watchdog's pings are driven by a plain io_context. A handler that blocks
// the loop must stop the pings; they resume, without a burst, when it returns.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <iterator>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "daemon/log.hpp"
#include "daemon/sd_notify.hpp"
#include "daemon/watchdog.hpp"

namespace tund {
namespace {

using namespace std::chrono_literals;
using Stamp = std::chrono::steady_clock::time_point;

// Sets an environment variable for one test and restores it after.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::string& value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    ::setenv(name, value.c_str(), 1);
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;
  ~ScopedEnv() {
    if (old_.empty()) ::unsetenv(name_);
    else ::setenv(name_, old_.c_str(), 1);
  }

 private:
  const char* name_;
  std::string old_;
};

// systemd's end: receives each datagram on a thread and stamps its arrival.
class NotifySocket {
 public:
  struct Datagram {
    std::string text;
    Stamp at;
  };
  NotifySocket() : fd_(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) {
    name_ = "@tund-notify-test-" + std::to_string(::getpid());
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::copy(name_.begin(), name_.end(), a.sun_path);
    a.sun_path[0] = '\0';  // abstract: nothing left on disk
    const auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name_.size());
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&a), len), 0);
    timeval tv{0, 20000};  // the reader looks at stop_ this often
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    env_.emplace("NOTIFY_SOCKET", name_);
    reader_ = std::thread([this] {
      char buf[4096];
      while (!stop_) {
        const auto n = ::recv(fd_, buf, sizeof buf, 0);
        if (n <= 0) continue;
        std::lock_guard lock(mutex_);
        got_.push_back({std::string(buf, static_cast<std::size_t>(n)), std::chrono::steady_clock::now()});
      }
    });
  }
  ~NotifySocket() {
    stop_ = true;
    reader_.join();
    ::close(fd_);
  }
  // What arrived so far, after a moment for datagrams in flight.
  std::vector<Datagram> received() {
    std::this_thread::sleep_for(50ms);
    std::lock_guard lock(mutex_);
    return got_;
  }
  std::vector<Stamp> pings() {
    std::vector<Stamp> out;
    for (const auto& d : received())
      if (d.text == "WATCHDOG=1") out.push_back(d.at);
    return out;
  }

 private:
  int fd_;
  std::string name_;
  std::optional<ScopedEnv> env_;
  std::thread reader_;
  std::atomic<bool> stop_{false};
  std::mutex mutex_;
  std::vector<Datagram> got_;
};

auto ms(std::chrono::steady_clock::duration d) { return std::chrono::duration_cast<std::chrono::milliseconds>(d).count(); }

TEST(SdNotify, SaysReadyStatusOnlyWhenItChangesAndStopping) {
  NotifySocket systemd;
  daemon::SdNotify notify;
  ASSERT_TRUE(notify.enabled());
  notify.status("before ready");  // STATUS= waits for READY=1
  notify.ready("starting");
  notify.status("starting");  // unchanged: not sent again
  notify.status("connected via wlan0");
  notify.stopping();
  const auto got = systemd.received();
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].text, "READY=1\nSTATUS=starting");
  EXPECT_EQ(got[1].text, "STATUS=connected via wlan0");
  EXPECT_EQ(got[2].text, "STOPPING=1");
}

TEST(SdNotify, NotUnderSystemdDoesNothingAndNoWatchdogRuns) {
  ScopedEnv watchdog("WATCHDOG_USEC", "200000");
  ::unsetenv("NOTIFY_SOCKET");
  daemon::SdNotify notify;
  EXPECT_FALSE(notify.enabled());
  notify.ready("x");  // no socket: nothing happens, nothing breaks
  asio::io_context io;
  daemon::Watchdog dog(io, notify);
  EXPECT_EQ(dog.ping_every().count(), 0);
  EXPECT_EQ(io.run_for(100ms), 0u);  // no timer armed: the loop has no work
}

TEST(Watchdog, NoneWhenTheUnitAsksNoneOrNamesAnotherProcess) {
  NotifySocket systemd;
  daemon::SdNotify notify;
  asio::io_context io;
  ::unsetenv("WATCHDOG_USEC");
  EXPECT_EQ(daemon::Watchdog(io, notify).ping_every().count(), 0);
  ScopedEnv usec("WATCHDOG_USEC", "200000");
  ScopedEnv pid("WATCHDOG_PID", std::to_string(::getpid() + 1));  // meant for a parent or child
  EXPECT_EQ(daemon::Watchdog(io, notify).ping_every().count(), 0);
  EXPECT_TRUE(systemd.pings().empty());
}

// WatchdogSec=400ms, as systemd says it: a ping every 200 ms, the first at once.
class WatchdogAt400ms : public testing::Test {
 protected:
  NotifySocket systemd;  // first: sets $NOTIFY_SOCKET
  ScopedEnv usec{"WATCHDOG_USEC", "400000"};
  daemon::SdNotify notify;
  asio::io_context io;
  daemon::Watchdog dog{io, notify};
};

TEST_F(WatchdogAt400ms, PingsAtHalfTheIntervalFromTheLoop) {
  EXPECT_EQ(dog.ping_every(), 200ms);
  io.run_for(1100ms);
  const auto pings = systemd.pings();
  // 0, 200, ..., 1000 ms: six; a loaded machine may lose the last one.
  EXPECT_GE(pings.size(), 5u);
  EXPECT_LE(pings.size(), 6u);
  for (std::size_t i = 1; i < pings.size(); ++i) {
    EXPECT_GE(ms(pings[i] - pings[i - 1]), 180) << "ping " << i;
    EXPECT_LE(ms(pings[i] - pings[i - 1]), 350) << "ping " << i;
  }
}

// A handler that blocks the loop longer than the interval (systemd would
// kill the unit): no ping meanwhile; afterwards one at once, then the pace.
TEST_F(WatchdogAt400ms, AWedgedLoopStopsThePingsUntilItRunsAgain) {
  Stamp wedge_start, wedge_end;
  asio::steady_timer wedge(io, 300ms);
  wedge.async_wait([&](boost::system::error_code) {
    wedge_start = std::chrono::steady_clock::now();
    std::this_thread::sleep_for(700ms);
    wedge_end = std::chrono::steady_clock::now();
  });
  io.run_for(1500ms);
  const auto pings = systemd.pings();
  std::size_t during = 0, after = 0;
  for (const auto& p : pings) {
    during += p > wedge_start + 10ms && p < wedge_end ? 1 : 0;
    after += p >= wedge_end ? 1 : 0;
  }
  EXPECT_EQ(during, 0u);
  EXPECT_GE(after, 2u);  // at once, +200, +400 ms (a loaded machine may lose the last)
  EXPECT_LE(after, 3u);  // no burst of the missed ones
  Stamp first_after = wedge_end + 1h;
  for (const auto& p : pings)
    if (p >= wedge_end && p < first_after) first_after = p;
  EXPECT_LE(ms(first_after - wedge_end), 100);
}

TEST(Journal, StderrIsTheJournalOnlyWhenDeviceAndInodeMatch) {
  EXPECT_TRUE(log::journal_stream_is("8:1234", 8, 1234));
  EXPECT_FALSE(log::journal_stream_is("8:1235", 8, 1234));
  EXPECT_FALSE(log::journal_stream_is("9:1234", 8, 1234));
  for (const char* bad : {"", "8", "8:", ":1234", "8:1234x", "x8:1234", "8;1234", "-8:1234"})
    EXPECT_FALSE(log::journal_stream_is(bad, 8, 1234)) << bad;
}

// Not under the journal (ctest's stderr is a pipe), an event is its line.
TEST(Journal, AnEventOutsideTheJournalIsThePlainLine) {
  ASSERT_FALSE(log::under_journal());
  testing::internal::CaptureStderr();
  log::event(log::kUplinkSwitch, log::Level::kNotice, "hub main: uplink wlan0 (IPv4) -> lte0 (IPv4) (switch lte0)",
             {{"TUND_HUB", "main"}, {"TUND_UPLINK_FROM", "wlan0"}, {"TUND_UPLINK_TO", "lte0"}});
  const std::string out = testing::internal::GetCapturedStderr();
  EXPECT_NE(out.find("notice: hub main: uplink wlan0 (IPv4) -> lte0 (IPv4) (switch lte0)\n"), std::string::npos) << out;
  EXPECT_EQ(out.find("TUND_"), std::string::npos) << out;
}

TEST(Journal, MessageIdsAre128BitHexAndDistinct) {
  const log::Event all[] = {log::kUplinkSwitch, log::kSessionConnected, log::kSessionLost, log::kClientSessionStarted,
                            log::kClientSessionEnded};
  for (std::size_t i = 0; i < std::size(all); ++i) {
    EXPECT_EQ(all[i].message_id.size(), 32u);
    EXPECT_EQ(all[i].message_id.find_first_not_of("0123456789abcdef"), std::string_view::npos);
    for (std::size_t j = 0; j < i; ++j) EXPECT_NE(all[i].message_id, all[j].message_id);
  }
}

}  // namespace
}  // namespace tund
