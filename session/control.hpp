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
  std::array<std::uint8_t, 8> challenge{};
  bool operator==(const Probe&) const = default;
};

// Receive state of a session's data: the highest data sequence received and
// which of the 512 below it arrived (bit i of the bitmap = highest - 1 - i).
// Sequences older than that are treated as settled. Flagged kAckFlagSwitch, it
// is the switching exchange after a handover.
struct Ack {
  std::uint32_t flags = 0;
  std::uint64_t highest = 0;
  std::array<std::uint8_t, wire::control::kAckBitmapBytes> bitmap{};
  bool operator==(const Ack&) const = default;
};

struct ControlFrame {
  wire::ControlKind kind = wire::ControlKind::kKeepalive;
  Probe probe;  // kPathProbe, kProbeReply
  Ack ack;      // kAck
};

// Writes the frame; returns its size (wire::control_frame_size(kind)).
std::size_t encode_control(const ControlFrame& frame, std::uint8_t* out);
// Strict: unknown kind, non-zero reserved bytes or a size that is not the
// kind's exact size all give nothing.
std::optional<ControlFrame> decode_control(Bytes plain);

}  // namespace tund::session
