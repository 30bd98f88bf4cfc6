#include "daemon/sd_notify.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstddef>
#include <cstdlib>
#include <cstring>

namespace tund::daemon {

SdNotify::SdNotify() {
  const char* path = std::getenv("NOTIFY_SOCKET");
  if (!path || !*path || std::strlen(path) >= sizeof(sockaddr_un::sun_path)) return;
  if (path[0] != '/' && path[0] != '@') return;
  path_ = path;
  fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
}

SdNotify::~SdNotify() {
  if (fd_ >= 0) ::close(fd_);
}

void SdNotify::send(std::string_view state) {
  if (fd_ < 0) return;
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  std::memcpy(sa.sun_path, path_.data(), path_.size());
  if (sa.sun_path[0] == '@') sa.sun_path[0] = '\0';
  const auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path_.size());
  // Best effort: systemd not listening is not the daemon's failure.
  (void)::sendto(fd_, state.data(), state.size(), MSG_NOSIGNAL, reinterpret_cast<sockaddr*>(&sa), len);
}

void SdNotify::status(const std::string& status) {
  if (fd_ < 0 || !ready_ || status == last_status_) return;
  last_status_ = status;
  send("STATUS=" + status);
}

}  // namespace tund::daemon
