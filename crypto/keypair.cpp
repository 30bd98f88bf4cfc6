#include "crypto/keypair.hpp"

namespace tund::crypto {

namespace t = wire::transport;

Keypair::Keypair(const noise::TransportKeys& keys, std::uint32_t local_index,
                 std::uint32_t remote_index, Time created, Suite suite)
    : send_key_(keys.send),
      recv_key_(keys.recv),
      local_index_(local_index),
      remote_index_(remote_index),
      suite_(suite),
      created_(created) {}

Keypair::~Keypair() {
  wipe(send_key_);
  wipe(recv_key_);
}

std::optional<std::uint64_t> Keypair::reserve_counter() {
  if (send_counter_ >= limits::kRejectAfterMessages) return std::nullopt;
  return send_counter_++;
}

std::size_t Keypair::seal(wire::MessageType type, std::uint64_t counter, Bytes payload,
                          std::uint8_t* out) const {
  // The payload may already sit at out + kHeaderSize; the header is written
  // first and never overlaps it.
  wire::write_header(out, type);
  store_le32(out + t::kReceiver, remote_index_);
  store_le64(out + t::kCounter, counter);
  aead_seal(suite_, send_key_, counter, Bytes(out, t::kHeaderSize), payload, out + t::kHeaderSize);
  return payload.size() + t::kOverhead;
}

bool Keypair::may_open(Bytes msg, Time now) const {
  const std::uint64_t counter = load_le64(msg.data() + t::kCounter);
  return !expired(now) && counter < limits::kRejectAfterMessages && window_.may_accept(counter);
}

bool Keypair::decrypt(MutableBytes msg) const {
  const std::uint64_t counter = load_le64(msg.data() + t::kCounter);
  return aead_open(suite_, recv_key_, counter, Bytes(msg.data(), t::kHeaderSize),
                   Bytes(msg.data() + t::kHeaderSize, msg.size() - t::kHeaderSize), msg.data() + t::kHeaderSize);
}

std::optional<DropReason> Keypair::open(Bytes msg, std::uint8_t* out, Time now, const OpenJob* opened) {
  if (expired(now)) return DropReason::kKeyExpired;
  const std::uint64_t counter = load_le64(msg.data() + t::kCounter);
  if (counter >= limits::kRejectAfterMessages) return DropReason::kCounterLimit;
  if (!window_.may_accept(counter)) return DropReason::kReplay;
  const bool ahead = opened && opened->keypair == this && opened->msg == msg.data() && opened->len == msg.size() &&
                     out == msg.data() + t::kHeaderSize;
  if (ahead ? !opened->ok
            : !aead_open(suite_, recv_key_, counter, msg.first(t::kHeaderSize), msg.subspan(t::kHeaderSize), out))
    return DropReason::kAuthFailed;
  if (!window_.accept(counter)) return DropReason::kReplay;
  return std::nullopt;
}

}  // namespace tund::crypto
