#include "session/control.hpp"

#include <cstring>

namespace tund::session {

namespace c = wire::control;
using wire::ControlKind;

namespace {
bool is_probe(ControlKind k) { return k == ControlKind::kPathProbe || k == ControlKind::kProbeReply; }
}  // namespace

std::size_t encoded_size(const ControlFrame& f) {
  return wire::control_frame_size(f.kind) + (is_probe(f.kind) ? f.probe.padding : 0);
}

std::size_t encode_control(const ControlFrame& f, std::uint8_t* out) {
  const std::size_t size = encoded_size(f);
  std::memset(out, 0, size);
  out[0] = static_cast<std::uint8_t>(f.kind);
  switch (f.kind) {
    case ControlKind::kKeepalive:
    case ControlKind::kMove: break;
    case ControlKind::kPathProbe:
    case ControlKind::kProbeReply:
      store_le32(out + c::kProbeId, f.probe.probe_id);
      store_le32(out + c::kProbeFlags, f.probe.flags);
      std::memcpy(out + c::kChallenge, f.probe.challenge.data(), f.probe.challenge.size());
      break;
    case ControlKind::kAck:
      store_le32(out + c::kAckFlags, f.ack.flags);
      store_le32(out + c::kAckReceived, f.ack.received_us);
      store_le64(out + c::kAckHighest, f.ack.highest);
      std::memcpy(out + c::kAckBitmap, f.ack.bitmap.data(), f.ack.bitmap.size());
      break;
    case ControlKind::kPathMtu:
      store_le16(out + c::kPathMtuValue, f.path_mtu);
      break;
  }
  return size;
}

std::optional<ControlFrame> decode_control(Bytes p) {
  if (p.size() < c::kHeaderSize || p[1] != 0 || p[2] != 0 || p[3] != 0) return std::nullopt;
  ControlFrame f;
  f.kind = static_cast<ControlKind>(p[0]);
  const std::size_t expected = wire::control_frame_size(f.kind);
  if (expected == 0 || p.size() < expected) return std::nullopt;
  if (p.size() > expected) {
    // Only probes are padded, with zeros, and never beyond a datagram.
    if (!is_probe(f.kind) || p.size() - expected > 0xffff) return std::nullopt;
    for (std::size_t i = expected; i < p.size(); ++i)
      if (p[i]) return std::nullopt;
    f.probe.padding = static_cast<std::uint16_t>(p.size() - expected);
  }
  switch (f.kind) {
    case ControlKind::kKeepalive:
    case ControlKind::kMove: break;
    case ControlKind::kPathProbe:
    case ControlKind::kProbeReply:
      f.probe.flags = load_le32(p.data() + c::kProbeFlags);
      if (f.probe.flags & ~c::kProbeFlagsKnown) return std::nullopt;
      f.probe.probe_id = load_le32(p.data() + c::kProbeId);
      std::memcpy(f.probe.challenge.data(), p.data() + c::kChallenge, f.probe.challenge.size());
      break;
    case ControlKind::kAck:
      f.ack.flags = load_le32(p.data() + c::kAckFlags);
      f.ack.received_us = load_le32(p.data() + c::kAckReceived);
      f.ack.highest = load_le64(p.data() + c::kAckHighest);
      std::memcpy(f.ack.bitmap.data(), p.data() + c::kAckBitmap, f.ack.bitmap.size());
      break;
    case ControlKind::kPathMtu:
      if (load_le16(p.data() + c::kPathMtuValue + 2) != 0) return std::nullopt;  // reserved
      f.path_mtu = load_le16(p.data() + c::kPathMtuValue);
      break;
  }
  return f;
}

}  // namespace tund::session
