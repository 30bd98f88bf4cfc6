// The system bus (libsystemd's sd-bus) inside the caller's Asio loop: no
// thread, no blocking call. The bus's fd wakes the loop when sd-bus wants to
// read or write, and a timer when one of its calls times out; either way
// sd_bus_process runs its callbacks there. After queuing a call or a match,
// call arm(). Used by netmon/system_metered (NetworkManager) and
// daemon/resolved_link (systemd-resolved).
//
// No system bus: bus() is null and open_error() says why. A bus lost later
// (dbus restarting) is closed and `on_lost` runs once, on the loop; pending
// calls' callbacks never run then.
#pragma once

#include <functional>

#include <systemd/sd-bus.h>

#include "daemon/asio.hpp"

namespace tund::daemon {

class BusLoop {
 public:
  using OnLost = std::function<void(int error)>;
  BusLoop(asio::io_context& io, OnLost on_lost);
  ~BusLoop();
  BusLoop(const BusLoop&) = delete;
  BusLoop& operator=(const BusLoop&) = delete;

  sd_bus* bus() const { return bus_; }
  int open_error() const { return open_error_; }  // a negative errno, 0 when open
  void arm();

 private:
  void process();
  void close();

  OnLost on_lost_;
  sd_bus* bus_ = nullptr;
  int open_error_ = 0;
  asio::posix::stream_descriptor fd_;
  asio::steady_timer timeout_;
  bool waiting_ = false;
};

}  // namespace tund::daemon
