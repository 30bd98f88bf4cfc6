#include "daemon/udp_socket.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>

namespace tund::daemon {

namespace {
void to_sockaddr(const Endpoint& e, sockaddr_in& sa) {
  std::memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  std::memcpy(&sa.sin_addr, e.addr.data(), 4);
  sa.sin_port = htons(e.port);
}
Endpoint from_sockaddr(const sockaddr_in& sa) {
  Endpoint e;
  e.family = 4;
  std::memcpy(e.addr.data(), &sa.sin_addr, 4);
  e.port = ntohs(sa.sin_port);
  return e;
}
}  // namespace

DatagramBatch::DatagramBatch() : storage_(new std::uint8_t[kBatch * kBufferSize]) {}

UdpSocket::UdpSocket(const Options& o) {
  fd_ = ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
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
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  if (o.bind.valid()) to_sockaddr(o.bind, sa);
  if (::bind(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) < 0) fail("bind");
}

UdpSocket::~UdpSocket() {
  if (fd_ >= 0) ::close(fd_);
}

void UdpSocket::receive(DatagramBatch& b) {
  for (std::size_t i = 0; i < kBatch; ++i) {
    b.iov_[i] = {b.data(i), kBufferSize};
    b.msgs_[i].msg_hdr = {};
    b.msgs_[i].msg_hdr.msg_name = &b.addrs_[i];
    b.msgs_[i].msg_hdr.msg_namelen = sizeof(sockaddr_in);
    b.msgs_[i].msg_hdr.msg_iov = &b.iov_[i];
    b.msgs_[i].msg_hdr.msg_iovlen = 1;
  }
  const int n = ::recvmmsg(fd_, b.msgs_.data(), kBatch, MSG_DONTWAIT, nullptr);
  b.count = n > 0 ? static_cast<std::size_t>(n) : 0;
  for (std::size_t i = 0; i < b.count; ++i) {
    b.lengths_[i] = b.msgs_[i].msg_len;
    b.peers_[i] = from_sockaddr(b.addrs_[i]);
  }
}

std::size_t UdpSocket::send(DatagramBatch& b) {
  for (std::size_t i = 0; i < b.count; ++i) {
    to_sockaddr(b.peers_[i], b.addrs_[i]);
    b.iov_[i] = {b.data(i), b.lengths_[i]};
    b.msgs_[i].msg_hdr = {};
    b.msgs_[i].msg_hdr.msg_name = &b.addrs_[i];
    b.msgs_[i].msg_hdr.msg_namelen = sizeof(sockaddr_in);
    b.msgs_[i].msg_hdr.msg_iov = &b.iov_[i];
    b.msgs_[i].msg_hdr.msg_iovlen = 1;
  }
  std::size_t sent = 0;
  while (sent < b.count) {
    const int n = ::sendmmsg(fd_, b.msgs_.data() + sent, static_cast<unsigned>(b.count - sent), 0);
    if (n > 0) {
      sent += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    // EAGAIN (buffer full) or a per-destination error (unreachable): skip the
    // datagram at the head; UDP is allowed to lose it and inner TCP recovers.
    ++sent;
  }
  b.count = 0;
  return sent;
}

bool UdpSocket::send_one(Bytes d, const Endpoint& to) {
  sockaddr_in sa;
  to_sockaddr(to, sa);
  return ::sendto(fd_, d.data(), d.size(), 0, reinterpret_cast<sockaddr*>(&sa), sizeof sa) ==
         static_cast<ssize_t>(d.size());
}

}  // namespace tund::daemon
