// The two directions of a TUN with offloads, shared by both daemons.
//
// TunReader reads one (super-)packet and splits it straight into the slots
// of a TxBatch, leaving room before each segment for the transport header and
// after it for the tag, so it is sealed in place.
//
// TunWriter takes decrypted inner packets, coalesces them (GroTable) and
// writes the result when the batch ends or the table is full.
#pragma once

#include <cstdint>
#include <vector>

#include "daemon/tun_device.hpp"
#include "daemon/udp_socket.hpp"
#include "offload/gro_table.hpp"
#include "offload/gso_split.hpp"
#include "tund/limits.hpp"
#include "tund/wire.hpp"

namespace tund::daemon {

// Slot size for an MTU: header + sequence + inner + tag, cache-line aligned.
std::size_t tx_stride(unsigned mtu);

class TunReader {
 public:
  enum class Status {
    kPacket,     // segments [first, first + count) of the batch are filled
    kEmpty,      // nothing to read
    kNeedFlush,  // the packet needs more free slots: send the batch, call again
    kDropped,    // malformed or unsplittable: counted in drops()
    kError,      // the read failed
  };
  struct Read {
    Status status = Status::kEmpty;
    std::size_t first = 0;
    std::size_t count = 0;
  };

  explicit TunReader(TunDevice& tun) : tun_(tun), buf_(offload::kVnetHeaderSize + 65535 + 64) {}
  // Segments start at slot + headroom and leave tailroom at the slot's end.
  Read read_into(TxBatch& batch, std::size_t headroom, std::size_t tailroom);
  std::uint64_t drops() const { return drops_; }

  // One readiness event: reads until the TUN is empty (at most
  // kTunReadsPerEvent packets), each split into the batch with room for the
  // transport header and tag; flush() is called whenever the batch needs
  // room, on_packet(first, count) for the segments of each packet read.
  template <class Flush, class OnPacket>
  void read_batch(TxBatch& b, Flush&& flush, OnPacket&& on_packet) {
    for (std::size_t reads = 0; reads < limits::kTunReadsPerEvent; ++reads) {
      if (b.free() < limits::kTxSlotsPerRead) flush();
      const auto r = read_into(b, wire::transport::kDataOffset, wire::kTagSize);
      if (r.status == Status::kNeedFlush) {
        flush();
        continue;
      }
      if (r.status == Status::kDropped) continue;
      if (r.status != Status::kPacket) break;
      on_packet(r.first, r.count);
    }
  }

 private:
  TunDevice& tun_;
  std::vector<std::uint8_t> buf_;
  std::vector<std::size_t> lengths_;
  std::size_t pending_ = 0;  // bytes of a packet read but not yet split
  std::uint64_t drops_ = 0;
};

class TunWriter {
 public:
  static constexpr std::size_t kItems = limits::kGroItems;
  TunWriter(TunDevice& tun, bool coalesce) : tun_(tun), gro_(kItems, coalesce) {}
  void add(Bytes inner);
  void flush();
  std::uint64_t write_errors() const { return write_errors_; }
  std::uint64_t coalesced() const { return gro_.merged_packets(); }

 private:
  TunDevice& tun_;
  offload::GroTable gro_;
  std::uint64_t write_errors_ = 0;
};

}  // namespace tund::daemon
