// The hub's paths to a client (RFC 9000 8 and 9): the return path's
// migration and validation, the standby address redundant copies go to, and
// the address a handshake came from. Every address is sent data only once the
// client answered from it under the session's keys; until then at most
// kUnvalidatedAmplification times what came from it, so a client that spoofs
// its source cannot turn the hub on someone else.
#include <algorithm>

#include "session/flow_fields.hpp"
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

std::uint32_t HubSession::path_of(const Endpoint& e) {
  for (std::size_t i = 0; i < paced_eps_.size(); ++i)
    if (paced_eps_[i] == e) return static_cast<std::uint32_t>(i + 1);
  // A new endpoint takes the next slot in turn (the one added longest ago):
  // its pacer and byte count start afresh.
  const std::size_t i = paced_next_;
  paced_next_ = (paced_next_ + 1) % paced_eps_.size();
  pacer_.forget(static_cast<std::uint32_t>(i + 1));
  paced_eps_[i] = e;
  endpoint_bytes_[i] = 0;
  return static_cast<std::uint32_t>(i + 1);
}

bool HubSession::sendable(const Endpoint& e, Time now) const {
  if (e == endpoint_) return validated_;
  return e == standby_ && standby_heard_ + limits::kRedundantStandbyFresh > now;
}

const Endpoint& HubSession::return_endpoint(Bytes inner, Time now) const {
  if (!bond_flows_ || !validated_) return data_endpoint();
  FlowFields f;
  if (!read_flow_fields(inner, f)) return data_endpoint();
  const auto* e = bond_flows_->find(flow_hash(f, flow_seed_), now);
  if (!e || !e->value || e->value > paced_eps_.size()) return data_endpoint();
  const Endpoint& to = paced_eps_[e->value - 1];
  // Only where the client proved it wants traffic (anti-reflection).
  return sendable(to, now) ? to : data_endpoint();
}

void HubSession::refresh_bond(Time now) {
  std::array<std::uint32_t, 2> ids{};
  if (validated_) ids[0] = path_of(endpoint_);
  if (standby_.valid() && !(standby_ == endpoint_) && sendable(standby_, now)) ids[1] = path_of(standby_);
  if (ids == bonded_paths_) return;  // the pacers are told only of a change
  bonded_paths_ = ids;
  pacer_.set_bonded(ids, now);
}

void Hub::note_bond_flow(HubSession& s, bool bonded, Bytes inner, const Endpoint& from, Time now) {
  // The client says it bonds by sending kDataBond (authenticated, like any
  // data): no flag to keep in sync, and nothing unauthenticated turns it on.
  if (bonded && !s.bond_flows_)
    s.bond_flows_ = std::make_unique<FlowTable<std::uint32_t>>(limits::kHubBondFlows, limits::kBondFlowIdle);
  if (!s.bond_flows_) return;
  s.refresh_bond(now);
  FlowFields f;
  if (!read_flow_fields(inner, f)) return;
  // Keyed by the reply's 5-tuple: what the hub will look up when it sends.
  std::swap(f.src, f.dst);
  std::swap(f.sport, f.dport);
  bool fresh = false, evicted = false;
  s.bond_flows_->touch(flow_hash(f, s.flow_seed_), now, fresh, evicted).value = s.path_of(from);
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
