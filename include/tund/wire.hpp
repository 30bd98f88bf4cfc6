// The wire format: every message type, its exact size and field offsets.
// All multi-byte integers are little-endian except inside inner IP packets.
//
// Every message starts with a 4-byte header: type (1 byte) and 3 zero bytes.
//
//  initiation (160)  type | sender_idx | noise msg1: e(32) enc_s(48) enc_payload(40) | mac1(16) | mac2(16)
//  response   (128)  type | sender_idx | receiver_idx | noise msg2: e(32) enc_payload(52) | mac1 | mac2
//  cookie     (64)   type | receiver_idx | nonce(24) | enc_cookie(32)
//  data       (40+n) type | receiver_idx | counter(8) | AEAD(data_seq(8) | inner IP packet)
//  control    (32+n) type | receiver_idx | counter(8) | AEAD(control frame)
//  data copy  (40+n) as data: a copy sent on a second path while the active
//                    one is suspected (session/client_paths.cpp); delivered
//                    like data (at most once per data sequence), but the
//                    receiver never moves its return path on it
//  data bond  (40+n) as data: sent on a bonded path other than the client's
//                    active one (`[uplinks] mode = "bond"`, session/
//                    bond_scheduler.hpp); delivered like data, never moves
//                    the return path, and tells the hub this source carries
//                    the client's flows: once it has answered a challenge,
//                    those flows' return packets may go there
//
// Data and control share one counter space per keypair; the 16-byte header is
// the AEAD's associated data, so the type byte is authenticated too. The data
// sequence is per session (it survives rekeys): a packet that is resent after a
// handover gets a new counter (fresh nonce) but keeps its data sequence, so the
// receiver delivers it at most once. Replies to
// unauthenticated messages are always smaller than what triggered them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

#include "tund/types.hpp"

namespace tund::wire {

enum class MessageType : std::uint8_t {
  kInitiation = 1,
  kResponse = 2,
  kCookieReply = 3,
  kData = 4,
  kControl = 5,
  kDataCopy = 6,
  kDataBond = 7,
};

inline bool carries_data(MessageType t) {
  return t == MessageType::kData || t == MessageType::kDataCopy || t == MessageType::kDataBond;
}

inline constexpr std::size_t kTagSize = 16;
inline constexpr std::size_t kMacSize = 16;
inline constexpr std::size_t kTimestampSize = 12;  // u64 BE seconds, u32 BE nanoseconds

// Payload the client sends inside the initiation (encrypted): its timestamp,
// what it can do, and which data stream it speaks for. The session id is drawn
// at random when a client session starts and kept across rekeys: a hub that
// sees a new one knows the client lost its state (restart, crash) and starts
// the session's receive state afresh; the same one is a rekey.
namespace initiation_payload {
inline constexpr std::size_t kTimestamp = 0;      // kTimestampSize bytes
inline constexpr std::size_t kCapabilities = 12;  // u32 LE, kCap* bits
inline constexpr std::size_t kSessionId = 16;     // u64 LE, never 0
inline constexpr std::size_t kSize = 24;
inline constexpr std::uint32_t kCapAes256Gcm = 1;  // can seal and open AES-256-GCM (hardware AES)
}  // namespace initiation_payload

// --- Handshake initiation -----------------------------------------------------
namespace initiation {
inline constexpr std::size_t kSender = 4;
inline constexpr std::size_t kNoise = 8;
inline constexpr std::size_t kNoiseSize = 32 + (32 + kTagSize) + (initiation_payload::kSize + kTagSize);
inline constexpr std::size_t kMac1 = kNoise + kNoiseSize;  // 128
inline constexpr std::size_t kMac2 = kMac1 + kMacSize;     // 144
inline constexpr std::size_t kSize = kMac2 + kMacSize;     // 160
}  // namespace initiation

// Payload the hub returns inside the response (encrypted): the client's VIPs
// (an IPv4 one, an IPv6 one, or both; a zero address is none).
namespace response_payload {
inline constexpr std::size_t kVip = 0;        // IPv4, network order
inline constexpr std::size_t kPrefixLen = 4;  // u8
inline constexpr std::size_t kSuite = 5;      // u8, the transport AEAD the hub chose (crypto::Suite)
inline constexpr std::size_t kMtu = 6;        // u16 LE, suggested inner MTU (0 = no advice)
inline constexpr std::size_t kGateway = 8;    // IPv4 of the hub's VIP, network order
inline constexpr std::size_t kFlags = 12;     // u8, kFlag* bits
inline constexpr std::size_t kReserved = 13;  // 3 zero bytes
inline constexpr std::size_t kVip6 = 16;      // IPv6 VIP, 16 bytes (all zero: none)
inline constexpr std::size_t kPrefix6Len = 32;  // u8, its subnet's prefix length
inline constexpr std::size_t kReserved6 = 33;   // 3 zero bytes
// The hub made a new session for this handshake (it restarted, forgot an idle
// one, or the initiation carried a session id it did not hold): its data
// sequence starts again, so the client's receive state for the old one must go.
inline constexpr std::uint8_t kFlagNewSession = 1;
inline constexpr std::size_t kSize = 36;
}  // namespace response_payload

// --- Handshake response -------------------------------------------------------
namespace response {
inline constexpr std::size_t kSender = 4;
inline constexpr std::size_t kReceiver = 8;
inline constexpr std::size_t kNoise = 12;
inline constexpr std::size_t kNoiseSize = 32 + response_payload::kSize + kTagSize;
inline constexpr std::size_t kMac1 = kNoise + kNoiseSize;  // 96
inline constexpr std::size_t kMac2 = kMac1 + kMacSize;     // 112
inline constexpr std::size_t kSize = kMac2 + kMacSize;     // 128
}  // namespace response

// --- Cookie reply ---------------------------------------------------------------
namespace cookie_reply {
inline constexpr std::size_t kReceiver = 4;
inline constexpr std::size_t kNonce = 8;
inline constexpr std::size_t kNonceSize = 24;
inline constexpr std::size_t kCookie = kNonce + kNonceSize;  // 32
inline constexpr std::size_t kCookieSize = 16;
inline constexpr std::size_t kSize = kCookie + kCookieSize + kTagSize;  // 64
}  // namespace cookie_reply

// --- Transport (data and control) -----------------------------------------------
namespace transport {
inline constexpr std::size_t kReceiver = 4;
inline constexpr std::size_t kCounter = 8;
inline constexpr std::size_t kHeaderSize = 16;
inline constexpr std::size_t kOverhead = kHeaderSize + kTagSize;  // 32
inline constexpr std::size_t kMinSize = kOverhead;
inline constexpr std::size_t kSeqSize = 8;
// The data sequence's top bit (sequences never reach it): this packet's flow
// is spread over several paths, so the receiver delivers it in sequence order
// (session/reorder_buffer.hpp). Under the AEAD like the sequence itself.
inline constexpr std::uint64_t kSeqOrdered = std::uint64_t{1} << 63;
// Where the inner packet starts in a data message, and all that surrounds it.
inline constexpr std::size_t kDataOffset = kHeaderSize + kSeqSize;  // 24
inline constexpr std::size_t kDataOverhead = kOverhead + kSeqSize;  // 40
}  // namespace transport

// --- Control frames (plaintext inside a control message) -----------------------
// Each frame: kind (1 byte), 3 zero bytes, then a body of a fixed size per kind.
// A probe may carry zero padding after its body (a path MTU probe: its size
// is what it tests); the reply echoes the body and the padding, so it is never
// larger than what asked for it.
enum class ControlKind : std::uint8_t {
  kKeepalive = 1,   // no body
  kPathProbe = 2,   // probe_id u32, flags u32, challenge 8 bytes, [zero padding]
  kProbeReply = 3,  // echo of the probe body and padding
  kAck = 4,         // flags u32, received u32, highest data_seq u64, bitmap of the 512 below it
  kPathMtu = 5,     // mtu u16, reserved u16: the largest datagram the path this came on carries
  kMove = 6,        // no body; hub to client: this cluster member drains, handshake with the next one
};
namespace control {
inline constexpr std::size_t kHeaderSize = 4;
inline constexpr std::size_t kProbeId = 4;
inline constexpr std::size_t kProbeFlags = 8;
// The client's probe on an uplink in its bond (issue 30): the hub may send
// flows there of its own choosing (a download's, when their endpoint is full).
// A probe on any other uplink (a backup, a metered one outside the bond)
// never says it, so the hub sends there nothing but what the client put
// there itself. Unknown flags are refused, as the reserved word was.
inline constexpr std::uint32_t kProbeFlagBonded = 1;
inline constexpr std::uint32_t kProbeFlagsKnown = kProbeFlagBonded;
inline constexpr std::size_t kChallenge = 12;
inline constexpr std::size_t kProbeSize = 20;
inline constexpr std::size_t kAckFlags = 4;
inline constexpr std::uint32_t kAckFlagSwitch = 1;  // part of the switching exchange
// With kAckFlagSwitch: the client left a path that still carries (make before
// break): nothing was lost, nothing is resent, and nothing waits for the new
// path's validation.
inline constexpr std::uint32_t kAckFlagPlanned = 2;
// Client to hub: an uplink left the client's bond lately (dead, gray, gone,
// or by policy). The hub takes back every choice of its own (flows it moved
// or spread to the standby) until a bonded probe speaks for the standby
// again: the client knows its uplinks, the hub only hears them.
inline constexpr std::uint32_t kAckFlagBondLeft = 4;
// When `highest` arrived, in microseconds of the receiver's own clock modulo
// 2^32 (0: not said). Its sender subtracts when it sent that packet: the
// one-way delay plus a constant offset between the clocks, so changes in it
// are the forward path's queue, untouched by whatever queues the
// acknowledgement met on its way back (session/path_rate.hpp).
inline constexpr std::size_t kAckReceived = 8;
inline constexpr std::size_t kAckHighest = 12;
inline constexpr std::size_t kAckBitmap = 20;
inline constexpr std::size_t kAckBitmapBytes = 64;
inline constexpr std::size_t kAckSize = kAckBitmap + kAckBitmapBytes;  // 84
inline constexpr std::size_t kKeepaliveSize = kHeaderSize;
inline constexpr std::size_t kPathMtuValue = 4;
inline constexpr std::size_t kPathMtuSize = 8;
inline constexpr std::size_t kMaxSize = kAckSize;  // of a frame without padding
// A control message, padded probes included, fits one UDP datagram.
inline constexpr std::size_t kMaxDatagram = 65507;
}  // namespace control

inline constexpr std::size_t control_frame_size(ControlKind kind) {
  switch (kind) {
    case ControlKind::kKeepalive:
    case ControlKind::kMove: return control::kKeepaliveSize;
    case ControlKind::kPathProbe:
    case ControlKind::kProbeReply: return control::kProbeSize;
    case ControlKind::kAck: return control::kAckSize;
    case ControlKind::kPathMtu: return control::kPathMtuSize;
  }
  return 0;
}

// Classifies an outer datagram by its header and checks its exact length.
// Returns nothing for an unknown type, non-zero reserved bytes or a wrong size.
inline std::optional<MessageType> classify(Bytes datagram) {
  if (datagram.size() < 4 || datagram[1] != 0 || datagram[2] != 0 || datagram[3] != 0)
    return std::nullopt;
  const auto type = static_cast<MessageType>(datagram[0]);
  switch (type) {
    case MessageType::kInitiation:
      if (datagram.size() == initiation::kSize) return type;
      break;
    case MessageType::kResponse:
      if (datagram.size() == response::kSize) return type;
      break;
    case MessageType::kCookieReply:
      if (datagram.size() == cookie_reply::kSize) return type;
      break;
    case MessageType::kData:
    case MessageType::kDataCopy:
    case MessageType::kDataBond:
      if (datagram.size() >= transport::kMinSize + transport::kSeqSize) return type;
      break;
    case MessageType::kControl:
      if (datagram.size() >= transport::kMinSize + control::kHeaderSize &&
          datagram.size() <= control::kMaxDatagram)
        return type;
      break;
  }
  return std::nullopt;
}

inline void write_header(std::uint8_t* p, MessageType type) {
  p[0] = static_cast<std::uint8_t>(type);
  p[1] = p[2] = p[3] = 0;
}

}  // namespace tund::wire
