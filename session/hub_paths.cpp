// The hub's paths to a client (RFC 9000 8 and 9): the return path's
// migration and validation, the standby address redundant copies go to, and
// the address a handshake came from. Every address is sent data only once the
// client answered from it under the session's keys; until then at most
// kUnvalidatedAmplification times what came from it, so a client that spoofs
// its source cannot turn the hub on someone else.
#include <algorithm>

#include "session/hub.hpp"

namespace tund::session {

namespace t = wire::transport;

void Hub::migrate(HubSession& s, const Endpoint& to, std::size_t bytes, Time now) {
  if (s.validated_) s.previous_ = s.endpoint_;
  s.endpoint_ = to;
  s.validated_ = false;
  s.via_previous_ = false;  // until the client says its old path still carries
  s.unvalidated_rx_ = bytes;
  s.unvalidated_tx_ = 0;
  ++s.path_changes_;
  s.validation_deadline_ = now + s.validation_timeout();
  challenge(s, now);
  if (std::find(validating_.begin(), validating_.end(), s.client_) == validating_.end())
    validating_.push_back(s.client_);
}

void HubSession::on_rtt_sample(Duration sample, Duration resend_floor) {
  srtt_ = srtt_ ? (*srtt_ * (limits::kRttEwmaDivisor - 1) + sample) / limits::kRttEwmaDivisor : sample;
  stream_.set_round_trip(*srtt_, resend_floor);
}

Duration HubSession::challenge_interval() const {
  return std::clamp<Duration>(srtt_.value_or(Duration{0}) * 2, limits::kPathChallengeInterval,
                              limits::kPathChallengeIntervalCeiling);
}

Duration HubSession::validation_timeout() const {
  return std::clamp<Duration>(srtt_.value_or(Duration{0}) * 4, limits::kPathValidationTimeout,
                              limits::kPathValidationTimeoutCeiling);
}

void Hub::challenge(HubSession& s, Time now) {
  ControlFrame f;
  f.kind = wire::ControlKind::kPathProbe;
  f.probe.probe_id = rng_.next_u32();
  rng_.fill(f.probe.challenge);
  s.challenge_ = f.probe;
  s.challenged_at_ = now;
  s.challenge_next_ = now + s.challenge_interval();
  queue_control(s, f, s.endpoint_);
}

void Hub::on_handshake_proven(HubSession& s, const Endpoint& from, bool moves, Time now) {
  s.handshake_index_ = 0;
  if (from == s.endpoint_) {
    if (s.validated_) return;
  } else if (!moves) {
    // A probe under the new keys: the address is the client's, though not
    // its return path; it may carry copies at once.
    s.standby_ = from;
    s.standby_heard_ = now;
    return;
  } else {
    if (s.validated_) s.previous_ = s.endpoint_;
    s.endpoint_ = from;
  }
  // The response was the challenge and this packet its answer.
  s.validated_ = true;
  s.via_previous_ = false;
  s.validation_deadline_ = s.challenge_next_ = kNever;
  if (s.channel_.has_staged() || s.stream_.has_resend()) mark_ready(s);
}

void Hub::on_standby_heard(HubSession& s, const Endpoint& from, std::size_t bytes, Time now) {
  // Validated already: as the standby, or as a return path the client left.
  if (from == s.standby_ || (from == s.previous_ && s.previous_.valid())) {
    s.standby_ = from;
    s.standby_heard_ = now;
    return;
  }
  if (!(from == s.candidate_)) {
    s.candidate_ = from;
    s.candidate_rx_ = 0;
    s.candidate_tx_ = 0;
    s.candidate_challenged_ = kNever;
  }
  s.candidate_rx_ += bytes;
  s.candidate_heard_ = now;
  // Challenged again when the last challenge went unanswered for a while
  // (lost); each time within the budget the client's own packets earn.
  if (s.candidate_challenged_ != kNever && now - s.candidate_challenged_ < s.challenge_interval()) return;
  ControlFrame f;
  f.kind = wire::ControlKind::kPathProbe;
  f.probe.probe_id = rng_.next_u32();
  rng_.fill(f.probe.challenge);
  if (!queue_to_candidate(s, f)) return;
  s.candidate_challenge_ = f.probe;
  s.candidate_challenged_ = now;
}

bool Hub::queue_to_candidate(HubSession& s, const ControlFrame& f) {
  const std::size_t size = t::kOverhead + encoded_size(f);
  if (s.candidate_tx_ + size > limits::kUnvalidatedAmplification * s.candidate_rx_) {
    drops_.count(DropReason::kAmplificationLimit);
    return false;
  }
  s.candidate_tx_ += size;
  queue_control(s, f, s.candidate_);
  return true;
}

bool Hub::on_probe_reply(HubSession& s, const Probe& probe, const Endpoint& from, Time now) {
  if (!s.validated_ && from == s.endpoint_ && probe == s.challenge_) {
    if (s.challenged_at_ != kNever) s.on_rtt_sample(now - s.challenged_at_, config_.resend.max_age);
    s.validated_ = true;
    s.validation_deadline_ = s.challenge_next_ = kNever;
    if (s.channel_.has_staged() || s.stream_.has_resend()) mark_ready(s);
    return true;
  }
  if (s.candidate_challenged_ != kNever && from == s.candidate_ && probe == s.candidate_challenge_) {
    s.standby_ = from;
    s.standby_heard_ = now;
    s.candidate_ = Endpoint{};
    s.candidate_challenged_ = kNever;
    return true;
  }
  return false;
}

bool Hub::copy_allowed(HubSession& s, std::size_t inner_len, Time now) {
  const bool fresh = s.standby_.valid() && s.standby_heard_ + limits::kRedundantStandbyFresh > now &&
                     !(s.standby_ == s.endpoint_);
  if (!fresh) {
    // The client speaks from an address not validated yet: no copy there.
    if (s.candidate_.valid() && s.candidate_heard_ + limits::kRedundantStandbyFresh > now)
      drops_.count(DropReason::kUnvalidatedStandby);
    return false;
  }
  // (Time::min() first: subtracting it would overflow.)
  if (s.copy_window_ == Time::min() || now - s.copy_window_ >= std::chrono::seconds(1)) {
    s.copy_window_ = now;
    s.copy_window_bytes_ = 0;
  }
  const std::size_t size = inner_len + t::kDataOverhead;
  if (s.copy_window_bytes_ + size > limits::kRedundantBytesPerSecond) {
    drops_.count(DropReason::kRedundantBudget);
    return false;
  }
  s.copy_window_bytes_ += size;
  return true;
}

SealResult Hub::seal_redundant_copy(MutableBytes out, std::size_t inner_len, Time now, crypto::SealJob* defer) {
  const PendingCopy copy = pending_copy_;
  pending_copy_ = {};
  HubSession* s = copy.seq && copy.client < clients_.size() ? clients_[copy.client].session.get() : nullptr;
  if (!s || inner_len + t::kDataOverhead > out.size()) return SealResult::drop(DropReason::kNoSession);
  const auto n = s->channel_.seal_data(out, inner_len, copy.seq, now, defer, wire::MessageType::kDataCopy);
  if (!n) return SealResult::drop(DropReason::kNoSession);
  s->redundant_bytes_ += *n;
  SealResult r = SealResult::send(*n);
  r.to = s->standby_;
  return r;
}

void Hub::expire_validation(Time now) {
  // Re-challenge, or give up and return to the last validated path.
  std::erase_if(validating_, [&](ClientId id) {
    HubSession* s = clients_[id].session.get();
    if (!s || s->validated_) return true;
    if (now >= s->validation_deadline_) {
      if (s->previous_.valid()) s->endpoint_ = s->previous_;
      s->validated_ = true;
      s->validation_deadline_ = s->challenge_next_ = kNever;
      if (s->channel_.has_staged()) mark_ready(*s);
      return true;
    }
    if (now >= s->challenge_next_) challenge(*s, now);
    return false;
  });
}

}  // namespace tund::session
