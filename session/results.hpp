// What the core asks its caller to do. The caller owns every buffer; the core
// writes into them and says how many bytes are meaningful.
#pragma once

#include <cstddef>
#include <cstdint>

#include "tund/drop_reason.hpp"
#include "tund/endpoint.hpp"

namespace tund::session {

// An outgoing inner packet, sealed in place.
struct SealResult {
  enum class Kind : std::uint8_t {
    kSend,    // buf[0, len) is a datagram to send
    kStaged,  // no usable key yet: copied to a bounded queue, a handshake is under way
    kQueued,  // the path's pacer holds it back: copied to the session's flow queue
    kDrop,    // see reason
    kTooBig,  // the active path carries inner packets of `len` bytes at most:
              // answer the sender (inner_mtu.hpp), the packet is dropped
  };
  Kind kind = Kind::kDrop;
  std::size_t len = 0;
  DropReason reason = DropReason::kNoSession;
  Endpoint to;  // hub only: where to send
  // kSend of a packet the redundancy policy names, with a second path to
  // carry it: seal_redundant_copy() makes the copy for that path.
  bool copy = false;
  // kSend of a datagram larger than the active path carries (an IPv6 packet
  // owed its 1280 bytes, inner_mtu.hpp): send it with outer fragmentation.
  bool fragment = false;
  // Client only, kSend: the path it goes on (the active one, or in a bond
  // the path its flow is pinned to; session/bond_scheduler.hpp).
  std::uint32_t path = 0;

  static SealResult send(std::size_t n) { return {Kind::kSend, n, {}, {}}; }
  static SealResult too_big(std::size_t inner_mtu) { return {Kind::kTooBig, inner_mtu, DropReason::kPathMtuExceeded, {}}; }
  static SealResult staged() { return {Kind::kStaged, 0, {}, {}}; }
  static SealResult queued() { return {Kind::kQueued, 0, {}, {}}; }
  static SealResult drop(DropReason r) { return {Kind::kDrop, 0, r, {}}; }
};

// An incoming datagram, opened in place.
struct ReceiveResult {
  enum class Kind : std::uint8_t {
    kNone,     // consumed (handshake, control frame); maybe poll_transmit now
    kDeliver,  // datagram[offset, offset+len) is an inner IP packet for the TUN
    kReply,    // reply[0, len) goes back to the sender's address
    kDrop,     // see reason
  };
  Kind kind = Kind::kNone;
  std::size_t offset = 0;
  std::size_t len = 0;
  DropReason reason = DropReason::kMalformed;

  static ReceiveResult none() { return {}; }
  static ReceiveResult deliver(std::size_t off, std::size_t n) { return {Kind::kDeliver, off, n, {}}; }
  static ReceiveResult reply(std::size_t n) { return {Kind::kReply, 0, n, {}}; }
  static ReceiveResult drop(DropReason r) { return {Kind::kDrop, 0, 0, r}; }
};

// Traffic counters of one session (outer datagram bytes, as `wg show` counts).
struct SessionStats {
  std::uint64_t rx_bytes = 0;
  std::uint64_t tx_bytes = 0;
  std::uint64_t rx_packets = 0;
  std::uint64_t tx_packets = 0;
  std::uint64_t handshakes = 0;
};

}  // namespace tund::session
