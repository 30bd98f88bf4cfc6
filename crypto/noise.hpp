// Noise_IK_25519_ChaChaPoly_SHA256, as in the Noise specification (rev 34):
//
//   IK:
//     <- s
//     ...
//     -> e, es, s, ss
//     <- e, ee, se
//
// The state machine is generic in its payloads so it can be checked against the
// published test vectors; handshake.hpp wraps it in this project's messages.
// Ephemeral keys are inputs (drawn by the caller from its Rng), never generated here.
#pragma once

#include <cstdint>
#include <string_view>

#include "crypto/primitives.hpp"

namespace tund::crypto::noise {

inline constexpr std::string_view kProtocolName = "Noise_IK_25519_ChaChaPoly_SHA256";

// Size of a message on the wire for a given payload size.
inline constexpr std::size_t message1_size(std::size_t payload) {
  return 32 + (32 + kAeadTag) + payload + kAeadTag;
}
inline constexpr std::size_t message2_size(std::size_t payload) {
  return 32 + payload + kAeadTag;
}

// CipherState + SymmetricState of the spec.
class SymmetricState {
 public:
  void initialize(std::string_view protocol_name);
  void mix_hash(Bytes data);
  void mix_key(Bytes input_key_material);
  void encrypt_and_hash(Bytes plain, std::uint8_t* out);
  // False when there is a key and decryption fails.
  [[nodiscard]] bool decrypt_and_hash(Bytes cipher, std::uint8_t* out);
  // Derives the two transport keys: initiator->responder, responder->initiator.
  void split(Key& initiator_to_responder, Key& responder_to_initiator) const;
  const Hash& handshake_hash() const { return h_; }
  void clear();

 private:
  Hash ck_{};
  Hash h_{};
  Key k_{};
  bool has_key_ = false;
  std::uint64_t n_ = 0;
};

// Why a handshake step failed.
enum class Failure : std::uint8_t { kNone, kBadSize, kLowOrder, kDecrypt };

struct TransportKeys {
  Key send{};
  Key recv{};
  Hash handshake_hash{};
};

class IkInitiator {
 public:
  IkInitiator(std::string_view protocol_name, Bytes prologue, const PrivateKey& local_static,
              const PublicKey& local_static_pub, const PublicKey& remote_static);
  // Its copy of the static private key goes with it, as the ephemeral does.
  ~IkInitiator() {
    symmetric_.clear();
    wipe(e_priv_);
    wipe(s_priv_);
  }
  IkInitiator(const IkInitiator&) = default;
  IkInitiator& operator=(const IkInitiator&) = default;

  // -> e, es, s, ss. `out` has message1_size(payload.size()) bytes.
  Failure write_message1(const PrivateKey& ephemeral, Bytes payload, MutableBytes out);
  // <- e, ee, se. `payload_out` has in.size() - message2_size(0) bytes.
  // A failure leaves the initiator as it was (ready for the genuine reply).
  Failure read_message2(Bytes in, MutableBytes payload_out, TransportKeys& keys);

 private:
  SymmetricState symmetric_;
  PrivateKey s_priv_;
  PublicKey s_pub_;
  PublicKey rs_;
  PrivateKey e_priv_{};
};

class IkResponder {
 public:
  IkResponder(std::string_view protocol_name, Bytes prologue, const PrivateKey& local_static,
              const PublicKey& local_static_pub);
  ~IkResponder() {
    symmetric_.clear();
    wipe(s_priv_);
  }
  IkResponder(const IkResponder&) = default;
  IkResponder& operator=(const IkResponder&) = default;

  // The static-static DH result for an initiator, computed once ahead (as
  // WireGuard keeps it per peer): saves one of the responder's X25519s.
  // Returns nullptr for keys it does not know (then it is computed here).
  using StaticSecretLookup = const Key* (*)(const void* ctx, const PublicKey& initiator);

  // -> e, es, s, ss. On success the initiator's static key is remote_static();
  // a failure leaves the responder as it was.
  Failure read_message1(Bytes in, MutableBytes payload_out, StaticSecretLookup lookup = nullptr,
                        const void* lookup_ctx = nullptr);
  // <- e, ee, se.
  Failure write_message2(const PrivateKey& ephemeral, Bytes payload, MutableBytes out,
                         TransportKeys& keys);
  const PublicKey& remote_static() const { return rs_; }

 private:
  Failure read_message1_into(SymmetricState& ss, PublicKey& re, PublicKey& rs, Bytes in, MutableBytes payload_out,
                             StaticSecretLookup lookup, const void* lookup_ctx) const;

  SymmetricState symmetric_;
  PrivateKey s_priv_;
  PublicKey rs_{};
  PublicKey re_{};
};

}  // namespace tund::crypto::noise
