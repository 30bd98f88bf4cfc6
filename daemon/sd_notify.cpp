#include "daemon/sd_notify.hpp"

#include <systemd/sd-daemon.h>

#include <cstdlib>

namespace tund::daemon {

// Read once: sd_notify reads $NOTIFY_SOCKET itself on every call, this only
// spares building messages nobody receives.
SdNotify::SdNotify() {
  const char* socket = std::getenv("NOTIFY_SOCKET");
  enabled_ = socket && *socket;
}

void SdNotify::send(std::string_view state) {
  if (!enabled_) return;
  const std::string text(state);  // sd_notify takes a C string
  (void)sd_notify(0, text.c_str());
}

void SdNotify::status(const std::string& status) {
  if (!enabled_ || !ready_ || status == last_status_) return;
  last_status_ = status;
  send("STATUS=" + status);
}

}  // namespace tund::daemon
