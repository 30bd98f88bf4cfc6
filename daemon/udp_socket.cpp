#include "daemon/udp_socket.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/udp.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>

#include "daemon/log.hpp"
#include "tund/limits.hpp"

namespace tund::daemon {

namespace {
// The kernel's limits for one UDP GSO message: segments, and an IPv4 datagram.
constexpr std::size_t kMaxGsoSegments = limits::kUdpGsoSegments;
constexpr std::size_t kMaxGsoBytes = 65535 - 20 - 8;
constexpr int kSendWaitMs = limits::kUdpSendWaitMs;

// The ::ffff:0:0/96 prefix: an IPv4 address as a dual-stack socket sees it.
constexpr std::uint8_t kMappedPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
}  // namespace

socklen_t to_sockaddr(const Endpoint& e, int socket_family, sockaddr_in6& storage) {
  std::memset(&storage, 0, sizeof storage);
  if (socket_family == AF_INET) {
    auto& sa = reinterpret_cast<sockaddr_in&>(storage);
    sa.sin_family = AF_INET;
    std::memcpy(&sa.sin_addr, e.addr.data(), 4);
    sa.sin_port = htons(e.port);
    return sizeof(sockaddr_in);
  }
  storage.sin6_family = AF_INET6;
  storage.sin6_port = htons(e.port);
  if (e.family == 4) {
    std::memcpy(storage.sin6_addr.s6_addr, kMappedPrefix, 12);
    std::memcpy(storage.sin6_addr.s6_addr + 12, e.addr.data(), 4);
  } else {
    std::memcpy(storage.sin6_addr.s6_addr, e.addr.data(), 16);
  }
  return sizeof(sockaddr_in6);
}

Endpoint from_sockaddr(const sockaddr_in6& storage) {
  Endpoint e;
  if (storage.sin6_family == AF_INET) {
    const auto& sa = reinterpret_cast<const sockaddr_in&>(storage);
    e.family = 4;
    std::memcpy(e.addr.data(), &sa.sin_addr, 4);
    e.port = ntohs(sa.sin_port);
    return e;
  }
  e.port = ntohs(storage.sin6_port);
  if (std::memcmp(storage.sin6_addr.s6_addr, kMappedPrefix, 12) == 0) {
    e.family = 4;  // one peer has one Endpoint, whichever socket heard it
    std::memcpy(e.addr.data(), storage.sin6_addr.s6_addr + 12, 4);
  } else {
    e.family = 6;
    std::memcpy(e.addr.data(), storage.sin6_addr.s6_addr, 16);
  }
  return e;
}

// The packet buffers are zeroed, so every page is resident from the start: a
// burst later finds its memory committed (no page faults on the packet path,
// no OOM kill mid-handover), and RSS stays flat, so growth means a leak.
DatagramBatch::DatagramBatch() : storage_(new std::uint8_t[kBatch * kBufferSize]()) {}

TxBatch::TxBatch(std::size_t slots, std::size_t stride)
    : stride_(stride),
      storage_(new std::uint8_t[slots * stride]()),  // resident from the start, as above
      entries_(slots),
      iov_(slots),
      msgs_(slots),
      addrs_(slots),
      control_(slots) {
  jobs.reserve(slots);
}

UdpSocket::UdpSocket(const Options& o) {
  // A wildcard or IPv6 bind gets one dual-stack socket for both families; an
  // IPv4 address, or a host without IPv6, an IPv4 socket.
  const bool v4_only = o.bind.family == 4 && !o.bind.unspecified();
  family_ = v4_only ? AF_INET : AF_INET6;
  fd_ = ::socket(family_, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd_ < 0 && family_ == AF_INET6 && errno == EAFNOSUPPORT && o.bind.family != 6) {
    family_ = AF_INET;
    fd_ = ::socket(family_, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  }
  if (fd_ < 0) throw std::system_error(errno, std::generic_category(), "socket");
  auto fail = [this](const char* what) {
    const int e = errno;
    ::close(fd_);
    fd_ = -1;
    throw std::system_error(e, std::generic_category(), what);
  };
  // Large buffers absorb bursts between event-loop turns; FORCE works as root.
  for (int opt : {SO_RCVBUFFORCE, SO_SNDBUFFORCE}) {
    if (::setsockopt(fd_, SOL_SOCKET, opt, &o.buffer_bytes, sizeof o.buffer_bytes) < 0) {
      const int plain = opt == SO_RCVBUFFORCE ? SO_RCVBUF : SO_SNDBUF;
      ::setsockopt(fd_, SOL_SOCKET, plain, &o.buffer_bytes, sizeof o.buffer_bytes);
    }
  }
  if (o.fwmark && ::setsockopt(fd_, SOL_SOCKET, SO_MARK, &o.fwmark, sizeof o.fwmark) < 0) fail("SO_MARK");
  if (!o.device.empty() &&
      ::setsockopt(fd_, SOL_SOCKET, SO_BINDTODEVICE, o.device.c_str(), static_cast<socklen_t>(o.device.size())) < 0)
    fail("SO_BINDTODEVICE");
  if (o.offload) {
    const int one = 1;
    gro_ = ::setsockopt(fd_, SOL_UDP, UDP_GRO, &one, sizeof one) == 0;
    // GSO is asked per message; a kernel without it fails the first send.
    gso_ = true;
  }
  if (family_ == AF_INET6) {
    // [::] takes IPv4 too; a specific IPv6 address only IPv6.
    const int v6only = o.bind.family == 6 && !o.bind.unspecified() ? 1 : 0;
    if (::setsockopt(fd_, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof v6only) < 0) fail("IPV6_V6ONLY");
    v6only_ = v6only == 1;
  }
  // Datagrams never fragment: a path's MTU is what its probes find
  // (RFC 8899), not what ICMP or the route cache says.
  const int probe = IP_PMTUDISC_PROBE;
  ::setsockopt(fd_, IPPROTO_IP, IP_MTU_DISCOVER, &probe, sizeof probe);
  if (family_ == AF_INET6) {
    const int probe6 = IPV6_PMTUDISC_PROBE;
    ::setsockopt(fd_, IPPROTO_IPV6, IPV6_MTU_DISCOVER, &probe6, sizeof probe6);
  }
  sockaddr_in6 sa{};
  Endpoint bind = o.bind;
  if (!bind.valid()) bind.family = family_ == AF_INET ? 4 : 6;
  const socklen_t len = to_sockaddr(bind, family_, sa);
  if (::bind(fd_, reinterpret_cast<sockaddr*>(&sa), len) < 0) fail("bind");
}

UdpSocket::~UdpSocket() {
  if (fd_ >= 0) ::close(fd_);
}

void UdpSocket::receive(DatagramBatch& b) {
  for (std::size_t i = 0; i < kBatch; ++i) {
    b.iov_[i] = {b.data(i), kBufferSize};
    auto& h = b.msgs_[i].msg_hdr;
    h = {};
    h.msg_name = &b.addrs_[i];
    h.msg_namelen = sizeof(sockaddr_in6);
    h.msg_iov = &b.iov_[i];
    h.msg_iovlen = 1;
    if (gro_) {
      h.msg_control = b.control_[i].bytes;
      h.msg_controllen = sizeof b.control_[i].bytes;
    }
  }
  const int n = ::recvmmsg(fd_, b.msgs_.data(), kBatch, MSG_DONTWAIT, nullptr);
  b.count = n > 0 ? static_cast<std::size_t>(n) : 0;
  for (std::size_t i = 0; i < b.count; ++i) {
    b.lengths_[i] = b.msgs_[i].msg_len;
    b.peers_[i] = from_sockaddr(b.addrs_[i]);
    b.segments_[i] = 0;
    auto& h = b.msgs_[i].msg_hdr;
    for (cmsghdr* c = gro_ ? CMSG_FIRSTHDR(&h) : nullptr; c; c = CMSG_NXTHDR(&h, c)) {
      if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO) {
        int size = 0;
        std::memcpy(&size, CMSG_DATA(c), sizeof size);
        if (size > 0 && static_cast<std::size_t>(size) < b.lengths_[i]) b.segments_[i] = static_cast<std::size_t>(size);
      }
    }
  }
}

std::size_t UdpSocket::send(TxBatch& b, std::size_t begin, std::size_t end) {
  // Build one message per run of datagrams that GSO can carry together: same
  // destination, same size (the last of a run may be shorter).
  std::size_t messages = 0, iov_used = 0;
  std::size_t fragmentable = 0;
  for (std::size_t i = begin; i < end;) {
    if (!b.entries_[i].len || b.entries_[i].fragment) {
      fragmentable += b.entries_[i].len ? 1 : 0;
      ++i;
      continue;
    }
    const auto& first = b.entries_[i];
    std::size_t j = i, bytes = 0;
    while (j < end && b.entries_[j].len && !b.entries_[j].fragment && j - i < (gso_ ? kMaxGsoSegments : 1) &&
           b.entries_[j].len <= first.len && b.entries_[j].to == first.to &&
           bytes + b.entries_[j].len <= kMaxGsoBytes) {
      bytes += b.entries_[j].len;
      b.iov_[iov_used + (j - i)] = {b.slot(j), b.entries_[j].len};
      ++j;
      if (b.entries_[j - 1].len < first.len) break;  // a short one ends the run
    }
    auto& h = b.msgs_[messages].msg_hdr;
    h = {};
    h.msg_name = &b.addrs_[messages];
    h.msg_namelen = to_sockaddr(first.to, family_, b.addrs_[messages]);
    h.msg_iov = &b.iov_[iov_used];
    h.msg_iovlen = j - i;
    if (j - i > 1) {
      auto& ctl = b.control_[messages];
      h.msg_control = ctl.bytes;
      h.msg_controllen = sizeof ctl.bytes;
      cmsghdr* c = CMSG_FIRSTHDR(&h);
      c->cmsg_level = SOL_UDP;
      c->cmsg_type = UDP_SEGMENT;
      c->cmsg_len = CMSG_LEN(sizeof(std::uint16_t));
      const auto seg = static_cast<std::uint16_t>(first.len);
      std::memcpy(CMSG_DATA(c), &seg, sizeof seg);
    }
    iov_used += j - i;
    ++messages;
    i = j;
  }

  std::size_t sent = 0, done = 0;
  bool waited = false;
  while (done < messages) {
    const int n = ::sendmmsg(fd_, b.msgs_.data() + done, static_cast<unsigned>(messages - done), 0);
    if (n > 0) {
      for (int k = 0; k < n; ++k) sent += b.msgs_[done + static_cast<std::size_t>(k)].msg_hdr.msg_iovlen;
      done += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    auto& h = b.msgs_[done].msg_hdr;
    if (n < 0 && (errno == EIO || errno == EINVAL) && h.msg_iovlen > 1) {
      // No GSO here (an old kernel, or a device without checksum offload):
      // send this message's datagrams one by one, and never ask again.
      gso_ = false;
      log::warning(std::string("UDP GSO refused (") + std::strerror(errno) + "): sending datagrams one by one");
      for (std::size_t k = 0; k < h.msg_iovlen; ++k) {
        msghdr one{};
        one.msg_name = h.msg_name;
        one.msg_namelen = h.msg_namelen;
        one.msg_iov = &h.msg_iov[k];
        one.msg_iovlen = 1;
        if (::sendmsg(fd_, &one, 0) >= 0) ++sent;
      }
      ++done;
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && !waited) {
      // The send buffer is full: wait for room once, briefly (back-pressure
      // on the TUN, as a blocking socket would give) rather than drop a
      // whole GSO run.
      pollfd p{fd_, POLLOUT, 0};
      ::poll(&p, 1, kSendWaitMs);
      waited = true;
      continue;
    }
    // Still full, or a per-destination error (unreachable): skip the message
    // at the head; UDP is allowed to lose it and inner TCP recovers.
    ++done;
  }
  for (std::size_t i = begin; fragmentable && i < end; ++i)
    if (b.entries_[i].len && b.entries_[i].fragment) {
      --fragmentable;
      sent += send_fragmentable(Bytes(b.slot(i), b.entries_[i].len), b.entries_[i].to) ? 1 : 0;
    }
  return sent;
}

bool UdpSocket::send_fragmentable(Bytes d, const Endpoint& to) {
  if (to.family == 4) {
    const int dont = IP_PMTUDISC_DONT, probe = IP_PMTUDISC_PROBE;
    ::setsockopt(fd_, IPPROTO_IP, IP_MTU_DISCOVER, &dont, sizeof dont);
    const bool ok = send_one(d, to);
    ::setsockopt(fd_, IPPROTO_IP, IP_MTU_DISCOVER, &probe, sizeof probe);
    return ok;
  }
  // IPv6 routers never fragment: the source does, at the size every IPv6
  // path carries.
  const int dont = IPV6_PMTUDISC_DONT, probe = IPV6_PMTUDISC_PROBE;
  const int minimum = static_cast<int>(limits::kIpv6MinimumMtu), unset = 0;
  ::setsockopt(fd_, IPPROTO_IPV6, IPV6_MTU_DISCOVER, &dont, sizeof dont);
  ::setsockopt(fd_, IPPROTO_IPV6, IPV6_MTU, &minimum, sizeof minimum);
  const bool ok = send_one(d, to);
  ::setsockopt(fd_, IPPROTO_IPV6, IPV6_MTU, &unset, sizeof unset);
  ::setsockopt(fd_, IPPROTO_IPV6, IPV6_MTU_DISCOVER, &probe, sizeof probe);
  return ok;
}

bool UdpSocket::send_one(Bytes d, const Endpoint& to) {
  if (!can_reach(to)) return false;
  sockaddr_in6 sa;
  const socklen_t len = to_sockaddr(to, family_, sa);
  return ::sendto(fd_, d.data(), d.size(), 0, reinterpret_cast<sockaddr*>(&sa), len) ==
         static_cast<ssize_t>(d.size());
}

}  // namespace tund::daemon
