// A Linux TUN device opened with IFF_TUN | IFF_NO_PI | IFF_VNET_HDR: every
// read and write starts with a 10-byte virtio_net_hdr. Offloads are enabled
// with TUNSETOFFLOAD (checksum, TSO for IPv4 and IPv6, USO where the kernel
// has it), so the kernel hands out TCP super-packets of up to 64 KiB and takes
// coalesced ones: the offload/ code splits and merges them. Where the kernel
// refuses a feature, the next smaller set is tried, down to none.
// The fd is non-blocking so a batch read loop stops at EAGAIN. The device
// vanishes, with its addresses and routes, when the fd is closed (it is never
// made persistent).
#pragma once

#include <cstdint>
#include <string>

#include "tund/types.hpp"

namespace tund::daemon {

class TunDevice {
 public:
  // Creates (or attaches to) the device `name`, sets its MTU and brings it up.
  // Throws std::system_error on failure (startup only).
  // offload = false: vnet headers still, but no TSO/checksum offload.
  TunDevice(const std::string& name, unsigned mtu, bool offload = true);
  ~TunDevice();
  TunDevice(const TunDevice&) = delete;
  TunDevice& operator=(const TunDevice&) = delete;

  int fd() const { return fd_; }
  const std::string& name() const { return name_; }
  int ifindex() const { return ifindex_; }
  unsigned mtu() const { return mtu_; }

  // One vnet header + packet into `buf` (at least kVnetHeaderSize + 65535
  // bytes); returns the size, 0 when none is ready, -1 on error.
  long read_packet(MutableBytes buf);
  // One vnet header + packet out; false when the kernel refused it.
  bool write_packet(Bytes packet);

  // TUN_F_* bits the kernel accepted (0: plain packets, no GSO).
  unsigned offloads() const { return offloads_; }
  std::string offloads_string() const;

 private:
  int fd_ = -1;
  std::string name_;
  int ifindex_ = 0;
  unsigned mtu_ = 0;
  unsigned offloads_ = 0;
};

}  // namespace tund::daemon
