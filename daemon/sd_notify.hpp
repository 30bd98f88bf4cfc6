// Telling systemd how the daemon is, through libsystemd's sd_notify(3): the
// protocol is stable, but libsystemd is what every systemd host already has,
// and it keeps up with the protocol's corners (abstract sockets, credentials)
// so this code does not.
// Units are Type=notify: READY=1 once the daemon is serving, STATUS= a
// one-line state that changes with it, RELOADING=1 around a reload, STOPPING=1
// when an explicit stop begins, WATCHDOG=1 from the event loop (Watchdog,
// daemon/watchdog.hpp). Without $NOTIFY_SOCKET (not under systemd) every
// call does nothing.
#pragma once

#include <string>
#include <string_view>

namespace tund::daemon {

class SdNotify {
 public:
  SdNotify();
  SdNotify(const SdNotify&) = delete;
  SdNotify& operator=(const SdNotify&) = delete;

  bool enabled() const { return enabled_; }
  // Best effort: systemd not listening is not the daemon's failure.
  void send(std::string_view state);
  void ready(const std::string& status) {
    ready_ = true;
    last_status_ = status;
    send("READY=1\nSTATUS=" + status);
  }
  // Sends STATUS= only when it differs from the last one sent.
  void status(const std::string& status);
  // An explicit stop (SIGTERM, SIGINT, a finished drain) has begun: systemd
  // shows the unit as deactivating, not as a service that died.
  void stopping() { send("STOPPING=1"); }

 private:
  bool enabled_ = false;
  std::string last_status_;
  bool ready_ = false;  // STATUS= only after READY=1
};

}  // namespace tund::daemon
