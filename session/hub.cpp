#include "session/hub.hpp"

#include <algorithm>
#include <cstring>

#include "session/control.hpp"
#include "session/inner_mtu.hpp"
#include "session/ip_packet.hpp"

namespace tund::session {

namespace t = wire::transport;
using wire::MessageType;


HubSession::HubSession(Hub& hub, ClientId client)
    : hub_(hub),
      client_(client),
      channel_([this](std::uint32_t idx) { hub_.indices_.release(idx); }, &hub.staged_budget_),
      stream_(hub.config_.resend, &hub.resend_budget_, &hub.queue_budget_),
      pacer_((std::uint64_t{hub.rng_.next_u32()} << 32) | hub.rng_.next_u32(), &hub.queue_budget_),
      flow_seed_((std::uint64_t{hub.rng_.next_u32()} << 32) | hub.rng_.next_u32()) {}

HubSession::~HubSession() { channel_.clear(); }

Hub::Hub(HubConfig config, Rng& rng)
    : config_(std::move(config)),
      rng_(rng),
      resend_budget_{config_.resend_total_bytes},
      staged_budget_{config_.staged_total_bytes},
      indices_(rng),
      cookies_(config_.identity.pub, rng) {}

Hub::~Hub() {
  for (auto& c : clients_) {
    c.pending.reset();
    c.session.reset();
  }
}

ClientId Hub::add_client(const PublicKey& key, const crypto::VipAssignment& vip) {
  if (auto it = by_key_.find(key); it != by_key_.end()) {
    auto& c = clients_[it->second];
    by_vip_.erase(c.vip.vip);
    by_vip6_.erase(c.vip.vip6);
    c.vip = vip;
    if (vip.has_v4()) by_vip_[vip.vip] = it->second;
    if (vip.has_v6()) by_vip6_[vip.vip6] = it->second;
    return it->second;
  }
  const auto id = static_cast<ClientId>(clients_.size());
  std::optional<Key> ss;
  if (Key k; crypto::dh(config_.identity.priv, key, k)) ss = k;
  clients_.push_back(ClientEntry{key, vip, ss, {}, Time::min(), nullptr, nullptr});
  by_key_.emplace(key, id);
  if (vip.has_v4()) by_vip_[vip.vip] = id;
  if (vip.has_v6()) by_vip6_[vip.vip6] = id;
  return id;
}

void Hub::remove_client(const PublicKey& key) {
  const auto it = by_key_.find(key);
  if (it == by_key_.end()) return;
  end_session(it->second);
  auto& c = clients_[it->second];
  c.pending.reset();
  by_vip_.erase(c.vip.vip);
  by_vip6_.erase(c.vip.vip6);
  by_key_.erase(it);
  c.static_secret.reset();
}

std::optional<ClientId> Hub::find_client(const PublicKey& key) const {
  const auto it = by_key_.find(key);
  if (it == by_key_.end()) return std::nullopt;
  return it->second;
}

std::optional<ClientId> Hub::find_client_by_vip(std::uint32_t vip) const {
  const auto it = by_vip_.find(vip);
  if (it == by_vip_.end()) return std::nullopt;
  return it->second;
}

std::optional<ClientId> Hub::find_client_by_vip6(const std::uint8_t* vip6) const {
  std::array<std::uint8_t, 16> key;
  std::memcpy(key.data(), vip6, 16);
  const auto it = by_vip6_.find(key);
  if (it == by_vip6_.end()) return std::nullopt;
  return it->second;
}

void Hub::note_initiation(Time now) {
  if (now - load_bucket_start_ >= std::chrono::seconds(1)) {
    load_bucket_start_ = now;
    load_bucket_count_ = 0;
  }
  if (++load_bucket_count_ > config_.under_load_initiations_per_second)
    under_load_until_ = now + limits::kUnderLoadHold;
}

crypto::Keypair* Hub::keypair_for(Bytes datagram, Time now) {
  return keypair_to_open_ahead(datagram, now, [this](std::uint32_t idx) -> crypto::Keypair* {
    HubSession* s = indices_.find(idx);
    return s ? s->channel_.find(idx) : nullptr;
  });
}

ReceiveResult Hub::receive(MutableBytes datagram, const Endpoint& from, Time now, MutableBytes reply,
                           const crypto::OpenJob* opened) {
  const auto type = wire::classify(datagram);
  if (!type) return dropped(DropReason::kMalformed);
  switch (*type) {
    case MessageType::kInitiation: return on_initiation(datagram, from, now, reply);
    case MessageType::kData:
    case MessageType::kDataCopy:
    case MessageType::kDataBond:
    case MessageType::kControl: return on_transport(datagram, from, now, opened);
    case MessageType::kResponse:
    case MessageType::kCookieReply: break;  // the hub never initiates
  }
  return dropped(DropReason::kMalformed);
}

ReceiveResult Hub::on_initiation(MutableBytes msg, const Endpoint& from, Time now, MutableBytes reply) {
  namespace m = wire::initiation;
  if (!cookies_.mac1_valid(msg, m::kMac1)) return dropped(DropReason::kBadMac1);
  note_initiation(now);
  if (under_load(now)) {
    const auto source = from.key_bytes();
    if (!cookies_.mac2_valid(msg, m::kMac2, source, now)) {
      if (reply.size() < wire::cookie_reply::kSize) return dropped(DropReason::kCookieSent);
      cookies_.make_reply(msg, m::kMac1, load_le32(msg.data() + m::kSender), source, now, reply);
      drops_.count(DropReason::kCookieSent);
      return ReceiveResult::reply(wire::cookie_reply::kSize);
    }
    if (!rate_limiter_.allow(from.addr, now)) return dropped(DropReason::kRateLimited);
  }

  auto responder = crypto::make_responder(config_.identity);
  crypto::InitiationPayload init;
  const auto lookup = [](const void* hub, const PublicKey& k) -> const Key* {
    const Hub& h = *static_cast<const Hub*>(hub);
    const auto it = h.by_key_.find(k);
    return it == h.by_key_.end() || !h.clients_[it->second].static_secret ? nullptr
                                                                            : &*h.clients_[it->second].static_secret;
  };
  const auto f = crypto::read_initiation(responder, msg, init, lookup, this);
  if (f == crypto::noise::Failure::kLowOrder) return dropped(DropReason::kLowOrderKey);
  if (f != crypto::noise::Failure::kNone) return dropped(DropReason::kHandshakeFailed);

  const auto id = find_client(responder.remote_static());
  if (!id) return dropped(DropReason::kUnknownPeer);
  ClientEntry& client = clients_[*id];
  // Not serving: no new session here; a live one may rekey (it stays ours
  // until another member takes it over).
  if (!accepting_ && !client.session) return dropped(DropReason::kNotServing);
  const auto& ts = init.timestamp;
  if (std::memcmp(ts.data(), client.last_timestamp.data(), ts.size()) <= 0)
    return dropped(DropReason::kStaleTimestamp);
  if (client.last_initiation != Time::min() && now - client.last_initiation < limits::kMinInitiationInterval)
    return dropped(DropReason::kInitiationFlood);
  if (reply.size() < wire::response::kSize) return dropped(DropReason::kPacketTooBig);

  // The client's session id says whether this is a rekey of the data stream
  // we hold (same id: its sequences and acknowledgements carry on) or a client
  // that lost its state (new id: a restart; the old stream's receive state
  // would drop its fresh sequences as duplicates).
  const bool new_session = !client.session || client.session->stream_.id() != init.session_id;
  crypto::ResponsePayload answer;
  answer.vip = client.vip;
  answer.flags = new_session ? wire::response_payload::kFlagNewSession : std::uint8_t{0};
  answer.suite = config_.allow_aes && (init.capabilities & wire::initiation_payload::kCapAes256Gcm) &&
                         crypto::aes256gcm_available()
                     ? crypto::Suite::kAes256Gcm
                     : crypto::Suite::kChaCha20Poly1305;
  PrivateKey ephemeral;
  crypto::generate_private_key(rng_, ephemeral);
  crypto::noise::TransportKeys keys;
  // The response is written before any session state changes; only a
  // low-order ephemeral (never drawn in practice) fails here.
  const std::uint32_t local = indices_.reserve();
  const std::uint32_t remote = load_le32(msg.data() + m::kSender);
  const auto wf = crypto::write_response(responder, ephemeral, local, remote, answer,
                                         reply.first(wire::response::kSize), keys);
  crypto::wipe(ephemeral);
  if (wf != crypto::noise::Failure::kNone) {
    indices_.release(local);
    return dropped(DropReason::kLowOrderKey);
  }
  // A pending session of the same stream (the client retried, its response
  // lost) carries on with what it staged; another one goes.
  if (new_session && (!client.pending || client.pending->stream_.id() != init.session_id)) {
    client.pending = std::make_unique<HubSession>(*this, *id);
    client.pending->stream_.restart(init.session_id);
  }
  HubSession& s = new_session ? *client.pending : *client.session;
  indices_.assign(local, &s);
  crypto::CookieMaker(client.key).stamp(reply.first(wire::response::kSize), wire::response::kMac1, now);

  client.last_timestamp = ts;
  client.last_initiation = now;
  s.channel_.install(std::make_unique<crypto::Keypair>(keys, local, remote, now, answer.suite), false);
  crypto::wipe(keys.send);
  crypto::wipe(keys.recv);
  // The initiation is authenticated and fresh, but its source is only what
  // the packet says: the hub does not know its response arrived there. A new
  // session is pending and sends nothing before the client's first packet
  // under these keys, so its path starts here and that packet moves it if
  // it comes from elsewhere. A live session's data stays on its validated
  // path until that packet comes from this address (hub_paths.cpp).
  if (new_session) {
    s.endpoint_ = from;
    s.validated_ = true;
    s.validation_deadline_ = s.challenge_next_ = kNever;
    s.handshake_index_ = 0;
  } else if (from == s.endpoint_ && s.validated_) {
    s.handshake_index_ = 0;
  } else {
    s.handshake_from_ = from;
    s.handshake_index_ = local;
  }
  s.last_handshake_ = now;
  s.last_received_ = now;
  s.unanswered_since_ = kNever;
  ++s.channel_.stats().handshakes;
  wake_housekeeping(now);
  return ReceiveResult::reply(wire::response::kSize);
}

ReceiveResult Hub::on_transport(MutableBytes msg, const Endpoint& from, Time now, const crypto::OpenJob* opened) {
  const std::uint32_t idx = load_le32(msg.data() + t::kReceiver);
  HubSession* s = indices_.find(idx);
  crypto::Keypair* kp = s ? s->channel_.find(idx) : nullptr;
  if (!kp) return dropped(DropReason::kUnknownIndex);
  const bool was_confirmed = s->channel_.can_send(now);
  const auto* before = s->channel_.current();
  std::size_t len = 0;
  bool newest = false;
  if (auto drop = s->channel_.open(*kp, msg, len, newest, now, opened)) return dropped(*drop);
  if (ClientEntry& c = clients_[s->client_]; s == c.pending.get()) confirm_pending(c);
  // The client's first packet under keys we answered: a round trip.
  if (!was_confirmed && s->last_handshake_ && kp == s->channel_.current())
    s->on_rtt_sample(now - *s->last_handshake_, config_.resend.max_age);
  s->last_received_ = now;
  s->unanswered_since_ = kNever;
  if ((!was_confirmed || before != s->channel_.current()) && s->channel_.has_staged()) mark_ready(*s);

  const Bytes plain(msg.data() + t::kHeaderSize, len);
  const auto type = static_cast<MessageType>(msg[0]);
  const bool is_data = wire::carries_data(type);
  std::optional<ControlFrame> frame;
  if (!is_data) {
    frame = decode_control(plain);
    if (!frame) return dropped(DropReason::kBadControl);
  }
  const bool is_probe = frame && (frame->kind == wire::ControlKind::kPathProbe ||
                                  frame->kind == wire::ControlKind::kProbeReply);
  if (from == s->endpoint_ && !s->validated_) s->unvalidated_rx_ += msg.size();
  // Only the freshest authenticated packet may move the return path, so a
  // replayed or delayed one cannot; and never a standby uplink's probe or a
  // copy sent on suspicion, nor data on a bonded uplink (the client moves by
  // its switch exchange).
  const bool moves = newest && !is_probe && type != MessageType::kDataCopy && type != MessageType::kDataBond &&
                     s->channel_.current() == kp;
  if (s->handshake_index_ && kp->local_index() == s->handshake_index_ && from == s->handshake_from_)
    on_handshake_proven(*s, from, moves, now);  // the client has the response sent there
  else if (moves && !(from == s->endpoint_))
    migrate(*s, from, msg.size(), now);
  // The client's standby speaks (a probe or a copy from another address):
  // where redundant copies go once validated. Authenticated and
  // replay-checked, like the return path, but never the return path itself.
  if ((type == MessageType::kDataCopy || type == MessageType::kDataBond ||
       (frame && frame->kind == wire::ControlKind::kPathProbe)) &&
      !(from == s->endpoint_))
    on_standby_heard(*s, from, msg.size(),
                     type == MessageType::kDataBond ||
                         (frame && (frame->probe.flags & wire::control::kProbeFlagBonded)),
                     now);

  if (is_data) {
    DropReason why{};
    const auto inner = s->stream_.receive(plain, now, from.tag(), why);
    if (!inner) return dropped(why == DropReason::kDuplicateData && type == MessageType::kDataCopy ? DropReason::kDuplicateCopy : why);
    // Acknowledge every authenticated data packet, even one the VIP check
    // drops below: the client's liveness timer counts on an answer.
    if (s->stream_.ack_due(now)) {
      queue_ack(*s);
    } else if (!s->in_acking_list_) {
      s->in_acking_list_ = true;
      acking_.push_back(s->client_);
    }
    // The client speaks only from its own VIPs, whichever family.
    const auto& vip = clients_[s->client_].vip;
    const bool own = inner->version == 4 ? vip.has_v4() && inner->src4 == vip.vip
                                         : vip.has_v6() && std::memcmp(inner->src6, vip.vip6.data(), 16) == 0;
    if (!own) return dropped(DropReason::kInnerSourceMismatch);
    // A bonding client: its flows return the way they came (when validated).
    note_bond_flow(*s, type, Bytes(msg.data() + t::kDataOffset, inner->length), from, now);
    if (s->keepalive_due_ == kNever) {
      s->keepalive_due_ = now + limits::kKeepaliveTimeout;
      wake_housekeeping(now);
    }
    if (const std::size_t mtu = s->inner_mtu())
      clamp_mss(MutableBytes(msg.data() + t::kDataOffset, inner->length), mss_for(mtu, 4), mss_for(mtu, 6));
    // The client spread this flow over its uplinks: in order (release_ordered).
    if (s->stream_.hold_for_order(plain, inner->length, now)) {
      if (!s->in_reordering_list_) {
        s->in_reordering_list_ = true;
        reordering_.push_back(s->client_);
      }
      return ReceiveResult::none();
    }
    return ReceiveResult::deliver(t::kDataOffset, inner->length);
  }
  if (frame->kind == wire::ControlKind::kPathProbe) {
    ControlFrame reply = *frame;
    reply.kind = wire::ControlKind::kProbeReply;
    // Answer where it came from; it is no bigger (a new standby's answer
    // counts toward what may be sent there before it is validated).
    if (from == s->candidate_ && !(from == s->endpoint_)) queue_to_candidate(*s, reply);
    else queue_control(*s, reply, from);
  } else if (frame->kind == wire::ControlKind::kProbeReply) {
    on_probe_reply(*s, frame->probe, from, now);
  } else if (frame->kind == wire::ControlKind::kPathMtu && from == s->endpoint_) {
    // A claim about the client's own path: it can only hurt the client, but
    // never below what every path carries, nor beyond one datagram.
    s->path_mtu_ = std::clamp<std::size_t>(frame->path_mtu, limits::kPmtuBase4, wire::control::kMaxDatagram);
  } else if (frame->kind == wire::ControlKind::kAck) {
    ResendBuffer::AckOutcome outcome;
    if (!s->stream_.on_ack(frame->ack, &outcome)) return dropped(DropReason::kBadAck);
    // What it says of each endpoint the acknowledged packets went to feeds
    // that endpoint's pacer.
    s->follow_path(now);
    for (std::size_t i = 0; i < outcome.path_count; ++i) {
      const auto& share = outcome.paths[i];
      s->pacer_.on_ack(share.path, now, share.newest_sent ? std::optional<Duration>(now - *share.newest_sent) : std::nullopt,
                       share.bytes, share.acked,
                       share.path == outcome.highest_path
                           ? PathRate::one_way_sample(frame->ack.received_us, outcome.highest_sent)
                           : std::nullopt);
    }
    // An uplink left the client's bond: the standby is no longer taken to
    // be in it (flows the hub moved or spread there come back) until a
    // bonded probe from it says so again.
    if (frame->ack.flags & wire::control::kAckFlagBondLeft) s->bonded_heard_ = Time::min();
    if (frame->ack.flags & wire::control::kAckFlagSwitch) {
      // The client moved: it told us what it has; everything else we sent
      // (toward the old path) goes again, once the new path is validated. Our
      // own receive state goes back at once, so the client can do the same.
      // Rate limited (data_stream.hpp): switch acks cannot multiply what we send.
      const bool planned = frame->ack.flags & wire::control::kAckFlagPlanned;
      if (s->stream_.answer_switch(now, planned)) ++s->switches_;
      else drops_.count(DropReason::kSwitchRateLimited);
      // Planned: the old path still carries, so data goes on there until the
      // new one is validated. It was validated itself: no one else is sent to.
      if (planned && !s->validated_ && s->previous_.valid()) {
        s->via_previous_ = true;
        if (s->channel_.has_staged()) mark_ready(*s);
      }
      ControlFrame reply;
      reply.kind = wire::ControlKind::kAck;
      reply.ack.flags = frame->ack.flags & (wire::control::kAckFlagSwitch | wire::control::kAckFlagPlanned);
      queue_control(*s, reply, from);
    }
  }
  return ReceiveResult::none();
}

void Hub::queue_ack(HubSession& s) {
  // One plain acknowledgement waiting is enough: its content is taken when it
  // is sent. More would crowd out what else waits in the bounded queue (a
  // burst of copies on suspicion once evicted the probe reply that ends it).
  for (const auto& q : s.control_queue_)
    if (q.frame.kind == wire::ControlKind::kAck && q.frame.ack.flags == 0 && q.to == s.endpoint_) return;
  ControlFrame f;
  f.kind = wire::ControlKind::kAck;
  queue_control(s, f, s.endpoint_);
}

void Hub::mark_ready(HubSession& s) {
  if (std::find(ready_.begin(), ready_.end(), s.client_) == ready_.end()) ready_.push_back(s.client_);
}

void Hub::confirm_pending(ClientEntry& c) {
  if (!c.session) ++live_sessions_;
  c.session = std::move(c.pending);
  session_changes_.push_back(c.session->client_);
}

void Hub::end_session(ClientId id) {
  auto& c = clients_[id];
  if (!c.session) return;
  c.session.reset();  // its indices go; the key and VIP stay (it may come back)
  --live_sessions_;
  session_changes_.push_back(id);
}

bool Hub::ask_to_move(ClientId id, Time now) {
  HubSession* s = clients_[id].session.get();
  if (!s || !s->channel_.can_send(now)) return false;
  ControlFrame f;
  f.kind = wire::ControlKind::kMove;
  queue_control(*s, f, s->endpoint_);
  return true;
}

std::vector<ClientId> Hub::take_session_changes() {
  std::vector<ClientId> out;
  out.swap(session_changes_);
  return out;
}

void Hub::queue_control(HubSession& s, const ControlFrame& f, const Endpoint& to) {
  if (s.control_queue_.size() >= limits::kHubControlQueue) s.control_queue_.erase(s.control_queue_.begin());
  s.control_queue_.push_back({f, to});
  mark_ready(s);
}

Time Hub::next_deadline() const {
  Time t = next_housekeeping_;
  for (ClientId id : acking_)
    if (const auto* s = clients_[id].session.get()) t = std::min(t, s->stream_.ack_deadline());
  for (ClientId id : validating_)
    if (const auto* s = clients_[id].session.get())
      t = std::min({t, s->challenge_next_, s->validation_deadline_});
  for (ClientId id : pacing_)
    if (const auto* s = clients_[id].session.get())
      t = std::min(t, s->pacer_.next_deadline(s->owes_data()));
  for (ClientId id : reordering_)
    if (const auto* s = clients_[id].session.get()) t = std::min(t, s->stream_.reorder_deadline());
  return t;
}

void Hub::on_timer(Time now) {
  // Acknowledgements that are due by time.
  std::erase_if(acking_, [&](ClientId id) {
    HubSession* s = clients_[id].session.get();
    if (!s) return true;
    if (s->stream_.ack_deadline() != kNever && !s->stream_.ack_due(now)) return false;
    if (s->stream_.ack_deadline() != kNever) queue_ack(*s);
    s->in_acking_list_ = false;
    return true;
  });
  expire_validation(now);
  // Resends and staged data a pacer held back: their turn has come.
  for (ClientId id : pacing_)
    if (HubSession* s = clients_[id].session.get();
        s && s->owes_data() && s->pacer_.may_send(now))
      mark_ready(*s);
  if (now < next_housekeeping_) return;
  // The next pass: when a session next needs one (a keepalive, a key or the
  // session expiring, kept packets ageing out), never sooner than
  // kHubHousekeeping; idle sessions cost no wakeups in between.
  Time next = kNever;
  for (auto& c : clients_) {
    // A pending session the client never confirmed: its handshake is over
    // (the client sends a fresh initiation after kRekeyTimeout).
    if (c.pending) {
      const Time pending_until = *c.pending->last_handshake_ + limits::kPendingSessionLifetime;
      if (now >= pending_until) c.pending.reset();
      else next = std::min(next, pending_until);
    }
    HubSession* s = c.session.get();
    if (!s) continue;
    next = std::min(next, s->channel_.expire(now));
    s->stream_.expire(now);  // kept packets age out; an idle session's buffers go
    s->pacer_.expire(now);
    next = std::min(next, s->pacer_.queue().idle_release_at());
    if (!s->channel_.has_any_keypair() && now - s->last_received_ >= limits::kSessionIdleExpiry) {
      c.session.reset();  // releases its indices; the VIP stays with the client
      --live_sessions_;
      session_changes_.push_back(static_cast<ClientId>(&c - clients_.data()));
      continue;
    }
    if (now >= s->keepalive_due_ && s->channel_.can_send(now)) {
      s->keepalive_due_ = kNever;
      queue_control(*s, ControlFrame{}, s->endpoint_);
    }
    next = std::min(next, s->keepalive_due_);
    if (s->stream_.resend_buffer().packets()) next = std::min(next, now + limits::kHubHousekeeping);
    next = std::min(next, s->stream_.resend_buffer().idle_release_at());
    if (!s->channel_.has_any_keypair()) next = std::min(next, s->last_received_ + limits::kSessionIdleExpiry);
  }
  next_housekeeping_ = next == kNever ? kNever : std::max(next, now + limits::kHubHousekeeping);
}

}  // namespace tund::session
