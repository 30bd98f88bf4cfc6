// The hub's paths to a client (RFC 9000 8 and 9): the return path's
// migration and validation, the standby address redundant copies go to, and
// the address a handshake came from. Every address is sent data only once the
// client answered from it under the session's keys; until then at most
// kUnvalidatedAmplification times what came from it, so a client that spoofs
// its source cannot turn the hub on someone else.
#include <algorithm>

#include "session/bond_scheduler.hpp"
#include "session/flow_fields.hpp"
#include "session/hub.hpp"

namespace tund::session {

namespace t = wire::transport;

void Hub::migrate(HubSession& s, const Endpoint& to, std::size_t bytes, Time now) {
  // The client's standby, validated and heard lately (sendable: it gets
  // copies and bonded flows already), proved it wants traffic: the return
  // path moves there at once (RFC 9000 9.3: a path seen recently need not
  // wait for a new validation). Waiting would hold what the client is owed
  // for a round trip of the new path, on LTE the largest share of a
  // handover's downstream stall. It is still challenged, in the background
  // (`confirming_`): "heard" is only a source address, which an on-path
  // party can write. Unanswered, the hub returns to the last path and
  // forgets the standby, so the next move there waits for its answer.
  const bool fast = to == s.standby_ && s.sendable(to, now);
  if (s.validated_) s.previous_ = s.endpoint_;
  s.endpoint_ = to;
  s.validated_ = fast;
  s.confirming_ = fast;
  s.via_previous_ = false;  // until the client says its old path still carries
  s.unvalidated_rx_ = bytes;
  s.unvalidated_tx_ = 0;
  ++s.path_changes_;
  s.validation_deadline_ = now + s.validation_timeout();
  challenge(s, now);
  if (std::find(validating_.begin(), validating_.end(), s.client_) == validating_.end())
    validating_.push_back(s.client_);
  if (fast && s.owes_data()) mark_ready(s);
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
    if (s.validated_ && !s.confirming_) return;
  } else if (!moves) {
    // A probe under the new keys: the address is the client's, though not
    // its return path; it may carry copies at once.
    s.heard_standby(from, now);
    return;
  } else {
    if (s.validated_) s.previous_ = s.endpoint_;
    s.endpoint_ = from;
  }
  // The response was the challenge and this packet its answer.
  s.settle_path();
  s.via_previous_ = false;
  if (s.owes_data()) mark_ready(s);
}

void Hub::on_standby_heard(HubSession& s, const Endpoint& from, std::size_t bytes, bool bonded, Time now) {
  if (bonded) {
    s.start_bond();
    s.bonded_from_ = from;
    s.bonded_heard_ = now;
  } else if (s.standby_bonded(now) && !(from == s.standby_)) {
    // A bond's standby stays while the client says it is in the bond: a
    // backup uplink's probe does not take its place (the hub may send
    // flows of its own choosing to the standby; only to a bonded one).
    return;
  }
  // Validated already: as the standby, or as a return path the client left.
  if (from == s.standby_ || (from == s.previous_ && s.previous_.valid())) {
    s.heard_standby(from, now);
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
  if ((!s.validated_ || s.confirming_) && from == s.endpoint_ && probe == s.challenge_) {
    if (s.challenged_at_ != kNever) s.on_rtt_sample(now - s.challenged_at_, config_.resend.max_age);
    s.settle_path();
    if (s.owes_data()) mark_ready(s);
    return true;
  }
  if (s.candidate_challenged_ != kNever && from == s.candidate_ && probe == s.candidate_challenge_) {
    s.heard_standby(from, now, now - s.candidate_challenged_);
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
  s->stream_.copied(copy.seq);
  if (config_.pacing) s->pacer_.spend_copy(s->known_path(copy.to), inner_len, now);
  s->redundant_bytes_ += *n;
  SealResult r = SealResult::send(*n);
  r.to = copy.to;
  return r;
}

std::uint32_t HubSession::path_of(const Endpoint& e) {
  if (const std::uint32_t known = known_path(e)) return known;
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

std::uint32_t HubSession::known_path(const Endpoint& e) const {
  for (std::size_t i = 0; i < paced_eps_.size(); ++i)
    if (paced_eps_[i] == e) return static_cast<std::uint32_t>(i + 1);
  return 0;
}

void HubSession::start_bond() {
  // The client says it bonds by sending kDataBond or a probe flagged
  // kProbeFlagBonded (authenticated, like any data): no flag to keep in
  // sync, and nothing unauthenticated turns it on. A download's flows may
  // all come on the client's active uplink, as kData: then only its bonded
  // probes from the other uplinks say it.
  if (!bond_flows_)
    bond_flows_ = std::make_unique<FlowTable<BondFlow>>(limits::kHubBondFlows, limits::kBondFlowIdle);
}

bool HubSession::standby_bonded(Time now) const {
  return standby_.valid() && standby_ == bonded_from_ && bonded_heard_ != Time::min() &&
         now - bonded_heard_ < limits::kRedundantStandbyFresh;
}

bool HubSession::may_choose(const Endpoint& e, Time now) const {
  if (e == endpoint_) return validated_;
  return e == standby_ && standby_bonded(now) && sendable(e, now);
}

HubSession::Route HubSession::route(Bytes inner, Time now) {
  Route r{data_endpoint()};
  if (!bond_flows_ || !validated_) return r;
  FlowFields f;
  if (!read_flow_fields(inner, f)) return r;
  const std::uint64_t hash = flow_hash(f, flow_seed_);
  auto* e = bond_flows_->find(hash, now);
  if (!e) {
    // A flow the client has not spoken in since it began to bond: its
    // opening datagram or handshake came before the hub knew the client
    // bonds (a bonded probe is every 2 s). Taken as on the endpoint it goes
    // to, it is counted and may spread; untracked, a UDP download stayed on
    // one endpoint with the other partnered and idle (bench/bond, alike
    // pair: 19.05 Mbit/s, 47% lost, in 1 run of 3). Bounded by the table.
    const std::uint32_t here = known_path(r.to);
    if (!here) return r;
    bool fresh = false, evicted = false;
    e = &bond_flows_->touch(hash, now, fresh, evicted);
    e->value = BondFlow{};
    e->value.path = here;
  }
  if (!e->value.path || e->value.path > paced_eps_.size()) return r;
  // The server sending on it keeps the flow live and active, as the client
  // speaking in it does: a stream the client opened with one datagram (a
  // UDP download, a video) is a flow for as long as it lasts.
  e->last_seen = now;
  BondFlow& flow = e->value;
  r.flow = &flow;
  r.ordered = flow.spilled_at != Time::min() && now - flow.spilled_at < limits::kBondFlowActive;
  std::uint32_t path = flow.path;
  if (flow.moved_to) {
    if (flow.moved_to <= paced_eps_.size() && may_choose(paced_eps_[flow.moved_to - 1], now)) path = flow.moved_to;
    else flow.moved_to = 0;  // taken back: the flow follows the client again
  }
  // Only where the client proved it wants traffic (anti-reflection).
  if (const Endpoint& to = paced_eps_[path - 1]; sendable(to, now)) r.to = to;
  // Only a flow that contends for its endpoint spills or moves (see
  // BondScheduler::Placement::contends; a call takes either endpoint's
  // room: call_to_room()).
  const std::uint32_t here = known_path(r.to);
  if (const PathRate* rate = here ? pacer_.rate_of(here) : nullptr) {
    count_bond_flows(now);
    // A call goes to both endpoints the client bonds, as the client sends it
    // on two of its uplinks (the copy: seal_to_client()).
    r.call = BondScheduler::copies(f.proto, flow.sent, now);
    r.contends = !r.call &&
                 BondScheduler::contends(flow.sent.current(now) * 8, rate->rate_bps(), bond_flows_active_[here - 1]);
  }
  if (bonded_alike_) {
    if (here && here == bonded_paths_[0]) r.partner = bonded_paths_[1];
    if (here && here == bonded_paths_[1]) r.partner = bonded_paths_[0];
  }
  return r;
}

bool HubSession::spill(Route& r, std::size_t len, Time now, bool released) {
  // Only a bonded flow that contends for its own endpoint, which has no
  // room (it is marked filled), onto the other one when no flow of its own
  // filled it lately.
  if (!r.flow || !r.contends) return false;
  const std::uint32_t here = known_path(r.to);
  if (!here || pacer_.room_on(here, now)) return false;
  const Time was = filled_at_[here - 1];
  const bool newly_filled = was == Time{} || now - was >= limits::kBondFlowActive;
  filled_at_[here - 1] = now;
  if (newly_filled) share_partners(now);  // an endpoint its own flows filled is no partner now
  if (!r.partner) return move(r, here, len, now, released);
  if (!spills_onto(r.partner, now)) return false;
  if (released ? !pacer_.room_on(r.partner, now) : !pacer_.admit_on(r.partner, len, now)) return false;
  r.flow->spilled_at = now;
  r.to = paced_eps_[r.partner - 1];
  return true;
}

bool HubSession::call_to_room(Route& r, std::size_t len, Time now, bool released) {
  // As the client does (ClientSession::call_to_room): waiting for its own
  // endpoint's room while the other has some delays the frame and its copy.
  if (!r.call) return false;
  const std::uint32_t here = known_path(r.to);
  const Endpoint* other = call_other(r.to, now);
  const std::uint32_t there = other ? known_path(*other) : 0;
  if (!here || !there || pacer_.room_on(here, now)) return false;
  if (released ? !pacer_.room_on(there, now) : !pacer_.admit_on(there, len, now)) return false;
  r.to = *other;
  return true;
}

bool HubSession::spills_onto(std::uint32_t partner, Time now) const {
  if (!partner || partner > paced_eps_.size()) return false;
  const Time filled = filled_at_[partner - 1];
  if (filled != Time{} && now - filled < limits::kBondFlowActive) return false;
  return may_choose(paced_eps_[partner - 1], now);
}

void HubSession::share_partners(Time now) {
  // The pacers release an endpoint's packets by its partner's room only
  // while spill() would put them there (paced_sender.hpp).
  const auto& [a, b] = bonded_paths_;
  pacer_.set_partner(a, bonded_alike_ && spills_onto(b, now) ? b : 0);
  pacer_.set_partner(b, bonded_alike_ && spills_onto(a, now) ? a : 0);
}

bool HubSession::move(Route& r, std::uint32_t here, std::size_t len, Time now, bool released) {
  const std::uint32_t there = here == bonded_paths_[0]   ? bonded_paths_[1]
                              : here == bonded_paths_[1] ? bonded_paths_[0]
                                                         : 0;
  if (!there || there > paced_eps_.size()) return false;
  BondFlow& f = *r.flow;
  if ((f.moved_at != Time::min() && now - f.moved_at < limits::kBondFlowHold) ||
      (last_bond_move_ != Time::min() && now - last_bond_move_ < limits::kBondMoveInterval))
    return false;
  if (const Time filled = filled_at_[there - 1]; filled != Time{} && now - filled < limits::kBondFlowActive)
    return false;  // full as well
  const Endpoint& to = paced_eps_[there - 1];
  const PathRate* from_rate = pacer_.rate_of(here);
  if (!from_rate || !may_choose(to, now)) return false;
  // An endpoint not measured yet is taken to carry as much as this one, as
  // the client's scheduler takes an unmeasured path: its pacer starts it low
  // and learns, and a flow moves at most every kBondMoveInterval meanwhile.
  // So is one that carried nothing lately: its rate says what a burst at
  // the bond's start met (bench/bond: 0.37 Mbit/s and 97 ms of queue on an
  // 8 Mbit/s link, kept for the whole run since nothing went there again).
  const PathRate* to_rate = pacer_.rate_of(there);
  const Time heard = pacer_.acked_at(there);
  double there_bps = to_rate ? to_rate->rate_bps() : 0;
  if (!to_rate || !to_rate->measured(now) || heard == Time::min() ||
      now - heard >= limits::kBondFlowActive)
    there_bps = std::max({there_bps, from_rate->rate_bps(), from_rate->capacity_bps()});
  if (!BondScheduler::share_gains(f.sent.rate * 8, from_rate->rate_bps(), bond_flow_counts_[here - 1], there_bps,
                                  bond_flow_counts_[there - 1]))
    return false;
  f.moved_to = there;
  f.moved_at = last_bond_move_ = now;
  ++bond_moves_;
  for (auto* counts : {&bond_flow_counts_, &bond_flows_active_}) {
    if ((*counts)[here - 1]) --(*counts)[here - 1];
    ++(*counts)[there - 1];
  }
  r.to = to;
  // Moved, whether this packet goes now or waits for the new endpoint's pacer.
  return released ? pacer_.room_on(there, now) : pacer_.admit_on(there, len, now);
}

void HubSession::count_bond_flows(Time now) {
  if (bond_counted_ != Time::min() && now - bond_counted_ < limits::kBondRecountInterval) return;
  bond_counted_ = now;
  const auto path_of_flow = [&](const auto& e) -> std::uint32_t {
    if (!bond_flows_->live(e, now) || now - e.last_seen > limits::kBondFlowActive) return 0;
    const std::uint32_t path = e.value.moved_to ? e.value.moved_to : e.value.path;
    return path <= bond_flow_counts_.size() ? path : 0;
  };
  auto& active = bond_flows_active_;
  active.fill(0);
  for (const auto& e : bond_flows_->entries())
    if (const std::uint32_t path = path_of_flow(e)) ++active[path - 1];
  // Only the flows that contend for an endpoint share it: a call or a
  // control connection beside one download does not halve the download's
  // share (counted, one download over the unlike pair was moved onto the
  // 8 Mbit/s endpoint, where an unmeasured rate promised it twice as much).
  bond_flow_counts_.fill(0);
  for (const auto& e : bond_flows_->entries())
    if (const std::uint32_t path = path_of_flow(e))
      if (const PathRate* rate = pacer_.rate_of(path);
          rate && BondScheduler::contends(e.value.sent.current(now) * 8, rate->rate_bps(), active[path - 1]))
        ++bond_flow_counts_[path - 1];
  // And the partners again: besides the client's data (refresh_bond) and a
  // path newly filled, nothing else names them, and a partner unset by a
  // packet sent without room, or not yet allowed at the first fill, stayed
  // unset for as long as the endpoint stayed full (a UDP download with
  // nothing upstream: 19 Mbit/s on one endpoint of the alike pair, none on
  // the other). Not the whole refresh_bond() here: run every 100 ms it kept
  // one download at lab start from spreading (bench/bond, alike pair: 18.19
  // Mbit/s on one link; not understood yet).
  share_partners(now);
}

void HubSession::heard_standby(const Endpoint& from, Time now, std::optional<Duration> rtt) {
  if (rtt)
    standby_rtt_ = rtt;
  else if (!(from == standby_))
    standby_rtt_.reset();
  standby_ = from;
  standby_heard_ = now;
  // A bond's view of the client's two endpoints is judged again: besides
  // this, only the client's data does it, and a client with nothing to send
  // upstream (a UDP download) kept the view of its last word. Taken before
  // its standby was validated, a download stayed on one endpoint for good
  // (bench/bond, alike pair: 19.05 Mbit/s, 47% lost, the standby unknown
  // to the hub's pacers until the client's last control message).
  if (bonding()) refresh_bond(now);
}

void HubSession::refresh_bond(Time now) {
  std::array<std::uint32_t, 2> ids{};
  if (validated_) ids[0] = path_of(endpoint_);
  if (standby_.valid() && !(standby_ == endpoint_) && sendable(standby_, now)) ids[1] = path_of(standby_);
  // Alike by what each endpoint's pacer measured (BondScheduler::alike: an
  // endpoint not measured yet is alike by its round trip alone, as the
  // client's are), and how long the client's spread flows' packets may wait
  // here for earlier ones.
  std::array<BondPath, 2> view{};
  for (std::size_t i = 0; i < ids.size(); ++i)
    if (const PathRate* r = ids[i] ? pacer_.rate_of(ids[i]) : nullptr) {
      view[i].rate_bps = r->rate_bps();
      view[i].capacity_bps = r->capacity_bps();
      view[i].base_rtt = r->base_rtt();
      view[i].measured = r->measured(now);
    }
  // Before data took an endpoint, its round trip from the challenges.
  const std::array<std::optional<Duration>, 2> challenged{srtt_, standby_rtt_};
  for (std::size_t i = 0; i < view.size(); ++i)
    if (!view[i].base_rtt) view[i].base_rtt = challenged[i];
  for (std::size_t i = 0; i < view.size(); ++i) {
    const BondPath& other = view[1 - i];
    if (!view[i].base_rtt) view[i].base_rtt = other.base_rtt ? other.base_rtt : srtt_;
  }
  bonded_alike_ = ids[0] && ids[1] && BondScheduler::alike(view[0], view[1]);
  if (view[0].base_rtt && view[1].base_rtt)
    stream_.set_reorder_wait(ReorderBuffer::wait_for(std::min(*view[0].base_rtt, *view[1].base_rtt),
                                                     std::max(*view[0].base_rtt, *view[1].base_rtt)));
  else if (srtt_)
    stream_.set_reorder_wait(ReorderBuffer::wait_for(*srtt_, *srtt_));
  // The client's two addresses its flows may be spread from: a gap both
  // passed is lost (a third address, if the client bonds more, rests the rule).
  const std::array<std::uint64_t, 2> spread{endpoint_.tag(), standby_.tag()};
  stream_.set_reorder_paths(std::span(spread.data(), ids[0] && ids[1] ? 2 : 0));
  if (ids != bonded_paths_) {  // the pacers are told only of a change
    bonded_paths_ = ids;
    pacer_.set_bonded(ids, now);
  }
  // Alike: either's room releases the other's queued packets (spill() then
  // places them on the one with room).
  share_partners(now);
}

void Hub::note_bond_flow(HubSession& s, wire::MessageType type, Bytes inner, const Endpoint& from, Time now) {
  if (type == wire::MessageType::kDataBond) s.start_bond();
  if (!s.bond_flows_) return;
  s.refresh_bond(now);
  FlowFields f;
  if (!read_flow_fields(inner, f)) return;
  // Keyed by the reply's 5-tuple: what the hub will look up when it sends.
  std::swap(f.src, f.dst);
  std::swap(f.sport, f.dport);
  bool fresh = false, evicted = false;
  HubSession::BondFlow& flow = s.bond_flows_->touch(flow_hash(f, s.flow_seed_), now, fresh, evicted).value;
  if (type == wire::MessageType::kDataCopy && !fresh && flow.path) return;
  const std::uint32_t path = s.path_of(from);
  if (flow.path && flow.path != path) flow.moved_to = 0;  // the client moved it: it knows its uplinks
  flow.path = path;
}

void Hub::expire_validation(Time now) {
  // Re-challenge, or give up and return to the last validated path.
  std::erase_if(validating_, [&](ClientId id) {
    HubSession* s = clients_[id].session.get();
    if (!s || (s->validated_ && !s->confirming_)) return true;
    if (now >= s->validation_deadline_) {
      if (s->confirming_) s->standby_ = Endpoint{};  // it did not answer: no longer taken on trust
      if (s->previous_.valid()) s->endpoint_ = s->previous_;
      s->settle_path();
      if (s->channel_.has_staged()) mark_ready(*s);
      return true;
    }
    if (now >= s->challenge_next_) challenge(*s, now);
    return false;
  });
}

}  // namespace tund::session
