// The systemd notification protocol, written out (no libsystemd): one
// datagram of "KEY=value" lines to the unix socket named by $NOTIFY_SOCKET
// ('@' = abstract namespace). Units are Type=notify: READY=1 once the daemon
// is serving, STATUS= a one-line state that changes with it.
// Without $NOTIFY_SOCKET (not under systemd) every call does nothing.
#pragma once

#include <string>
#include <string_view>

namespace tund::daemon {

class SdNotify {
 public:
  SdNotify();
  ~SdNotify();
  SdNotify(const SdNotify&) = delete;
  SdNotify& operator=(const SdNotify&) = delete;

  bool enabled() const { return fd_ >= 0; }
  void send(std::string_view state);
  void ready(const std::string& status) {
    ready_ = true;
    last_status_ = status;
    send("READY=1\nSTATUS=" + status);
  }
  // Sends STATUS= only when it differs from the last one sent.
  void status(const std::string& status);

 private:
  int fd_ = -1;
  std::string path_;
  std::string last_status_;
  bool ready_ = false;  // STATUS= only after READY=1
};

}  // namespace tund::daemon
