// A UDP socket driven in batches. Receiving: recvmmsg fills up to kBatch
// buffers of 64 KiB per system call, and with UDP GRO on, one buffer may hold
// several datagrams of one size (segment_size) that the kernel kept together.
// Sending: sendmmsg sends a whole TxBatch in one call, each run of equal-sized
// datagrams to one destination as one UDP GSO message (UDP_SEGMENT), so a
// 64 KiB TCP super-packet read from the TUN crosses the kernel as one unit.
// Where the kernel refuses GSO, the socket falls back to one datagram per
// message for good. Buffers are allocated once; nothing per packet.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <memory>
#include <string>
#include <vector>

#include "crypto/keypair.hpp"
#include "tund/endpoint.hpp"
#include "tund/limits.hpp"

namespace tund::daemon {

inline constexpr std::size_t kBatch = limits::kUdpBatch;
// Room for a UDP GRO super-datagram (up to 64 KiB) or any single one.
inline constexpr std::size_t kBufferSize = 65536 + 64;

// Room for one control message carrying a T, aligned as the kernel wants.
template <class T>
struct ControlBuffer {
  alignas(cmsghdr) char bytes[CMSG_SPACE(sizeof(T))];
};

// Received datagrams: kBatch buffers with the kernel structures that point at them.
class DatagramBatch {
 public:
  DatagramBatch();
  std::uint8_t* data(std::size_t i) { return storage_.get() + i * kBufferSize; }
  MutableBytes buffer(std::size_t i) { return {data(i), kBufferSize}; }
  std::size_t& length(std::size_t i) { return lengths_[i]; }
  Endpoint& peer(std::size_t i) { return peers_[i]; }
  // Size of each datagram in buffer i (the last may be shorter); 0: one datagram.
  std::size_t segment_size(std::size_t i) const { return segments_[i]; }
  std::size_t count = 0;

  // Calls fn(datagram, buffer index) for every datagram, GRO segments apart.
  template <class F>
  void for_each_datagram(F&& fn) {
    for (std::size_t i = 0; i < count; ++i) {
      const std::size_t len = lengths_[i];
      const std::size_t step = segments_[i] ? segments_[i] : len;
      for (std::size_t off = 0; off < len; off += step) fn(MutableBytes(data(i) + off, std::min(step, len - off)), i);
    }
  }

 private:
  friend class UdpSocket;
  std::unique_ptr<std::uint8_t[]> storage_;
  std::array<std::size_t, kBatch> lengths_{};
  std::array<std::size_t, kBatch> segments_{};
  std::array<Endpoint, kBatch> peers_{};
  std::array<mmsghdr, kBatch> msgs_{};
  std::array<iovec, kBatch> iov_{};
  std::array<sockaddr_in6, kBatch> addrs_{};  // room for either family
  std::array<ControlBuffer<int>, kBatch> control_{};
};

// Outgoing datagrams of one event-loop turn: fixed slots filled in order. A
// slot with length 0 was not used (its packet was staged or dropped).
class TxBatch {
 public:
  TxBatch(std::size_t slots, std::size_t stride);
  std::uint8_t* slot(std::size_t i) { return storage_.get() + i * stride_; }
  std::size_t stride() const { return stride_; }
  std::size_t slots() const { return entries_.size(); }
  std::size_t free() const { return slots() - count; }

  struct Entry {
    std::size_t len = 0;
    Endpoint to;
    int socket = -1;  // the caller's choice of socket (the client: uplink ifindex)
    bool fragment = false;  // beyond the path's MTU: sent alone, outer fragments allowed
  };
  Entry& entry(std::size_t i) { return entries_[i]; }
  // Seals left for later (run in parallel before the batch is sent).
  std::vector<crypto::SealJob> jobs;
  std::size_t count = 0;
  void clear() {
    count = 0;
    jobs.clear();
  }

 private:
  friend class UdpSocket;
  std::size_t stride_;
  std::unique_ptr<std::uint8_t[]> storage_;
  std::vector<Entry> entries_;
  std::vector<iovec> iov_;
  std::vector<mmsghdr> msgs_;
  std::vector<sockaddr_in6> addrs_;
  std::vector<ControlBuffer<std::uint16_t>> control_;
};

// Socket addresses of either family; an IPv4 peer of a dual-stack socket
// (::ffff:a.b.c.d) is always an Endpoint of family 4.
socklen_t to_sockaddr(const Endpoint& e, int socket_family, sockaddr_in6& storage);
Endpoint from_sockaddr(const sockaddr_in6& storage);

class UdpSocket {
 public:
  struct Options {
    Endpoint bind;           // family 0: any address, ephemeral port
    std::string device;      // SO_BINDTODEVICE when not empty
    std::uint32_t fwmark = 0;
    int buffer_bytes = 8 << 20;
    bool offload = true;     // UDP GSO on send, GRO on receive
  };
  explicit UdpSocket(const Options& options);  // throws std::system_error
  ~UdpSocket();
  UdpSocket(const UdpSocket&) = delete;
  UdpSocket& operator=(const UdpSocket&) = delete;

  int fd() const { return fd_; }
  // AF_INET, or AF_INET6 (dual-stack unless bound to an IPv6 address).
  int family() const { return family_; }
  bool can_reach(const Endpoint& to) const { return family_ == AF_INET ? to.family == 4 : to.family == 6 || !v6only_; }
  bool gso() const { return gso_; }
  bool gro() const { return gro_; }

  // Fills batch.count buffers (0 when none is ready).
  void receive(DatagramBatch& batch);
  // Sends the used slots of batch[begin, end); returns how many datagrams the
  // kernel took.
  std::size_t send(TxBatch& batch, std::size_t begin, std::size_t end);
  bool send_one(Bytes datagram, const Endpoint& to);

 private:
  // A datagram larger than its path carries (TxBatch::Entry::fragment): the
  // kernel fragments it (IPv4 without DF, IPv6 at the minimum MTU), which
  // the socket otherwise never allows. Two option changes around one send:
  // only IPv6 packets owed their 1280 bytes on a small path come here.
  bool send_fragmentable(Bytes datagram, const Endpoint& to);
  int fd_ = -1;
  int family_ = AF_INET6;
  bool v6only_ = false;
  bool gso_ = false;
  bool gro_ = false;
};

}  // namespace tund::daemon
