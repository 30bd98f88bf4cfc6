// A UDP socket driven in batches: recvmmsg fills up to kBatch datagrams per
// system call and sendmmsg sends a whole batch in one. Buffers are allocated
// once; nothing is allocated per packet.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <memory>
#include <string>
#include <vector>

#include "tund/endpoint.hpp"

namespace tund::daemon {

inline constexpr std::size_t kBatch = 64;
// Room for any inner packet up to 64 KiB plus our header and tag.
inline constexpr std::size_t kBufferSize = 65536 + 64;

// kBatch buffers with the kernel structures that point at them.
class DatagramBatch {
 public:
  DatagramBatch();
  std::uint8_t* data(std::size_t i) { return storage_.get() + i * kBufferSize; }
  MutableBytes buffer(std::size_t i) { return {data(i), kBufferSize}; }
  std::size_t& length(std::size_t i) { return lengths_[i]; }
  Endpoint& peer(std::size_t i) { return peers_[i]; }
  std::size_t count = 0;

 private:
  friend class UdpSocket;
  std::unique_ptr<std::uint8_t[]> storage_;
  std::array<std::size_t, kBatch> lengths_{};
  std::array<Endpoint, kBatch> peers_{};
  std::array<mmsghdr, kBatch> msgs_{};
  std::array<iovec, kBatch> iov_{};
  std::array<sockaddr_in, kBatch> addrs_{};
};

class UdpSocket {
 public:
  struct Options {
    Endpoint bind;           // family 0: any address, ephemeral port
    std::string device;      // SO_BINDTODEVICE when not empty
    std::uint32_t fwmark = 0;
    int buffer_bytes = 4 << 20;
  };
  explicit UdpSocket(const Options& options);  // throws std::system_error
  ~UdpSocket();
  UdpSocket(const UdpSocket&) = delete;
  UdpSocket& operator=(const UdpSocket&) = delete;

  int fd() const { return fd_; }

  // Fills batch.count datagrams (0 when none is ready).
  void receive(DatagramBatch& batch);
  // Sends batch[0, count) to each peer; returns how many the kernel took.
  std::size_t send(DatagramBatch& batch);
  bool send_one(Bytes datagram, const Endpoint& to);

 private:
  int fd_ = -1;
};

}  // namespace tund::daemon
