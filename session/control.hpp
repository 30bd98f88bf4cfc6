// Control frames: the plaintext of wire::MessageType::kControl messages.
// Encoding and strict decoding only; what a frame means is up to the session.
#pragma once

#include <array>
#include <cstdint>
#include <optional>

#include "tund/wire.hpp"

namespace tund::session {

struct Probe {
  std::uint32_t probe_id = 0;
  std::uint32_t flags = 0;  // wire::control::kProbeFlag*; a reply echoes them
  std::array<std::uint8_t, 8> challenge{};
  std::uint16_t padding = 0;  // zero bytes after the body (path MTU probes)
  // The same probe: what the asker chose (flags say something beside it).
  bool operator==(const Probe& o) const {
    return probe_id == o.probe_id && challenge == o.challenge && padding == o.padding;
  }
};

// Receive state of a session's data: the highest data sequence received and
// which of the 512 below it arrived (bit i of the bitmap = highest - 1 - i).
// Sequences older than that are treated as settled. Flagged kAckFlagSwitch, it
// is the switching exchange after a handover.
struct Ack {
  std::uint32_t flags = 0;
  std::uint32_t received_us = 0;  // wire::control::kAckReceived (0: not said)
  std::uint64_t highest = 0;
  std::array<std::uint8_t, wire::control::kAckBitmapBytes> bitmap{};
  bool operator==(const Ack&) const = default;
};

struct ControlFrame {
  wire::ControlKind kind = wire::ControlKind::kKeepalive;
  Probe probe;  // kPathProbe, kProbeReply
  Ack ack;      // kAck
  std::uint16_t path_mtu = 0;  // kPathMtu
};

// The frame's encoded size: its kind's size, plus a probe's padding.
std::size_t encoded_size(const ControlFrame& frame);
// Writes the frame (encoded_size bytes); returns its size.
std::size_t encode_control(const ControlFrame& frame, std::uint8_t* out);
// Strict: unknown kind, non-zero reserved bytes or padding, or a size that is
// not the kind's exact size (a probe's, at least) all give nothing.
std::optional<ControlFrame> decode_control(Bytes plain);

}  // namespace tund::session
