#include "session/data_stream.hpp"

#include "tund/wire.hpp"

namespace tund::session {

void DataStream::restart(std::uint64_t id) {
  id_ = id;
  next_seq_ = 1;
  forget_peer();
}

void DataStream::forget_peer() {
  acks_ = AckState{};
  reorder_.reset();
  resend_.clear();
  switch_started_ = kNever;
}

std::uint64_t DataStream::send(Bytes inner, Time now, std::uint32_t path) {
  const std::uint64_t seq = next_seq_++;
  resend_.remember(seq, inner, now, path);
  return seq;
}

std::optional<InnerPacket> DataStream::receive(Bytes plain, Time now, std::uint64_t path, DropReason& why) {
  if (plain.size() < wire::transport::kSeqSize) {
    why = DropReason::kBadInnerPacket;
    return std::nullopt;
  }
  auto inner = parse_inner(plain.subspan(wire::transport::kSeqSize));
  if (!inner) {
    why = DropReason::kBadInnerPacket;
    return std::nullopt;
  }
  // Counted as received (and so acknowledged) before the caller's own checks:
  // the sender's liveness timer counts on an answer to every authentic packet.
  const std::uint64_t seq = load_le64(plain.data()) & ~wire::transport::kSeqOrdered;
  if (!acks_.accept(seq, now)) {
    why = DropReason::kDuplicateData;
    return std::nullopt;
  }
  reorder_.arrived(seq, now, path);
  return inner;
}

bool DataStream::hold_for_order(Bytes plain, std::size_t inner_len, Time now) {
  const std::uint64_t word = load_le64(plain.data());
  if (!(word & wire::transport::kSeqOrdered)) return false;
  return reorder_.hold(word & ~wire::transport::kSeqOrdered, plain.subspan(wire::transport::kSeqSize, inner_len), now);
}

void DataStream::begin_switch(Time now, bool planned) {
  switch_started_ = now;
  switch_seq_ = next_seq_;
  planned_ = planned;
}

std::optional<DataStream::Completed> DataStream::complete_switch(Time now) {
  if (switch_started_ == kNever) return std::nullopt;
  Completed c;
  if (!planned_) c.resent = resend_.schedule_resend(switch_seq_, now);
  c.took = now - switch_started_;
  switch_started_ = kNever;
  return c;
}

bool DataStream::answer_switch(Time now, bool planned) {
  if (planned) return true;
  const bool allowed = !resend_.has_resend() &&
                       (last_answer_ == kNever || now - last_answer_ >= limits::kSwitchExchangeInterval);
  if (!allowed) return false;
  resend_.schedule_resend(next_seq_, now);
  last_answer_ = now;
  return true;
}

}  // namespace tund::session
