#include "session/client.hpp"
#include "session/inner_mtu.hpp"

#include <algorithm>
#include <cstring>

#include "session/ip_packet.hpp"

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
      stream_(owner.config_.resend),
      pacer_((std::uint64_t{owner.rng_.next_u32()} << 32) | owner.rng_.next_u32(), nullptr),
      bond_((std::uint64_t{owner.rng_.next_u32()} << 32) | owner.rng_.next_u32()) {}

ClientSession::~ClientSession() { stop(); }

void ClientSession::start(Time now) {
  if (state_ != State::kIdle) return;
  state_ = State::kHandshaking;
  last_inner_ = now;  // idle only after idle.after without inner traffic
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
  pacer_.clear();
  state_ = State::kIdle;
  unanswered_since_ = keepalive_due_ = earliest_expiry_ = kNever;
}

SealResult ClientSession::seal(MutableBytes buf, std::size_t inner_len, Time now, crypto::SealJob* defer,
                               bool released) {
  if (state_ == State::kIdle) return SealResult::drop(DropReason::kNoSession);
  if (inner_len + t::kDataOverhead > buf.size()) return SealResult::drop(DropReason::kPacketTooBig);
  // What the active path carries (inner_mtu.hpp): a packet too big goes back
  // to its sender as ICMP; a SYN asks for segments that fit every path.
  if (const std::size_t mtu = inner_mtu()) {
    if (inner_len > mtu && !outer_fragments_owed(Bytes(buf.data() + t::kDataOffset, inner_len), mtu))
      return SealResult::too_big(mtu);
    const std::size_t clamp = clamp_mtu();
    clamp_mss(MutableBytes(buf.data() + t::kDataOffset, inner_len), mss_for(clamp, 4), mss_for(clamp, 6));
  }
  note_inner(now);
  // During a sudden switch's exchange new data waits (bounded) so that what the
  // hub lacks goes out first: resends behind newer data look like loss to
  // inner TCP. A planned switch lost nothing: data goes on.
  if (channel_.can_send(now) && !stream_.holds_new_data()) {
    const Bytes inner(buf.data() + t::kDataOffset, inner_len);
    // Bonding: the path its flow is pinned to (bond_scheduler.hpp).
    const BondScheduler::Placement placed =
        bonding() ? bond_.place(inner, inner_len, active_path_, now) : BondScheduler::Placement{active_path_};
    PathId via = placed.path;
    if (via != active_path_ && !has_path(via)) via = active_path_;  // removed since the policy ran
    // That path's pacer: new data waits in the flow queue rather than in
    // the radio's buffer (paced_sender.hpp), unless its flow may spill onto
    // the path's partner and that one has room (spreading).
    // A call waits for either of its paths (untagged: any path's room).
    if (!released && owner_.config_.pacing && !pacer_.admit_on(via, inner_len, now) &&
        !spill(placed, via, inner_len, now, false) && !call_to_room(placed, via, inner_len, now, false)) {
      if (!pacer_.hold(inner, now, placed.copies ? 0 : via, placed.contends))
        return SealResult::drop(DropReason::kQueueNoMemory);
      return SealResult::queued();
    }
    if (released && bonding()) {
      if (!spill(placed, via, inner_len, now, true)) call_to_room(placed, via, inner_len, now, true);
      pacer_.spend_released(via, inner_len, now);
    }
    const std::uint64_t seq = stream_.send(inner, now, via);
    // A spread flow's packets go in order at the hub (reorder_buffer.hpp).
    const bool ordered = placed.ordered || (via != placed.path && !placed.copies);
    // The user's redundancy policy (read before the AEAD may run in place).
    const bool named = redundant(owner_.config_.redundant, Bytes(buf.data() + t::kDataOffset, inner_len));
    if (auto tx = seal_data(buf, inner_len, ordered ? seq | t::kSeqOrdered : seq, now, defer, via)) {
      // Suspected active path: a copy goes on the standby too (poll_transmit).
      if (dup_path_ && dup_bytes_ < limits::kSuspicionMaxBytes) stream_.schedule_last();
      // Rekey by message count is checked where messages are counted.
      if (!initiator_ && channel_.current()->wants_rekey(now)) begin_handshake(now);
      SealResult r = SealResult::send(tx->len);
      r.fragment = tx->fragment;
      r.path = tx->path;
      // A named packet, or a call in a bond, gets a copy on another path
      // (not while suspicion already copies everything to a standby).
      copy_seq_ = 0;
      if ((named || placed.copies) && !dup_path_)
        if (const PathId to = copy_path(via, !named)) {
          copy_seq_ = seq;
          copy_to_ = to;
          r.copy = true;
          if (!named) bond_.count_copy();
        }
      return r;
    }
  }
  if (const auto full = channel_.stage(Bytes(buf.data() + t::kDataOffset, inner_len))) return SealResult::drop(*full);
  if (!initiator_ && !channel_.can_send(now)) begin_handshake(now);
  return SealResult::staged();
}

std::optional<std::size_t> ClientSession::release_paced(MutableBytes inner_out, Time now) {
  if (state_ == State::kIdle || !channel_.can_send(now) || stream_.holds_new_data()) return std::nullopt;
  return pacer_.release(inner_out, now, bonding());
}

std::optional<ClientTransmit> ClientSession::seal_redundant_copy(MutableBytes out, std::size_t inner_len, Time now,
                                                                crypto::SealJob* defer) {
  const Path* standby = copy_seq_ ? find_path(copy_to_) : nullptr;
  const std::uint64_t seq = copy_seq_;
  copy_seq_ = 0;
  if (!standby || inner_len + t::kDataOverhead > out.size()) return std::nullopt;
  const auto len = channel_.seal_data(out, inner_len, seq, now, defer, MessageType::kDataCopy);
  if (!len) return std::nullopt;
  stream_.copied(seq);
  if (owner_.config_.pacing) pacer_.spend_copy(standby->id, inner_len, now);
  ++handover_.redundant_copies;
  handover_.redundant_bytes += *len;
  return ClientTransmit{*len, standby->id};
}

std::optional<ClientTransmit> ClientSession::seal_data(MutableBytes out, std::size_t inner_len, std::uint64_t seq,
                                                       Time now, crypto::SealJob* defer, PathId via) {
  // Data on a bonded path other than the active one never moves the hub's return path.
  if (!via) via = active_path_;
  const auto len = channel_.seal_data(out, inner_len, seq, now, defer,
                                      via == active_path_ ? MessageType::kData : MessageType::kDataBond);
  if (!len) return std::nullopt;
  on_sent(now, true, true);
  if (Path* p = find_path(via)) {
    ++p->stats.data_packets;
    p->stats.data_bytes += *len;
  }
  return ClientTransmit{*len, via, beyond_path(inner_len, inner_mtu())};
}

std::optional<ClientTransmit> ClientSession::poll_transmit(MutableBytes out, Time now) {
  if (state_ == State::kIdle) return std::nullopt;
  if (initiation_queued_ && out.size() >= initiation_.size()) {
    initiation_queued_ = false;
    std::memcpy(out.data(), initiation_.data(), initiation_.size());
    last_sent_ = now;  // keeps NAT bindings like anything else sent
    initiation_sent_ = now;
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
    if (t::kOverhead + encoded_size(q.frame) > out.size()) continue;  // a probe beyond the buffer: lost
    if (q.frame.kind == wire::ControlKind::kAck) q.frame.ack = stream_.make_ack(q.frame.ack.flags | bond_ack_flags(now));
    const std::size_t n = encode_control(q.frame, out.data() + t::kHeaderSize);
    if (auto len = channel_.seal(MessageType::kControl, out, n, now)) {
      if (q.path == active_path_) {
        // Never held back nor counted by the pacer (acks and probes are how
        // the path is measured): it paces data against what acknowledgements
        // say data took, and control is no part of either.
        const bool answered = q.frame.kind == wire::ControlKind::kPathProbe ||
                              (q.frame.kind == wire::ControlKind::kAck && (q.frame.ack.flags & wire::control::kAckFlagSwitch));
        on_sent(now, false, answered);
      }
      return ClientTransmit{*len, q.path};
    }
  }
  // Resends and staged packets take their turn from the pacer too: what a
  // new path is owed after a handover goes out at its pace, not at once.
  if (pacer_holds_back() && !pacer_.may_send(now)) return std::nullopt;
  std::uint64_t seq = 0;
  if (auto n = stream_.next_resend(out.subspan(t::kDataOffset, out.size() - t::kDataOverhead), seq,
                                   dup_path_ ? 0 : active_path_)) {
    if (!dup_path_) {
      if (bonding()) bond_.charge(active_path_, *n, now);
      pacer_.spend(*n, now);
      return seal_data(out, *n, seq, now);
    }
    // A copy on suspicion: on the standby, as a copy (the hub keeps its
    // return path), within the suspicion's byte budget.
    if (dup_bytes_ + *n > limits::kSuspicionMaxBytes) {
      stream_.cancel_resend();
    } else if (const auto len = channel_.seal_data(out, *n, seq, now, nullptr, MessageType::kDataCopy)) {
      dup_bytes_ += *len;
      ++handover_.copies;
      handover_.copied_bytes += *len;
      return ClientTransmit{*len, dup_path_};
    }
  }
  if (channel_.has_staged() && !stream_.holds_new_data()) {
    const std::size_t n = channel_.unstage(out.subspan(t::kSeqSize));
    const std::uint64_t seq_staged = stream_.send(Bytes(out.data() + t::kDataOffset, n), now, active_path_);
    pacer_.spend(n, now);
    return seal_data(out, n, seq_staged, now);
  }
  return std::nullopt;
}

void ClientSession::queue_control(const ControlFrame& f, PathId path) {
  if (control_queue_.size() >= limits::kClientControlQueue) control_queue_.erase(control_queue_.begin());
  control_queue_.push_back({f, path});
}

ReceiveResult ClientSession::on_transport(crypto::Keypair& kp, MutableBytes msg, PathId path,
                                          Time now, const crypto::OpenJob* opened) {
  std::size_t len = 0;
  bool newest = false;
  if (auto drop = channel_.open(kp, msg, len, newest, now, opened)) return owner_.dropped(*drop);
  on_authenticated_receive();
  if (Path* p = find_path(path)) p->stats.last_received = now;
  on_path_answered(path, now);
  const Bytes plain(msg.data() + t::kHeaderSize, len);
  if (wire::carries_data(static_cast<MessageType>(msg[0]))) {
    DropReason why{};
    const auto inner = stream_.receive(plain, now, path, why);
    const bool copy = static_cast<MessageType>(msg[0]) == MessageType::kDataCopy;
    if (!inner) return owner_.dropped(why == DropReason::kDuplicateData && copy ? DropReason::kDuplicateCopy : why);
    note_inner(now);
    // The active path's health: its own data counts; a copy that came first
    // on a standby only fills the sequence (its original will be a duplicate).
    health_.on_receive(now, load_le64(plain.data()) & ~t::kSeqOrdered, inner->length, path == active_path_ && !copy);
    if (path == active_path_) judge_gray(now);
    if (keepalive_due_ == kNever) keepalive_due_ = now + limits::kKeepaliveTimeout;
    // Acknowledged above (the hub's liveness counts on it), delivered only
    // when its source belongs to this hub.
    if (owner_.routes_.owner_of_source(*inner) != slot_) return owner_.dropped(DropReason::kBadInnerSource);
    if (const std::size_t mtu = clamp_mtu())
      clamp_mss(MutableBytes(msg.data() + t::kDataOffset, inner->length), mss_for(mtu, 4), mss_for(mtu, 6));
    // The hub spread this flow over our uplinks: in order (release_ordered).
    if (stream_.hold_for_order(plain, inner->length, now)) return ReceiveResult::none();
    return ReceiveResult::deliver(t::kDataOffset, inner->length);
  }
  const auto frame = decode_control(plain);
  if (!frame) return owner_.dropped(DropReason::kBadControl);
  switch (frame->kind) {
    case wire::ControlKind::kKeepalive: break;
    case wire::ControlKind::kPathMtu: break;  // the client finds its own
    case wire::ControlKind::kMove:
      // From the member we are with now (a late one from a member we left says nothing).
      if (&kp == channel_.current()) ++moves_asked_;  // the daemon picks the next cluster member
      break;
    case wire::ControlKind::kAck: {
      // What it says of the active path goes to its health (path_health.hpp).
      ResendBuffer::AckOutcome outcome;
      outcome.since = health_.since();
      outcome.reorder = health_.reorder_window();
      if (!stream_.on_ack(frame->ack, &outcome)) return owner_.dropped(DropReason::kBadAck);
      learn_from_ack(outcome, frame->ack.received_us, now);
      if (path == active_path_) judge_gray(now);
      if (frame->ack.flags & wire::control::kAckFlagSwitch) {
        // The hub's half of the switching exchange: resend exactly what it lacks.
        if (const auto done = stream_.complete_switch(now)) {
          handover_.resent_packets += done->resent;
          handover_.last_duration = done->took;
          ++handover_.switches;
        }
      }
      break;
    }
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
      if (it->mtu_size) {
        // The size made it both ways (the padding came back with it).
        const std::size_t size = t::kOverhead + encoded_size(*frame);
        if (Path* p = find_path(it->path); p && size == it->mtu_size) {
          if (size == p->pmtu.mtu()) p->pmtu.on_check(true, now);  // a confirmation (ignored while searching)
          p->pmtu.on_answer(size, now);
        }
        outstanding_.erase(it);
        break;
      }
      if (Path* p = find_path(it->path)) {
        if (p->stats.dead) {
          // A dead path answers again: judge it afresh, not by the losses of
          // its outage (the policy's hold-down still guards against flapping).
          p->stats.dead = false;
          p->outcome_count = p->outcome_next = 0;
          p->stats.loss.reset();
        }
        const Duration sample = now - it->sent;
        if (!p->stats.rtt) {
          p->stats.rtt = sample;
          p->stats.rttvar = sample / 2;
        } else {
          const Duration deviation = sample > *p->stats.rtt ? sample - *p->stats.rtt : *p->stats.rtt - sample;
          p->stats.rttvar = (*p->stats.rttvar * (limits::kRttVarDivisor - 1) + deviation) / limits::kRttVarDivisor;
          p->stats.rtt = (*p->stats.rtt * (limits::kRttEwmaDivisor - 1) + sample) / limits::kRttEwmaDivisor;
        }
        ++p->stats.replies;
        record_outcome(*p, true);
        if (p->id == active_path_) stream_.set_round_trip(*active_rtt(), owner_.config_.resend.max_age);
      }
      outstanding_.erase(it);
      break;
    }
  }
  return ReceiveResult::none();
}

bool ClientSession::pacer_holds_back() const {
  return owner_.config_.pacing && !dup_path_ && (stream_.has_resend() || channel_.has_staged());
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
    t = std::min(t, pmtu_deadline());
  }
  for (const auto& o : outstanding_)
    for (const auto& p : paths_)
      if (p.id == o.path) t = std::min(t, o.sent + probe_timeout(p));
  if (awaiting_since_ != kNever) t = std::min(t, awaiting_since_ + dead_timeout());
  if (awaiting_since_ != kNever && !liveness_probed_) t = std::min(t, awaiting_since_ + dead_timeout() / 2);
  if (stream_.switching()) t = std::min(t, stream_.switch_started() + 2 * dead_timeout());
  if (!silent_ && expecting_since_ != kNever) t = std::min(t, expecting_since_ + silence());
  t = std::min({t, stream_.ack_deadline(), suspicion_due(), stream_.resend_buffer().idle_release_at(),
                pacer_.next_deadline(pacer_holds_back()), stream_.reorder_deadline()});
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
  // Quiet with data outstanding: copies on the best standby (client_paths.cpp).
  if (suspicion_due() <= now) begin_suspicion(now);
  // One lost answer (the last ack of a burst) must not kill a path: halfway
  // to the verdict, the active path is asked once more, with a probe.
  if (awaiting_since_ != kNever && !liveness_probed_ && now - awaiting_since_ >= dead_timeout() / 2) {
    liveness_probed_ = true;
    if (Path* p = find_path(active_path_)) send_probe(*p, now);
  }
  // Liveness of the active path: sent on it, heard nothing back for too long.
  if (awaiting_since_ != kNever && now - awaiting_since_ >= dead_timeout()) {
    end_suspicion();
    if (Path* p = find_path(active_path_)) {
      p->stats.dead = true;
      p->stats.silent_for = now - awaiting_since_;
      ++path_epoch_;
      // In doubt: every standby gets measured now, metered ones included.
      for (auto& q : paths_)
        if (q.id != active_path_) q.next_probe = std::min(q.next_probe, now);
    }
    awaiting_since_ = kNever;
  }
  stream_.expire(now);
  pacer_.expire(now);
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
    case MessageType::kDataCopy:
    case MessageType::kDataBond:
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
