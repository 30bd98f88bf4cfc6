// What the hub sends: inner packets sealed toward the client that owns
// their destination, what poll_transmit() owes (control frames, resends,
// staged packets), and the pacing of each client's path (paced_sender.hpp,
// issue 29): which sessions have data their pacer holds back, released a
// session at a time in turn so one busy client's backlog never delays
// another's.
#include <algorithm>
#include <cstring>

#include "session/control.hpp"
#include "session/hub.hpp"
#include "session/inner_mtu.hpp"

namespace tund::session {

namespace t = wire::transport;
using wire::MessageType;

std::uint64_t Hub::send_seq(HubSession& s, Bytes packet, Time now, const Endpoint& to) {
  // Past the hub-wide budget a packet is sent but not kept: after a handover
  // inner TCP recovers it, and no set of clients can exhaust the hub. Kept
  // with the endpoint it goes to, whose pacer its acknowledgement feeds.
  const std::uint32_t path = s.path_of(to);
  s.endpoint_bytes_[path - 1] += packet.size();
  const std::uint64_t seq = s.stream_.send(packet, now, path);
  if (s.stream_.resend_buffer().packets()) wake_housekeeping(now);  // kept packets age out there
  return seq;
}

SealResult Hub::seal_to_vip(std::uint32_t vip, MutableBytes buf, std::size_t inner_len, Time now,
                            crypto::SealJob* defer) {
  return seal_to_client(find_client_by_vip(vip), buf, inner_len, now, defer);
}

SealResult Hub::seal_to_destination(const InnerPacket& inner, MutableBytes buf, std::size_t inner_len, Time now,
                                    crypto::SealJob* defer) {
  return seal_to_client(inner.version == 4 ? find_client_by_vip(inner.dst4) : find_client_by_vip6(inner.dst6), buf,
                        inner_len, now, defer);
}

SealResult Hub::seal_to_client(std::optional<ClientId> id, MutableBytes buf, std::size_t inner_len, Time now,
                               crypto::SealJob* defer, bool released) {
  // No live session: a pending one stages (its keys are not confirmed, so
  // nothing is sent until the client's first packet under them).
  HubSession* live = id ? clients_[*id].session.get() : nullptr;
  if (id && !live) live = clients_[*id].pending.get();
  if (!live) return SealResult::drop(DropReason::kNoSession);
  HubSession& s = *live;
  if (inner_len + t::kDataOverhead > buf.size()) return SealResult::drop(DropReason::kPacketTooBig);
  if (const std::size_t mtu = s.inner_mtu()) {
    if (inner_len > mtu && !outer_fragments_owed(Bytes(buf.data() + t::kDataOffset, inner_len), mtu))
      return SealResult::too_big(mtu);
    clamp_mss(MutableBytes(buf.data() + t::kDataOffset, inner_len), mss_for(mtu, 4), mss_for(mtu, 6));
  }
  const bool within_budget = s.validated_ || s.via_previous_ || s.unvalidated_tx_ + inner_len + t::kDataOverhead <=
                                                 limits::kUnvalidatedAmplification * s.unvalidated_rx_;
  // Resends go first: new data waits behind them (keeps reordering small).
  if (within_budget && !s.stream_.has_resend() && s.channel_.can_send(now)) {
    // The client's path is paced: new data waits in the flow queue rather
    // than in its radio's buffer (paced_sender.hpp).
    if (config_.pacing) s.follow_path(now);
    // A bonding client: its flow's endpoint (validated), else the data path;
    // when that endpoint's pacer has no room, maybe the other one (spreading).
    const Bytes inner(buf.data() + t::kDataOffset, inner_len);
    HubSession::Route route = s.route(inner, now);
    const Endpoint pinned = route.to;
    if (!released && config_.pacing && !s.pacer_.admit_on(s.path_of(route.to), inner_len, now) &&
        !s.spill(route, inner_len, now, false) && !s.call_to_room(route, inner_len, now, false)) {
      // A call waits for either endpoint (untagged: any endpoint's room).
      const bool kept = s.pacer_.hold(Bytes(buf.data() + t::kDataOffset, inner_len), now,
                                      route.call ? 0 : s.path_of(route.to), route.contends);
      mark_pacing(s);
      if (!kept) {
        drops_.count(DropReason::kQueueNoMemory);
        return SealResult::drop(DropReason::kQueueNoMemory);
      }
      return SealResult::queued();
    }
    if (released && s.bonding()) {
      if (!s.spill(route, inner_len, now, true)) s.call_to_room(route, inner_len, now, true);
      s.pacer_.spend_released(s.path_of(route.to), inner_len, now);
    }
    const Endpoint to = route.to;
    if (route.flow) route.flow->sent.count(inner_len, now);
    const std::uint64_t seq = send_seq(s, inner, now, to);
    // A spread flow's packets go in order at the client (reorder_buffer.hpp).
    const bool ordered = route.ordered || (!(to == pinned) && !route.call);
    // The operator's redundancy policy (read before the AEAD may run in place).
    const bool named = redundant(config_.redundant, Bytes(buf.data() + t::kDataOffset, inner_len));
    if (auto n = seal_data(s, buf, inner_len, ordered ? seq | t::kSeqOrdered : seq, defer, now)) {
      SealResult r = SealResult::send(*n);
      r.to = to;
      r.fragment = beyond_path(inner_len, s.inner_mtu());  // owed (above)
      pending_copy_ = {};
      // The operator's named packets, and a bonding client's calls, get a
      // copy to the client's other address: for a call, only one it bonds.
      const bool call = route.call && s.call_other(to, now);
      if ((named || call) && s.validated_ && copy_allowed(s, inner_len, now)) {
        pending_copy_ = {*id, seq, s.other_endpoint(to)};
        r.copy = true;
        if (call && !named) ++s.bond_copies_;
      }
      return r;
    }
  }
  // Keys not confirmed yet (the client's first packet is on its way), or a new
  // path not validated yet (one round trip): wait in the bounded queue.
  if (!s.channel_.has_any_keypair()) return SealResult::drop(DropReason::kNoSession);
  if (const auto full = s.channel_.stage(Bytes(buf.data() + t::kDataOffset, inner_len))) {
    drops_.count(*full);
    return SealResult::drop(*full);
  }
  mark_ready(s);
  return SealResult::staged();
}

std::optional<std::size_t> Hub::seal_data(HubSession& s, MutableBytes out, std::size_t inner_len, std::uint64_t seq,
                                          crypto::SealJob* defer,
                                          Time now) {
  const auto n = s.channel_.seal_data(out, inner_len, seq, now, defer);
  if (!n) return std::nullopt;
  s.last_sent_ = now;
  if (s.unanswered_since_ == kNever) s.unanswered_since_ = now;
  s.keepalive_due_ = kNever;
  if (!s.validated_ && !s.via_previous_) s.unvalidated_tx_ += *n;
  return n;
}

std::optional<HubTransmit> Hub::poll_transmit(MutableBytes out, Time now) {
  while (!ready_.empty()) {
    auto& entry = clients_[ready_.back()];
    HubSession* s = entry.session.get();
    if (!s || !s->channel_.can_send(now)) {
      ready_.pop_back();
      continue;
    }
    std::optional<std::size_t> len;
    Endpoint to = s->data_endpoint();
    std::uint64_t seq = 0;
    std::size_t inner = 0;  // of a data packet
    if (!s->control_queue_.empty()) {
      auto q = s->control_queue_.front();
      s->control_queue_.erase(s->control_queue_.begin());
      if (q.frame.kind == wire::ControlKind::kAck) q.frame.ack = s->stream_.make_ack(q.frame.ack.flags);
      if (t::kOverhead + encoded_size(q.frame) > out.size()) continue;  // a probe echo beyond our buffer: lost
      // Toward a return path not yet validated, control counts in its 3x
      // budget like data (a challenge included: the packet that moved the
      // path earned room for it).
      if (q.to == s->endpoint_ && !s->validated_) {
        const std::size_t bytes = t::kOverhead + encoded_size(q.frame);
        if (s->unvalidated_tx_ + bytes > limits::kUnvalidatedAmplification * s->unvalidated_rx_) {
          drops_.count(DropReason::kAmplificationLimit);
          continue;
        }
        s->unvalidated_tx_ += bytes;
      }
      const std::size_t n = encode_control(q.frame, out.data() + t::kHeaderSize);
      len = s->channel_.seal(MessageType::kControl, out, n, now);
      to = q.to;
      // Never held back nor counted by the pacer (its rate is data's: what
      // acknowledgements say data took).
      if (len && to == s->endpoint_) {
        s->last_sent_ = now;
        s->keepalive_due_ = kNever;
      }
    } else if (!s->validated_ && !s->via_previous_) {
      ready_.pop_back();  // data waits for the new path's validation
      continue;
    } else if (config_.pacing && s->owes_data() &&
               (s->follow_path(now), !s->pacer_.may_send(now))) {
      // Resends and staged data take their turn from the pacer too: what the
      // client is owed after a handover goes out at its new path's pace.
      ready_.pop_back();
      mark_pacing(*s);
      continue;
    } else if (auto n = s->stream_.next_resend(out.subspan(t::kDataOffset, out.size() - t::kDataOverhead), seq,
                                               s->path_of(to))) {
      inner = *n;
      s->pacer_.spend(inner, now);
      len = seal_data(*s, out, inner, seq, nullptr, now);
    } else if (s->channel_.has_staged()) {
      inner = s->channel_.unstage(out.subspan(t::kSeqSize));
      seq = send_seq(*s, Bytes(out.data() + t::kDataOffset, inner), now, to);
      s->pacer_.spend(inner, now);
      len = seal_data(*s, out, inner, seq, nullptr, now);
    } else {
      ready_.pop_back();
      continue;
    }
    if (!len) continue;
    return HubTransmit{*len, to, beyond_path(inner, s->inner_mtu())};
  }
  return std::nullopt;
}

void Hub::mark_pacing(HubSession& s) {
  if (s.in_pacing_list_) return;
  s.in_pacing_list_ = true;
  pacing_.push_back(s.client_);
}

std::optional<std::size_t> Hub::release_paced(MutableBytes inner_out, Time now, ClientId& who) {
  for (std::size_t tried = 0; tried < pacing_.size();) {
    if (pacing_next_ >= pacing_.size()) pacing_next_ = 0;
    const ClientId id = pacing_[pacing_next_];
    HubSession* s = clients_[id].session.get();
    if (!s || (!s->pacer_.waiting() && !s->owes_data())) {
      if (s) s->in_pacing_list_ = false;
      pacing_[pacing_next_] = pacing_.back();
      pacing_.pop_back();
      continue;
    }
    ++pacing_next_;
    ++tried;
    // Resends and staged data go first, through poll_transmit (on_timer).
    if (!s->pacer_.waiting() || !s->channel_.can_send(now) || s->stream_.has_resend()) continue;
    if (const auto n = s->pacer_.release(inner_out, now, s->bonding())) {
      --pacing_next_;  // this session again next, until its pacer says wait
      who = id;
      return n;
    }
  }
  return std::nullopt;
}

}  // namespace tund::session
