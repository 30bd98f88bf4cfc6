#include "session/secure_channel.hpp"

#include <algorithm>

namespace tund::session {

namespace t = wire::transport;

SecureChannel::~SecureChannel() { clear(); }

void SecureChannel::retire(std::unique_ptr<crypto::Keypair>& kp) {
  if (!kp) return;
  on_retire_(kp->local_index());
  kp.reset();
}

void SecureChannel::clear() {
  retire(previous_);
  retire(current_);
  retire(next_);
  staged_.clear();
}

void SecureChannel::install(std::unique_ptr<crypto::Keypair> kp, bool confirmed) {
  if (confirmed) {
    retire(next_);
    retire(previous_);
    previous_ = std::move(current_);
    current_ = std::move(kp);
  } else {
    retire(next_);
    next_ = std::move(kp);
  }
}

crypto::Keypair* SecureChannel::find(std::uint32_t idx) {
  for (auto* kp : {current_.get(), previous_.get(), next_.get()})
    if (kp && kp->local_index() == idx) return kp;
  return nullptr;
}

bool SecureChannel::can_send(Time now) const {
  return current_ && !current_->expired(now) &&
         current_->next_send_counter() < limits::kRejectAfterMessages;
}

std::optional<DropReason> SecureChannel::open(crypto::Keypair& kp, MutableBytes msg,
                                              std::size_t& len, bool& newest, Time now,
                                              const crypto::OpenJob* opened) {
  if (auto drop = kp.open(msg, msg.data() + t::kHeaderSize, now, opened)) return drop;
  len = msg.size() - t::kOverhead;
  newest = kp.receive_window().highest() == load_le64(msg.data() + t::kCounter);
  if (&kp == next_.get()) {
    // The initiator used the new keypair: it has our response, so promote it.
    retire(previous_);
    previous_ = std::move(current_);
    current_ = std::move(next_);
  }
  stats_.rx_bytes += msg.size();
  ++stats_.rx_packets;
  return std::nullopt;
}

std::optional<std::size_t> SecureChannel::seal(wire::MessageType type, MutableBytes buf,
                                               std::size_t payload_len, Time now,
                                               crypto::SealJob* defer) {
  if (!can_send(now) || buf.size() < payload_len + t::kOverhead) return std::nullopt;
  const auto counter = current_->reserve_counter();
  if (!counter) return std::nullopt;
  const std::size_t n = payload_len + t::kOverhead;
  if (defer)
    *defer = crypto::SealJob{current_.get(), *counter, type, buf.data(), payload_len};
  else
    current_->seal(type, *counter, Bytes(buf.data() + t::kHeaderSize, payload_len), buf.data());
  stats_.tx_bytes += n;
  ++stats_.tx_packets;
  return n;
}

std::size_t SecureChannel::unstage(MutableBytes buf) {
  return staged_.pop(buf.subspan(t::kHeaderSize, buf.size() - t::kOverhead));
}

Time SecureChannel::expire(Time now) {
  Time earliest = kNever;
  for (auto* slot : {&previous_, &current_, &next_}) {
    if (!*slot) continue;
    if ((*slot)->expired(now)) {
      retire(*slot);
    } else {
      earliest = std::min(earliest, (*slot)->created() + limits::kRejectAfterTime);
    }
  }
  return earliest;
}

}  // namespace tund::session
