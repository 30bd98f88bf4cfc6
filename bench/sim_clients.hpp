// What the load generators (hubload.cpp, clusterload.cpp) share: simulated
// clients' keys, derived from a seed on both the generator's and the hub
// config's side, and their loopback UDP sockets.
#pragma once

#include <arpa/inet.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <vector>

#include "crypto/handshake.hpp"
#include "crypto/primitives.hpp"
#include "tund/endpoint.hpp"
#include "tund/types.hpp"

namespace tund::bench {

using Clock = std::chrono::steady_clock;
inline Time now() { return Time(Clock::now().time_since_epoch()); }

// Client i's key: SHA-256(seed, i), clamped. Reproducible on both sides.
inline crypto::StaticKeypair client_key(std::uint64_t seed, std::uint64_t i) {
  std::uint8_t in[16];
  store_le64(in, seed);
  store_le64(in + 8, i);
  crypto::StaticKeypair k;
  crypto::Hash h;
  crypto::sha256(Bytes(in, sizeof in), Bytes(), h);
  std::memcpy(k.priv.data(), h.data(), 32);
  k.priv[0] &= 248;
  k.priv[31] = static_cast<std::uint8_t>((k.priv[31] & 127) | 64);
  k.complete();
  return k;
}

// A non-blocking UDP socket on 127.0.0.1 with a port of its own; -1 on failure.
inline int loopback_socket() {
  const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in any{};
  any.sin_family = AF_INET;
  any.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&any), sizeof any) < 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

inline sockaddr_in to_sockaddr(const Endpoint& e) {
  sockaddr_in to{};
  to.sin_family = AF_INET;
  std::memcpy(&to.sin_addr, e.addr.data(), 4);
  to.sin_port = htons(e.port);
  return to;
}

// Waits up to timeout_ms for readable sockets (registered by watch_socket)
// and hands each datagram to on_datagram(index, bytes). Returns how many
// sockets were ready (at most 256: call again with 0 to take the rest).
template <class OnDatagram>
int receive_ready(int ep, int timeout_ms, std::vector<std::uint8_t>& buf, OnDatagram&& on_datagram) {
  epoll_event evs[256];
  const int k = epoll_wait(ep, evs, 256, timeout_ms);
  for (int e = 0; e < k; ++e) {
    for (;;) {
      const ssize_t r = ::recv(static_cast<int>(evs[e].data.u64 >> 32), buf.data(), buf.size(), 0);
      if (r <= 0) break;
      on_datagram(static_cast<std::size_t>(evs[e].data.u64 & 0xffffffffu), MutableBytes(buf.data(), static_cast<std::size_t>(r)));
    }
  }
  return k;
}
inline void watch_socket(int ep, int fd, std::size_t index) {
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = static_cast<std::uint64_t>(fd) << 32 | index;
  epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
}

}  // namespace tund::bench
