// This project's handshake messages on top of Noise IK (see wire.hpp for the
// byte layout). The initiation carries a 12-byte timestamp that must increase
// per initiator; the response carries the client's VIP assignment. mac1/mac2
// are stamped and checked by cookie.hpp, outside the Noise transcript.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

#include "crypto/noise.hpp"
#include "tund/wire.hpp"

namespace tund::crypto {

// Bound into every handshake hash: a peer speaking another protocol or version
// cannot complete a handshake with us.
inline constexpr std::string_view kPrologue = "tund protocol v1";

struct StaticKeypair {
  PrivateKey priv{};
  PublicKey pub{};
  // Fills `pub` from `priv`; false for a key that cannot be used.
  bool complete();
};

using Timestamp = std::array<std::uint8_t, wire::kTimestampSize>;
// Big-endian seconds and nanoseconds: byte order equals time order.
Timestamp encode_timestamp(WallTime ns_since_epoch);

struct VipAssignment {
  std::uint32_t vip = 0;      // IPv4, host order (0: none)
  std::uint8_t prefix_len = 0;
  std::uint16_t mtu = 0;
  std::uint32_t gateway = 0;  // hub's own VIP, host order
  std::array<std::uint8_t, 16> vip6{};  // network order (all zero: none)
  std::uint8_t prefix6_len = 0;
  bool has_v4() const { return vip != 0; }
  bool has_v6() const {
    for (auto b : vip6)
      if (b) return true;
    return false;
  }
};

// What the initiation carries (wire::initiation_payload).
struct InitiationPayload {
  Timestamp timestamp{};
  std::uint32_t capabilities = 0;  // wire::initiation_payload::kCap* bits
  std::uint64_t session_id = 0;
};

// What the response carries (wire::response_payload). Decoded as sent: the
// client validates the assignment itself (session/vip_check.hpp).
struct ResponsePayload {
  VipAssignment vip;
  Suite suite = Suite::kChaCha20Poly1305;
  std::uint8_t flags = 0;  // wire::response_payload::kFlag* bits
};

// --- Client side -----------------------------------------------------------------
noise::IkInitiator make_initiator(const StaticKeypair& local, const PublicKey& hub);
// Writes the initiation except its macs. `out` is wire::initiation::kSize bytes.
noise::Failure write_initiation(noise::IkInitiator& ik, const PrivateKey& ephemeral, std::uint32_t sender_index,
                                const InitiationPayload& payload, MutableBytes out);
// Reads a response whose mac1 was checked. A failure changes nothing in `ik`.
// A suite we did not offer or do not know fails as kDecrypt.
noise::Failure read_response(noise::IkInitiator& ik, Bytes msg, ResponsePayload& payload,
                             noise::TransportKeys& keys);
// What this host can do (wire::initiation_payload::kCap* bits).
std::uint32_t local_capabilities();

// --- Hub side --------------------------------------------------------------------
noise::IkResponder make_responder(const StaticKeypair& local);
// Reads an initiation whose mac1 was checked; on success the initiator's static
// key is ik.remote_static().
noise::Failure read_initiation(noise::IkResponder& ik, Bytes msg, InitiationPayload& payload,
                               noise::IkResponder::StaticSecretLookup lookup = nullptr, const void* lookup_ctx = nullptr);
// Writes the response except its macs. `out` is wire::response::kSize bytes.
noise::Failure write_response(noise::IkResponder& ik, const PrivateKey& ephemeral, std::uint32_t sender_index,
                              std::uint32_t receiver_index, const ResponsePayload& payload, MutableBytes out,
                              noise::TransportKeys& keys);

}  // namespace tund::crypto
