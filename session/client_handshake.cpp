// ClientSession's handshakes: the initiation it sends (with a timestamp that
// only increases and the hub's cookie), the response that installs the new
// keys, the VIP and the routes it assigns, and cookie replies. Split from
// client.cpp, which carries the data.
#include <cstring>

#include "session/client.hpp"
#include "session/vip_check.hpp"

namespace tund::session {

void ClientSession::rehandshake(Time now) {
  // An initiation not yet sent goes wherever the daemon sends next anyway.
  if (state_ == State::kIdle || initiation_queued_) return;
  begin_handshake(now);
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

ReceiveResult ClientSession::on_response(Bytes msg, PathId path, Time now) {
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
  // The handshake was a round trip on this path: its first measure, so a
  // slow path (a satellite's 600 ms) is not judged by a terrestrial bound
  // before its first probe comes back.
  if (Path* p = find_path(path); p && !p->stats.rtt && initiation_sent_ != kNever && now > initiation_sent_) {
    p->stats.rtt = now - initiation_sent_;
    p->stats.rttvar = *p->stats.rtt / 2;
  }
  const bool new_session = answer.flags & wire::response_payload::kFlagNewSession;
  if (new_session) {
    // The hub holds no stream of ours (it restarted, or this is our first
    // handshake): its data sequence starts again and it holds nothing we
    // sent, so our receive and resend state for any old stream goes.
    stream_.forget_peer();
    // Late packets of the old stream (a hub that restarted, the cluster
    // member we left) would land in the new one's sequence space.
    channel_.retire_previous();
    announced_mtu_ = 0;  // nor what our path carries
  }
  crypto::wipe(keys.send);
  crypto::wipe(keys.recv);
  vip_ = answer.vip;
  const auto taken = [this](const IpPrefix& p) {
    for (const auto& local_prefix : owner_.local_prefixes_)
      if (local_prefix.overlaps(p)) return true;
    return owner_.routes_.overlaps_routes_of_others(slot_, p);
  };
  assigned_route_ = session::assigned_route(vip_, min_vip_prefix_, taken);
  assigned_route6_ = session::assigned_route6(vip_, taken);
  owner_.routes_.set_assigned(slot_, assigned_route_, assigned_route6_);
  last_handshake_ = now;
  ++channel_.stats().handshakes;
  state_ = State::kEstablished;
  on_authenticated_receive();
  earliest_expiry_ = std::min(earliest_expiry_, now + limits::kRejectAfterTime);
  // Confirm the new keys to the hub at once, unless staged data will do it,
  // or the session is idle and this a rekey: then the next keepalive does
  // (well before the old keys expire), and a rekey costs an idle phone one
  // packet, not two. A new session is confirmed at once, idle or not: until
  // then the hub holds it pending (it may be a replay), for a short while.
  if (!channel_.has_staged() && (new_session || !idle(now))) queue_control(ControlFrame{}, active_path_);
  return ReceiveResult::none();
}

ReceiveResult ClientSession::on_cookie(Bytes msg, Time now) {
  if (!cookies_.consume_reply(msg, now)) return owner_.dropped(DropReason::kBadCookie);
  return ReceiveResult::none();
}

}  // namespace tund::session
