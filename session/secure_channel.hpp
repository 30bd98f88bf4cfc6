// The transport half of a session, the same for client and hub: up to three
// keypairs (previous, current, next), sealing and opening of transport
// messages, the bounded queue of packets waiting for a key, and counters.
//
//   install(confirmed)    initiator: new keypair becomes current at once
//   install(unconfirmed)  responder: new keypair waits in `next` until the
//                         initiator sends anything under it
//   current -> previous   previous stays usable for receiving until it expires
//                         (kRejectAfterTime), the grace for in-flight packets
#pragma once

#include <functional>
#include <memory>

#include "crypto/keypair.hpp"
#include "session/results.hpp"
#include "session/staging_queue.hpp"

namespace tund::session {

class SecureChannel {
 public:
  // Called with the local index of every keypair that is discarded, so the
  // owner can release it from its index table.
  using OnRetire = std::function<void(std::uint32_t)>;
  // `staged`: what all sessions' staged packets may hold together (a hub's).
  explicit SecureChannel(OnRetire on_retire, MemoryBudget* staged = nullptr)
      : on_retire_(std::move(on_retire)), staged_(staged) {}
  ~SecureChannel();
  SecureChannel(const SecureChannel&) = delete;
  SecureChannel& operator=(const SecureChannel&) = delete;

  void install(std::unique_ptr<crypto::Keypair> kp, bool confirmed);
  crypto::Keypair* find(std::uint32_t local_index);
  const crypto::Keypair* current() const { return current_.get(); }
  crypto::Suite suite() const {
    const auto* kp = next_ ? next_.get() : current_.get();
    return kp ? kp->suite() : crypto::Suite::kChaCha20Poly1305;
  }
  // A keypair we may send with now.
  bool can_send(Time now) const;

  // Opens a transport message in place (plaintext at msg[16, 16+len)).
  // `newest` is true when its counter is the highest seen on that keypair.
  std::optional<DropReason> open(crypto::Keypair& kp, MutableBytes msg, std::size_t& len,
                                 bool& newest, Time now, const crypto::OpenJob* opened = nullptr);
  // Seals buf[16, 16+payload_len) in place under the current keypair.
  // Returns nothing when no keypair can send. With `defer`, the counter is
  // reserved and the AEAD left to defer->run().
  std::optional<std::size_t> seal(wire::MessageType type, MutableBytes buf,
                                  std::size_t payload_len, Time now,
                                  crypto::SealJob* defer = nullptr);
  // A data message: data sequence `seq` and the inner packet at
  // buf[24, 24+inner_len), sealed as above.
  std::optional<std::size_t> seal_data(MutableBytes buf, std::size_t inner_len, std::uint64_t seq, Time now,
                                       crypto::SealJob* defer = nullptr,
                                       wire::MessageType type = wire::MessageType::kData) {
    store_le64(buf.data() + wire::transport::kHeaderSize, seq);
    return seal(type, buf, inner_len + wire::transport::kSeqSize, now, defer);
  }

  // Bounded queue for packets that wait for a key (staging_queue.hpp):
  // nothing when staged, else why not.
  std::optional<DropReason> stage(Bytes inner) { return staged_.push(inner); }
  bool has_staged() const { return !staged_.empty(); }
  // Moves the oldest staged packet to buf[16, ...); returns its length.
  std::size_t unstage(MutableBytes buf);
  void clear_staged() { staged_.clear(); }
  std::size_t staged_memory() const { return staged_.memory(); }

  // Drops expired keypairs; returns the earliest future expiry.
  Time expire(Time now);
  bool has_any_keypair() const { return previous_ || current_ || next_; }
  void clear();
  // The previous keypair goes now, not at its expiry: it belongs to a peer
  // stream that is over (the peer said it holds no stream of ours).
  void retire_previous() { retire(previous_); }

  SessionStats& stats() { return stats_; }
  const SessionStats& stats() const { return stats_; }

 private:
  void retire(std::unique_ptr<crypto::Keypair>& kp);

  OnRetire on_retire_;
  std::unique_ptr<crypto::Keypair> previous_, current_, next_;
  StagingQueue staged_;
  SessionStats stats_;
};

// The keypair a transport datagram would be opened with, when it is worth
// decrypting ahead (crypto::OpenJob); `find(receiver index)` looks it up in
// the owner's index table. Nothing for handshakes or unknown indices.
template <class Find>
crypto::Keypair* keypair_to_open_ahead(Bytes datagram, Time now, Find&& find) {
  const auto type = wire::classify(datagram);
  if (!type || (!wire::carries_data(*type) && *type != wire::MessageType::kControl)) return nullptr;
  crypto::Keypair* kp = find(load_le32(datagram.data() + wire::transport::kReceiver));
  return kp && kp->may_open(datagram, now) ? kp : nullptr;
}

}  // namespace tund::session
