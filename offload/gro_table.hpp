// Coalesces inner packets on their way to the TUN, the way the kernel's GRO
// does on a NIC: consecutive in-order TCP segments of one flow (same
// addresses, ports, IP fields, TCP options, ACK and window; only ACK, and PSH
// on the last) become one super-packet written with a GSO vnet header, so the
// kernel's TCP receives 64 KiB at a time instead of 1400 bytes. Each segment's
// TCP checksum is verified before it is merged; one that fails is passed on
// alone, unmarked, for the kernel to drop. Everything else passes through
// alone, in order within its flow.
//
// Items are fixed buffers of 64 KiB allocated once; when all are in use,
// add() returns false and the caller writes and clears the table.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "offload/vnet_header.hpp"
#include "tund/types.hpp"

namespace tund::offload {

class GroTable {
 public:
  static constexpr std::size_t kMaxPacket = 65535;

  // merge = false: every packet passes alone (offloads turned off).
  explicit GroTable(std::size_t items, bool merge = true);

  // Takes a copy of (or merges) one inner IP packet. False: the table is full.
  bool add(Bytes packet);
  std::size_t size() const { return used_; }
  bool empty() const { return used_ == 0; }
  // Item i as it is written to a TUN with IFF_VNET_HDR: vnet header + packet.
  // Valid after finish(), until clear().
  Bytes item(std::size_t i) const { return {items_[i].data, kVnetHeaderSize + items_[i].len}; }
  // Fixes the headers of merged items (lengths, checksums, vnet header).
  void finish();
  void clear() { used_ = 0; }

  // How many packets went into merged items (for counters and tests).
  std::uint64_t merged_packets() const { return merged_; }

 private:
  struct Item {
    std::uint8_t* data = nullptr;  // vnet header, then the packet
    std::size_t len = 0;           // packet bytes
    bool open = false;             // may take another segment
    bool valid_csum = false;
    bool flow_key = false;         // `flow` identifies a TCP flow
    std::uint8_t version = 0;
    std::uint8_t ip_len = 0;
    std::uint8_t tcp_len = 0;
    std::uint16_t gso_size = 0;
    std::uint16_t segments = 0;
    std::uint16_t next_ip_id = 0;
    std::uint32_t next_seq = 0;
    std::uint64_t flow = 0;
  };

  std::uint8_t* packet(Item& it) { return it.data + kVnetHeaderSize; }
  bool try_merge(Item& it, Bytes p, std::size_t ip_len, std::size_t tcp_len, std::size_t payload);
  void start(Bytes p, bool tcp_candidate, bool csum_ok, std::size_t ip_len, std::size_t tcp_len, std::uint64_t flow);

  std::unique_ptr<std::uint8_t[]> storage_;
  std::vector<Item> items_;
  std::size_t used_ = 0;
  bool merge_ = true;
  std::uint64_t merged_ = 0;
};

}  // namespace tund::offload
