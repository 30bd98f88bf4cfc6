#include "session/client.hpp"

#include <algorithm>
#include <cstring>

#include "session/ip_packet.hpp"
#include "session/vip_check.hpp"

namespace tund::session {

namespace t = wire::transport;
using wire::MessageType;

// --- ClientSession -------------------------------------------------------------

ClientSession::ClientSession(Client& owner, std::size_t slot, const PublicKey& hub_key)
    : owner_(owner),
      slot_(slot),
      hub_key_(hub_key),
      cookies_(hub_key),
      channel_([this](std::uint32_t idx) { owner_.indices_.release(idx); }),
      stream_(owner.config_.resend) {}

ClientSession::~ClientSession() { stop(); }

void ClientSession::start(Time now) {
  if (state_ != State::kIdle) return;
  state_ = State::kHandshaking;
  reset_stream();
  begin_handshake(now);
}

void ClientSession::reset_stream() {
  std::array<std::uint8_t, 8> bytes;
  std::uint64_t id = 0;
  while (id == 0) {
    owner_.rng_.fill(bytes);
    id = load_le64(bytes.data());
  }
  stream_.restart(id);
}

void ClientSession::stop() {
  cancel_handshake();
  assigned_route_.reset();
  owner_.routes_.set_assigned(slot_, std::nullopt);
  channel_.clear();
  control_queue_.clear();
  outstanding_.clear();
  state_ = State::kIdle;
  unanswered_since_ = keepalive_due_ = earliest_expiry_ = kNever;
}

void ClientSession::cancel_handshake() {
  if (pending_index_) owner_.indices_.release(pending_index_);
  pending_index_ = 0;
  initiator_.reset();
  initiation_queued_ = false;
  retransmit_at_ = kNever;
}

void ClientSession::begin_handshake(Time now) {
  cancel_handshake();
  const auto& id = owner_.config_.identity;
  initiator_.emplace(crypto::make_initiator(id, hub_key_));
  pending_index_ = owner_.indices_.allocate(this);

  // Strictly increasing timestamps even if the wall clock steps back.
  const WallTime wall = owner_.config_.wall_offset +
                        static_cast<WallTime>(now.time_since_epoch().count());
  auto ts = crypto::encode_timestamp(wall);
  if (std::memcmp(ts.data(), last_timestamp_.data(), ts.size()) <= 0) {
    ts = last_timestamp_;
    for (int i = static_cast<int>(ts.size()) - 1; i >= 0 && ++ts[i] == 0; --i) {
    }
  }
  last_timestamp_ = ts;

  PrivateKey ephemeral;
  crypto::generate_private_key(owner_.rng_, ephemeral);
  const crypto::InitiationPayload payload{ts, owner_.config_.capabilities, stream_.id()};
  const auto f = crypto::write_initiation(*initiator_, ephemeral, pending_index_, payload, initiation_);
  crypto::wipe(ephemeral);
  if (f != crypto::noise::Failure::kNone) {
    // Only a low-order hub key gets here, and config loading refuses those.
    cancel_handshake();
    retransmit_at_ = now + limits::kRekeyTimeout;
    return;
  }
  cookies_.stamp(initiation_, wire::initiation::kMac1, now);
  initiation_queued_ = true;
  const auto jitter = std::chrono::milliseconds(
      owner_.rng_.uniform(static_cast<std::uint32_t>(limits::kRekeyTimeoutJitterMax.count())));
  retransmit_at_ = now + (silent_ ? Duration(limits::kSilentRetry) : Duration(limits::kRekeyTimeout)) + jitter;
}

SealResult ClientSession::seal(MutableBytes buf, std::size_t inner_len, Time now, crypto::SealJob* defer) {
  if (state_ == State::kIdle) return SealResult::drop(DropReason::kNoSession);
  if (inner_len + t::kDataOverhead > buf.size()) return SealResult::drop(DropReason::kPacketTooBig);
  // During a switching exchange new data waits (bounded) so that what the hub
  // lacks goes out first: resends behind newer data look like loss to inner TCP.
  if (channel_.can_send(now) && !stream_.switching()) {
    const std::uint64_t seq = stream_.send(Bytes(buf.data() + t::kDataOffset, inner_len), now);
    if (auto tx = seal_data(buf, inner_len, seq, now, defer)) {
      // Rekey by message count is checked where messages are counted.
      if (!initiator_ && channel_.current()->wants_rekey(now)) begin_handshake(now);
      return SealResult::send(tx->len);
    }
  }
  if (!channel_.stage(Bytes(buf.data() + t::kDataOffset, inner_len)))
    return SealResult::drop(DropReason::kStagingFull);
  if (!initiator_ && !channel_.can_send(now)) begin_handshake(now);
  return SealResult::staged();
}

std::optional<ClientTransmit> ClientSession::seal_data(MutableBytes out, std::size_t inner_len, std::uint64_t seq,
                                                       Time now, crypto::SealJob* defer) {
  const auto len = channel_.seal_data(out, inner_len, seq, now, defer);
  if (!len) return std::nullopt;
  on_sent(now, true);
  return ClientTransmit{*len, active_path_};
}

std::optional<ClientTransmit> ClientSession::poll_transmit(MutableBytes out, Time now) {
  if (state_ == State::kIdle) return std::nullopt;
  if (initiation_queued_ && out.size() >= initiation_.size()) {
    initiation_queued_ = false;
    std::memcpy(out.data(), initiation_.data(), initiation_.size());
    return ClientTransmit{initiation_.size(), active_path_};
  }
  if (!channel_.can_send(now)) return std::nullopt;
  // Control first (the switch exchange, acks), then what the hub lacks (oldest
  // first), then what waited for a key.
  if (stream_.ack_due(now) && !std::any_of(control_queue_.begin(), control_queue_.end(), [](const QueuedControl& q) {
        return q.frame.kind == wire::ControlKind::kAck;
      })) {
    ControlFrame f;
    f.kind = wire::ControlKind::kAck;
    queue_control(f, active_path_);
  }
  while (!control_queue_.empty() && out.size() >= t::kOverhead + wire::control::kMaxSize) {
    QueuedControl q = control_queue_.front();
    control_queue_.erase(control_queue_.begin());
    if (!has_path(q.path) && q.path != active_path_) continue;  // its path is gone
    if (q.frame.kind == wire::ControlKind::kAck) q.frame.ack = stream_.make_ack(q.frame.ack.flags);
    const std::size_t n = encode_control(q.frame, out.data() + t::kHeaderSize);
    if (auto len = channel_.seal(MessageType::kControl, out, n, now)) {
      if (q.path == active_path_) {
        on_sent(now, false);
        const bool answered = q.frame.kind == wire::ControlKind::kPathProbe ||
                              (q.frame.kind == wire::ControlKind::kAck && (q.frame.ack.flags & wire::control::kAckFlagSwitch));
        if (answered && awaiting_since_ == kNever) awaiting_since_ = now;
      }
      return ClientTransmit{*len, q.path};
    }
  }
  std::uint64_t seq = 0;
  if (auto n = stream_.next_resend(out.subspan(t::kDataOffset, out.size() - t::kDataOverhead), seq))
    return seal_data(out, *n, seq, now);
  if (channel_.has_staged() && !stream_.switching()) {
    const std::size_t n = channel_.unstage(out.subspan(t::kSeqSize));
    const std::uint64_t seq_staged = stream_.send(Bytes(out.data() + t::kDataOffset, n), now);
    return seal_data(out, n, seq_staged, now);
  }
  return std::nullopt;
}

void ClientSession::queue_control(const ControlFrame& f, PathId path) {
  if (control_queue_.size() >= limits::kClientControlQueue) control_queue_.erase(control_queue_.begin());
  control_queue_.push_back({f, path});
}

ClientSession::Path* ClientSession::find_path(PathId id) {
  for (auto& p : paths_)
    if (p.id == id) return &p;
  return nullptr;
}

bool ClientSession::has_path(PathId id) const {
  return std::any_of(paths_.begin(), paths_.end(), [id](const Path& p) { return p.id == id; });
}

std::vector<PathId> ClientSession::path_ids() const {
  std::vector<PathId> ids;
  for (const auto& p : paths_) ids.push_back(p.id);
  return ids;
}

const PathStats* ClientSession::path_stats(PathId id) const {
  for (const auto& p : paths_)
    if (p.id == id) return &p.stats;
  return nullptr;
}

void ClientSession::add_path(PathId id, Time now) {
  if (has_path(id)) return;
  Path p;
  p.id = id;
  p.next_probe = now;  // measure a new path at once
  paths_.push_back(p);
  ++path_epoch_;
}

void ClientSession::remove_path(PathId id) {
  if (std::erase_if(paths_, [id](const Path& p) { return p.id == id; })) ++path_epoch_;
  std::erase_if(outstanding_, [id](const Outstanding& o) { return o.path == id; });
  std::erase_if(control_queue_, [id](const QueuedControl& q) { return q.path == id; });
}

void ClientSession::set_active_path(PathId id, Time now) {
  if (id == active_path_) return;
  const bool handover = active_path_ != 0;
  active_path_ = id;
  awaiting_since_ = kNever;
  if (Path* p = find_path(id)) p->next_probe = now;  // measure it at once
  if (!handover || !channel_.can_send(now)) return;
  // The switching exchange: our receive state, on the new path. The hub
  // follows this packet, answers with its own receive state, and each side
  // resends what the other lacks.
  ControlFrame f;
  f.kind = wire::ControlKind::kAck;
  f.ack.flags = wire::control::kAckFlagSwitch;
  std::erase_if(control_queue_, [](const QueuedControl& q) { return q.frame.kind == wire::ControlKind::kAck; });
  control_queue_.insert(control_queue_.begin(), {f, id});
  stream_.begin_switch(now);
}

Duration ClientSession::dead_timeout() const {
  for (const auto& p : paths_)
    if (p.id == active_path_ && p.stats.rtt)
      return std::clamp<Duration>(*p.stats.rtt * limits::kDeadRttFactor, limits::kDeadFloor, limits::kDeadCeiling);
  return limits::kDeadCeiling;
}

void ClientSession::record_outcome(Path& p, bool answered) {
  p.outcomes[p.outcome_next] = answered;
  p.outcome_next = (p.outcome_next + 1) % p.outcomes.size();
  p.outcome_count = std::min(p.outcome_count + 1, p.outcomes.size());
  ++path_epoch_;
  if (p.outcome_count < limits::kMinLossSamples) return;  // one early loss is not a rate
  std::size_t lost = 0;
  for (std::size_t i = 0; i < p.outcome_count; ++i) lost += !p.outcomes[i];
  p.stats.loss = static_cast<double>(lost) / static_cast<double>(p.outcome_count);
}

void ClientSession::queue_probes(Time now) {
  // A probe unanswered within kProbeTimeout counts as lost, unless the path
  // delivered something else meanwhile: on a busy path a probe can be dropped
  // in a full socket buffer while the path itself is fine.
  for (auto it = outstanding_.begin(); it != outstanding_.end();) {
    if (now - it->sent < limits::kProbeTimeout) {
      ++it;
      continue;
    }
    if (Path* p = find_path(it->path)) record_outcome(*p, p->stats.last_received > it->sent);
    it = outstanding_.erase(it);
  }
  const bool can_send = channel_.can_send(now);
  for (auto& p : paths_) {
    if (now < p.next_probe) continue;
    p.next_probe = now + (p.id == active_path_ ? limits::kProbeIntervalActive : limits::kProbeIntervalStandby);
    if (!can_send) continue;  // no key: try at the next interval
    ControlFrame f;
    f.kind = wire::ControlKind::kPathProbe;
    f.probe.probe_id = next_probe_id_++;
    owner_.rng_.fill(f.probe.challenge);
    if (outstanding_.size() >= 4 * paths_.size() + 4) outstanding_.erase(outstanding_.begin());
    outstanding_.push_back({f.probe.probe_id, p.id, now, f.probe.challenge});
    ++p.stats.probes_sent;
    queue_control(f, p.id);
  }
}

void ClientSession::on_sent(Time now, bool data) {
  last_sent_ = now;
  // Liveness counts only what the hub answers: data (it acks), probes and the
  // switch exchange (see poll_transmit). Keepalives and acks get no answer.
  if (data && awaiting_since_ == kNever) awaiting_since_ = now;
  keepalive_due_ = kNever;
  if (data && unanswered_since_ == kNever) unanswered_since_ = now;
}

void ClientSession::on_authenticated_receive(Time now) {
  unanswered_since_ = kNever;
  last_heard_ = now;
  silent_ = false;
}

bool ClientSession::hub_silent(Time now) const {
  return state_ != State::kIdle && last_heard_ != kNever && now - last_heard_ >= limits::kHubSilence;
}

ReceiveResult ClientSession::on_response(Bytes msg, PathId path, Time now) {
  (void)path;
  if (!initiator_) return owner_.dropped(DropReason::kUnexpectedResponse);
  crypto::noise::TransportKeys keys;
  crypto::ResponsePayload answer;
  const auto f = crypto::read_response(*initiator_, msg, answer, keys);
  if (f != crypto::noise::Failure::kNone) {
    // The initiator is unchanged (noise.hpp): the genuine response, if this
    // one was forged, is still read as if this one never came.
    return owner_.dropped(f == crypto::noise::Failure::kLowOrder ? DropReason::kLowOrderKey
                                                                 : DropReason::kHandshakeFailed);
  }
  if (!valid_assignment(answer.vip)) {
    // Authentic but unusable: nothing is installed; the retransmit timer
    // tries again (a misconfigured hub may be fixed meanwhile).
    crypto::wipe(keys.send);
    crypto::wipe(keys.recv);
    return owner_.dropped(DropReason::kBadAssignment);
  }
  const std::uint32_t local = pending_index_;
  const std::uint32_t remote = load_le32(msg.data() + wire::response::kSender);
  pending_index_ = 0;  // ownership of the index moves to the keypair
  initiator_.reset();
  initiation_queued_ = false;
  retransmit_at_ = kNever;

  channel_.install(std::make_unique<crypto::Keypair>(keys, local, remote, now, answer.suite), true);
  if (answer.flags & wire::response_payload::kFlagNewSession) {
    // The hub holds no stream of ours (it restarted, or this is our first
    // handshake): its data sequence starts again and it holds nothing we
    // sent, so our receive and resend state for any old stream goes.
    stream_.forget_peer();
  }
  crypto::wipe(keys.send);
  crypto::wipe(keys.recv);
  vip_ = answer.vip;
  assigned_route_ = session::assigned_route(vip_, min_vip_prefix_, [this](const IpPrefix& p) {
    for (const auto& local_prefix : owner_.local_prefixes_)
      if (local_prefix.overlaps(p)) return true;
    return owner_.routes_.overlaps_routes_of_others(slot_, p);
  });
  owner_.routes_.set_assigned(slot_, assigned_route_);
  last_handshake_ = now;
  ++channel_.stats().handshakes;
  state_ = State::kEstablished;
  on_authenticated_receive(now);
  earliest_expiry_ = std::min(earliest_expiry_, now + limits::kRejectAfterTime);
  // Confirm the new keys to the hub at once, unless staged data will do it.
  if (!channel_.has_staged()) queue_control(ControlFrame{}, active_path_);
  return ReceiveResult::none();
}

ReceiveResult ClientSession::on_cookie(Bytes msg, Time now) {
  if (!cookies_.consume_reply(msg, now)) return owner_.dropped(DropReason::kBadCookie);
  return ReceiveResult::none();
}

ReceiveResult ClientSession::on_transport(crypto::Keypair& kp, MutableBytes msg, PathId path,
                                          Time now, const crypto::OpenJob* opened) {
  std::size_t len = 0;
  bool newest = false;
  if (auto drop = channel_.open(kp, msg, len, newest, now, opened)) return owner_.dropped(*drop);
  on_authenticated_receive(now);
  if (Path* p = find_path(path)) p->stats.last_received = now;
  if (path == active_path_) awaiting_since_ = kNever;
  const Bytes plain(msg.data() + t::kHeaderSize, len);
  if (msg[0] == static_cast<std::uint8_t>(MessageType::kData)) {
    DropReason why{};
    const auto inner = stream_.receive(plain, now, why);
    if (!inner) return owner_.dropped(why);
    if (keepalive_due_ == kNever) keepalive_due_ = now + limits::kKeepaliveTimeout;
    // Acknowledged above (the hub's liveness counts on it), delivered only
    // when its source belongs to this hub.
    if (owner_.routes_.owner_of_source(*inner) != slot_) return owner_.dropped(DropReason::kBadInnerSource);
    return ReceiveResult::deliver(t::kDataOffset, inner->length);
  }
  const auto frame = decode_control(plain);
  if (!frame) return owner_.dropped(DropReason::kBadControl);
  switch (frame->kind) {
    case wire::ControlKind::kKeepalive: break;
    case wire::ControlKind::kAck:
      if (!stream_.on_ack(frame->ack)) return owner_.dropped(DropReason::kBadAck);
      if (frame->ack.flags & wire::control::kAckFlagSwitch) {
        // The hub's half of the switching exchange: resend exactly what it lacks.
        if (const auto done = stream_.complete_switch(now)) {
          handover_.resent_packets += done->resent;
          handover_.last_duration = done->took;
          ++handover_.switches;
        }
      }
      break;
    case wire::ControlKind::kPathProbe: {
      // The hub challenges a path: answer on the path the challenge came in on.
      ControlFrame reply = *frame;
      reply.kind = wire::ControlKind::kProbeReply;
      queue_control(reply, path);
      break;
    }
    case wire::ControlKind::kProbeReply: {
      const auto it = std::find_if(outstanding_.begin(), outstanding_.end(), [&](const Outstanding& o) {
        return o.probe_id == frame->probe.probe_id && o.challenge == frame->probe.challenge;
      });
      if (it == outstanding_.end()) break;  // late (already counted lost) or not ours
      if (Path* p = find_path(it->path)) {
        if (p->stats.dead) {
          // A dead path answers again: judge it afresh, not by the losses of
          // its outage (the policy's hold-down still guards against flapping).
          p->stats.dead = false;
          p->outcome_count = p->outcome_next = 0;
          p->stats.loss.reset();
        }
        const Duration sample = now - it->sent;
        p->stats.rtt = p->stats.rtt ? (*p->stats.rtt * (limits::kRttEwmaDivisor - 1) + sample) / limits::kRttEwmaDivisor : sample;
        ++p->stats.replies;
        record_outcome(*p, true);
      }
      outstanding_.erase(it);
      break;
    }
  }
  return ReceiveResult::none();
}

Time ClientSession::next_deadline() const {
  if (state_ == State::kIdle) return kNever;
  Time t = std::min({retransmit_at_, unanswered_since_ == kNever ? kNever
                                                                  : unanswered_since_ + limits::kNewHandshakeTime,
                     keepalive_due_, earliest_expiry_});
  if (const auto* cur = channel_.current(); cur && !initiator_)
    t = std::min(t, cur->created() + limits::kRekeyAfterTime);
  if (persistent_keepalive_.count() > 0 && last_sent_ != Time::min())
    t = std::min(t, last_sent_ + persistent_keepalive_);
  if (channel_.current()) {
    for (const auto& p : paths_) t = std::min(t, p.next_probe);
  }
  for (const auto& o : outstanding_) t = std::min(t, o.sent + limits::kProbeTimeout);
  if (awaiting_since_ != kNever) t = std::min(t, awaiting_since_ + dead_timeout());
  if (stream_.switching()) t = std::min(t, stream_.switch_started() + 2 * dead_timeout());
  if (!silent_ && last_heard_ != kNever) t = std::min(t, last_heard_ + limits::kHubSilence);
  t = std::min(t, stream_.ack_deadline());
  return t;
}

void ClientSession::on_timer(Time now) {
  if (state_ == State::kIdle) return;
  earliest_expiry_ = channel_.expire(now);
  const auto* cur = channel_.current();
  if (!cur && state_ == State::kEstablished) state_ = State::kHandshaking;

  const bool unanswered = unanswered_since_ != kNever &&
                          now - unanswered_since_ >= limits::kNewHandshakeTime;
  if (initiator_) {
    if (now >= retransmit_at_) begin_handshake(now);
  } else if (!cur || cur->wants_rekey(now) || unanswered) {
    begin_handshake(now);
  } else if (retransmit_at_ != kNever && now >= retransmit_at_) {
    begin_handshake(now);  // an earlier attempt failed before sending
  }
  if (unanswered) unanswered_since_ = kNever;  // one new handshake per silence
  // Probes unanswered on every path: the hub lost the session (a restart).
  // Handshake now, not after kNewHandshakeTime; retries come every kSilentRetry.
  if (hub_silent(now) && !silent_) {
    silent_ = true;
    if (!initiator_) begin_handshake(now);
  }

  const auto pk = persistent_keepalive_;
  const bool persistent_due = pk.count() > 0 && last_sent_ != Time::min() && now - last_sent_ >= pk;
  if ((now >= keepalive_due_ || persistent_due) && channel_.can_send(now)) {
    keepalive_due_ = kNever;
    queue_control(ControlFrame{}, active_path_);
    last_sent_ = now;  // counts as sent for the timers even before it is polled
  }
  queue_probes(now);
  // A switch reply that does not come: stop holding new data back.
  if (stream_.switching() && now - stream_.switch_started() >= 2 * dead_timeout()) stream_.abandon_switch();
  // Liveness of the active path: sent on it, heard nothing back for too long.
  if (awaiting_since_ != kNever && now - awaiting_since_ >= dead_timeout()) {
    if (Path* p = find_path(active_path_)) {
      p->stats.dead = true;
      ++path_epoch_;
    }
    awaiting_since_ = kNever;
  }
  stream_.expire(now);
}

// --- Client ------------------------------------------------------------------------

Client::Client(ClientConfig config, Rng& rng)
    : config_(std::move(config)), rng_(rng), indices_(rng), own_macs_(config_.identity.pub, rng) {}

Client::~Client() { sessions_.clear(); }

std::size_t Client::add_hub(const PublicKey& hub_key, std::uint8_t min_vip_prefix) {
  sessions_.push_back(std::make_unique<ClientSession>(*this, sessions_.size(), hub_key));
  sessions_.back()->min_vip_prefix_ = min_vip_prefix;
  return sessions_.size() - 1;
}

void Client::set_routes(std::size_t slot, const std::vector<IpPrefix>& prefixes) { routes_.set_routes(slot, prefixes); }

crypto::Keypair* Client::keypair_for(Bytes datagram, Time now) {
  return keypair_to_open_ahead(datagram, now, [this](std::uint32_t idx) -> crypto::Keypair* {
    auto* s = indices_.find(idx);
    return s ? s->channel_.find(idx) : nullptr;
  });
}

ReceiveResult Client::receive(MutableBytes datagram, PathId path, Time now, const crypto::OpenJob* opened) {
  const auto type = wire::classify(datagram);
  if (!type) return dropped(DropReason::kMalformed);
  switch (*type) {
    case MessageType::kInitiation: return dropped(DropReason::kMalformed);  // clients never respond
    case MessageType::kResponse: {
      if (!own_macs_.mac1_valid(datagram, wire::response::kMac1)) return dropped(DropReason::kBadMac1);
      auto* s = indices_.find(load_le32(datagram.data() + wire::response::kReceiver));
      if (!s || s->pending_index_ != load_le32(datagram.data() + wire::response::kReceiver))
        return dropped(DropReason::kUnexpectedResponse);
      return s->on_response(datagram, path, now);
    }
    case MessageType::kCookieReply: {
      auto* s = indices_.find(load_le32(datagram.data() + wire::cookie_reply::kReceiver));
      if (!s) return dropped(DropReason::kUnknownIndex);
      return s->on_cookie(datagram, now);
    }
    case MessageType::kData:
    case MessageType::kControl: {
      const std::uint32_t idx = load_le32(datagram.data() + t::kReceiver);
      auto* s = indices_.find(idx);
      crypto::Keypair* kp = s ? s->channel_.find(idx) : nullptr;
      if (!kp) return dropped(DropReason::kUnknownIndex);
      return s->on_transport(*kp, datagram, path, now, opened);
    }
  }
  return dropped(DropReason::kMalformed);
}

std::uint64_t Client::path_epoch() const {
  std::uint64_t sum = 0;
  for (const auto& s : sessions_) sum += s->path_epoch();
  return sum;
}

Time Client::next_deadline() const {
  Time t = kNever;
  for (const auto& s : sessions_) t = std::min(t, s->next_deadline());
  return t;
}

void Client::on_timer(Time now) {
  for (auto& s : sessions_)
    if (s->next_deadline() <= now) s->on_timer(now);
}

}  // namespace tund::session
