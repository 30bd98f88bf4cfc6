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
#include <utility>

#include "offload/vnet_header.hpp"

namespace tund::daemon {

namespace {
// Not in Debian 12's headers; the kernel has had them since 6.2.
constexpr unsigned kTunUso4 = 0x20;
constexpr unsigned kTunUso6 = 0x40;

[[noreturn]] void throw_errno(const std::string& what) {
  throw std::system_error(errno, std::generic_category(), what);
}
}  // namespace

TunDevice::TunDevice(const std::string& name, unsigned mtu, bool offload) : mtu_(mtu) {
  if (name.empty() || name.size() >= IFNAMSIZ) throw std::system_error(EINVAL, std::generic_category(), "TUN name '" + name + "'");
  fd_ = ::open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd_ < 0) throw_errno("open /dev/net/tun");
  ifreq ifr{};
  ifr.ifr_flags = IFF_TUN | IFF_NO_PI | IFF_VNET_HDR;
  std::strncpy(ifr.ifr_name, name.c_str(), IFNAMSIZ - 1);
  if (::ioctl(fd_, TUNSETIFF, &ifr) < 0) {
    const int e = errno;
    ::close(fd_);
    errno = e;
    throw_errno("TUNSETIFF " + name);
  }
  name_ = ifr.ifr_name;
  // The kernel's default vnet header is the 10-byte one; say so explicitly.
  int hdr = static_cast<int>(offload::kVnetHeaderSize);
  if (::ioctl(fd_, TUNSETVNETHDRSZ, &hdr) < 0) {
    const int e = errno;
    ::close(fd_);
    errno = e;
    throw_errno("TUNSETVNETHDRSZ " + name_);
  }
  // USO (Linux 6.2+) first, then TSO only, then checksum only, then nothing.
  constexpr unsigned kTso = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6;
  for (unsigned want : {kTso | kTunUso4 | kTunUso6, kTso, unsigned(TUN_F_CSUM), 0u}) {
    if (!offload && want) continue;
    if (::ioctl(fd_, TUNSETOFFLOAD, want) == 0) {
      offloads_ = want;
      break;
    }
  }
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

std::string TunDevice::offloads_string() const {
  std::string s;
  const std::pair<unsigned, const char*> names[] = {
      {TUN_F_CSUM, "csum"}, {TUN_F_TSO4, "tso4"}, {TUN_F_TSO6, "tso6"}, {kTunUso4, "uso4"}, {kTunUso6, "uso6"}};
  for (const auto& [bit, name] : names)
    if (offloads_ & bit) s += (s.empty() ? "" : ",") + std::string(name);
  return s.empty() ? "none" : s;
}

bool TunDevice::write_packet(Bytes packet) {
  return ::write(fd_, packet.data(), packet.size()) == static_cast<ssize_t>(packet.size());
}

}  // namespace tund::daemon
