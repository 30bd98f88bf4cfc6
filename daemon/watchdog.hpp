// systemd's watchdog (WatchdogSec= in the units): WATCHDOG=1 from the
// daemon's own event loop every interval / limits::kWatchdogPingFraction.
// The ping is a timer handler like any other, so it goes out only while the
// loop runs its handlers: one that never returns (a wedged loop, a deadlock)
// stops the pings, and systemd kills the unit with SIGABRT and restarts it
// (a watchdog timeout is a failure for Restart=on-failure). A loop that
// merely gets busy keeps pinging: the interval is seconds, a handler's batch
// is microseconds.
//
// Started by cli::run_daemon for both daemons, after the daemon is built (the
// watchdog runs from READY=1 on). Nothing when systemd asked for no watchdog
// (no $WATCHDOG_USEC, or $WATCHDOG_PID names another process).
#pragma once

#include <chrono>

#include "daemon/event_sources.hpp"
#include "daemon/sd_notify.hpp"

namespace tund::daemon {

class Watchdog {
 public:
  Watchdog(asio::io_context& io, SdNotify& notify);
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  // How often WATCHDOG=1 goes out; zero: never (no watchdog asked for).
  std::chrono::microseconds ping_every() const { return every_; }

 private:
  void ping();

  SdNotify& notify_;
  DeadlineTimer timer_;
  std::chrono::microseconds every_{0};
};

}  // namespace tund::daemon
