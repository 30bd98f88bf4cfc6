#include "daemon/watchdog.hpp"

#include <systemd/sd-daemon.h>

#include <algorithm>
#include <cstdint>

#include "daemon/clock.hpp"
#include "tund/limits.hpp"

namespace tund::daemon {

Watchdog::Watchdog(asio::io_context& io, SdNotify& notify) : notify_(notify), timer_(io, [this] { ping(); }) {
  std::uint64_t usec = 0;
  // > 0: WatchdogSec= is set for this process (it checks $WATCHDOG_PID too).
  if (!notify_.enabled() || sd_watchdog_enabled(0, &usec) <= 0 || usec == 0) return;
  every_ = std::max<std::chrono::microseconds>(std::chrono::microseconds(usec) / limits::kWatchdogPingFraction,
                                              limits::kWatchdogMinPing);
  ping();
}

void Watchdog::ping() {
  notify_.send("WATCHDOG=1");
  // From now, not from the last deadline: after a stall the pings resume at
  // their pace instead of catching up in a burst.
  timer_.arm(now() + every_);
}

}  // namespace tund::daemon
