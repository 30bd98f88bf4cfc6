#include "daemon/tun_device.hpp"

#include <fcntl.h>
#include <net/if.h>
#include <linux/if_tun.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>

namespace tund::daemon {

namespace {
[[noreturn]] void throw_errno(const std::string& what) {
  throw std::system_error(errno, std::generic_category(), what);
}
}  // namespace

TunDevice::TunDevice(const std::string& name, unsigned mtu) : mtu_(mtu) {
  if (name.empty() || name.size() >= IFNAMSIZ) throw std::system_error(EINVAL, std::generic_category(), "TUN name '" + name + "'");
  fd_ = ::open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd_ < 0) throw_errno("open /dev/net/tun");
  ifreq ifr{};
  ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
  std::strncpy(ifr.ifr_name, name.c_str(), IFNAMSIZ - 1);
  if (::ioctl(fd_, TUNSETIFF, &ifr) < 0) {
    const int e = errno;
    ::close(fd_);
    errno = e;
    throw_errno("TUNSETIFF " + name);
  }
  name_ = ifr.ifr_name;
  ifindex_ = static_cast<int>(if_nametoindex(name_.c_str()));

  // MTU and link up through a throwaway socket: device setup, not routing.
  const int s = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) throw_errno("socket");
  ifreq req{};
  std::strncpy(req.ifr_name, name_.c_str(), IFNAMSIZ - 1);
  req.ifr_mtu = static_cast<int>(mtu);
  if (::ioctl(s, SIOCSIFMTU, &req) < 0) {
    ::close(s);
    throw_errno("set MTU of " + name_);
  }
  if (::ioctl(s, SIOCGIFFLAGS, &req) < 0 || (req.ifr_flags |= IFF_UP, ::ioctl(s, SIOCSIFFLAGS, &req) < 0)) {
    ::close(s);
    throw_errno("bring up " + name_);
  }
  ::close(s);
}

TunDevice::~TunDevice() {
  if (fd_ >= 0) ::close(fd_);
}

long TunDevice::read_packet(MutableBytes buf) {
  const ssize_t n = ::read(fd_, buf.data(), buf.size());
  if (n >= 0) return n;
  return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -1;
}

bool TunDevice::write_packet(Bytes packet) {
  return ::write(fd_, packet.data(), packet.size()) == static_cast<ssize_t>(packet.size());
}

}  // namespace tund::daemon
