// One direction pair of transport keys from one handshake, with its send
// counter and receive replay window. Data and control messages share the
// counter space; the 16-byte header is authenticated as associated data.
//
// Sending is split in two so that a batch can reserve counters in order on one
// thread and seal on several: reserve_counter() then seal() (which is const).
#pragma once

#include <cstdint>
#include <optional>

#include "crypto/noise.hpp"
#include "crypto/replay_window.hpp"
#include "tund/drop_reason.hpp"
#include "tund/types.hpp"
#include "tund/wire.hpp"

namespace tund::crypto {

class Keypair {
 public:
  Keypair(const noise::TransportKeys& keys, std::uint32_t local_index, std::uint32_t remote_index,
          Time created, Suite suite = Suite::kChaCha20Poly1305);
  ~Keypair();
  Keypair(const Keypair&) = delete;
  Keypair& operator=(const Keypair&) = delete;

  // The next unused send counter, or nothing once the hard limit is reached.
  std::optional<std::uint64_t> reserve_counter();
  // Writes header + AEAD(payload) to out (payload.size() + wire::transport::kOverhead
  // bytes); returns that size. `payload` may alias out + kHeaderSize.
  std::size_t seal(wire::MessageType type, std::uint64_t counter, Bytes payload,
                   std::uint8_t* out) const;

  // Opens a classified transport message: replay check, AEAD, window update.
  // `out` gets msg.size() - kOverhead bytes. Returns the reason on failure.
  // With `opened` (a decryption done ahead, see OpenJob) for this keypair and
  // message, its verdict stands in for the AEAD; the checks still run here.
  std::optional<DropReason> open(Bytes msg, std::uint8_t* out, Time now, const struct OpenJob* opened = nullptr);

  // Worth decrypting ahead: not expired, counter in range, not yet seen.
  bool may_open(Bytes msg, Time now) const;
  // The AEAD alone, in place (plaintext at msg + kHeaderSize): touches no state.
  bool decrypt(MutableBytes msg) const;

  bool expired(Time now) const { return now - created_ >= limits::kRejectAfterTime; }
  bool wants_rekey(Time now) const {
    return now - created_ >= limits::kRekeyAfterTime || send_counter_ >= limits::kRekeyAfterMessages;
  }

  Suite suite() const { return suite_; }
  std::uint32_t local_index() const { return local_index_; }
  std::uint32_t remote_index() const { return remote_index_; }
  Time created() const { return created_; }
  std::uint64_t next_send_counter() const { return send_counter_; }
  const ReplayWindow& receive_window() const { return window_; }

  // Test hook: jump the send counter (to exercise the limit without 2^64 packets).
  void skip_send_counter_for_test(std::uint64_t value) { send_counter_ = value; }

 private:
  Key send_key_;
  Key recv_key_;
  std::uint32_t local_index_;
  std::uint32_t remote_index_;
  Suite suite_;
  Time created_;
  std::uint64_t send_counter_ = 0;
  ReplayWindow window_;
};

// A seal whose counter is reserved: the AEAD runs later, maybe on another
// thread, while the keypair is kept alive (keypairs are only retired while
// received packets are processed, never while a batch is being sealed).
struct SealJob {
  const Keypair* keypair = nullptr;
  std::uint64_t counter = 0;
  wire::MessageType type{};
  std::uint8_t* out = nullptr;  // header at out, payload at out + kHeaderSize
  std::size_t payload_len = 0;
  void run() const { keypair->seal(type, counter, Bytes(out + wire::transport::kHeaderSize, payload_len), out); }
};

// A transport message decrypted ahead of its turn, maybe on another thread:
// a batch finds each message's keypair in order, decrypts them all in
// parallel, then hands them to the session in order with the verdicts, where
// the replay window is updated. Keypairs are not retired in between.
struct OpenJob {
  Keypair* keypair = nullptr;
  std::uint8_t* msg = nullptr;
  std::size_t len = 0;
  bool ok = false;
  void run() { ok = keypair->decrypt(MutableBytes(msg, len)); }
};

}  // namespace tund::crypto
