// A Linux TUN device opened with IFF_TUN | IFF_NO_PI: each read returns one
// whole IP packet, each write sends one. The fd is non-blocking so a batch
// read loop stops at EAGAIN. The device vanishes, with its addresses and
// routes, when the fd is closed (it is never made persistent).
#pragma once

#include <cstdint>
#include <string>

#include "tund/types.hpp"

namespace tund::daemon {

class TunDevice {
 public:
  // Creates (or attaches to) the device `name`, sets its MTU and brings it up.
  // Throws std::system_error on failure (startup only).
  TunDevice(const std::string& name, unsigned mtu);
  ~TunDevice();
  TunDevice(const TunDevice&) = delete;
  TunDevice& operator=(const TunDevice&) = delete;

  int fd() const { return fd_; }
  const std::string& name() const { return name_; }
  int ifindex() const { return ifindex_; }
  unsigned mtu() const { return mtu_; }

  // One packet into `buf`; returns its size, 0 when none is ready, -1 on error.
  long read_packet(MutableBytes buf);
  // One packet out; returns false when the kernel refused it (counted by caller).
  bool write_packet(Bytes packet);

 private:
  int fd_ = -1;
  std::string name_;
  int ifindex_ = 0;
  unsigned mtu_ = 0;
};

}  // namespace tund::daemon
