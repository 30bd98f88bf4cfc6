// ClientSession, its paths' rates and the bond (issues 29 and 30): what an
// acknowledgement says of each path the acknowledged packets took (each
// path's pacer learns only from its own packets and round trips), and which
// paths carry data together when the policy bonds them (bond_scheduler.hpp
// places each flow). Split from client.cpp, which seals with the path the
// scheduler gives.
#include <algorithm>

#include "session/client.hpp"

namespace tund::session {

void ClientSession::learn_from_ack(const ResendBuffer::AckOutcome& outcome, std::uint32_t received_us, Time now) {
  bool bonded_news = false;
  for (std::size_t i = 0; i < outcome.path_count; ++i) {
    const auto& share = outcome.paths[i];
    const auto rtt = share.newest_sent ? std::optional<Duration>(now - *share.newest_sent) : std::nullopt;
    // The one-way sample is of the ack's highest packet: its path's.
    const auto one_way = share.path == outcome.highest_path ? PathRate::one_way_sample(received_us, outcome.highest_sent)
                                                            : std::nullopt;
    pacer_.on_ack(share.path, now, rtt, share.bytes, share.acked, one_way);
    if (bonding()) bond_.on_ack(share.path, share.acked + share.lost, share.bytes + share.lost_bytes);
    if (share.path == active_path_) health_.on_ack(now, rtt, share.acked, share.bytes, share.lost);
    bonded_news = bonded_news || bonding();
  }
  if (bonded_news && (bond_refreshed_ == Time::min() || now - bond_refreshed_ >= limits::kRateRoundFloor))
    refresh_bond(now);
}

bool ClientSession::spill(const BondScheduler::Placement& placed, PathId& via, std::size_t len, Time now,
                          bool released) {
  // Only a flow that contends for its pinned path, which has no room (the
  // scheduler learns it is full), onto a partner still bonded whose pacer
  // has room (released: the packet already left the queue, and is spent by
  // the caller; else admitted and counted here, as admit_on does).
  if (!bonding() || via != placed.path || !placed.contends || pacer_.room_on(via, now)) return false;
  if (bond_.found_full(via, now)) share_partners(now);  // a path its own flows filled is no partner now
  if (!placed.partner || !has_path(placed.partner)) return false;
  if (released ? !pacer_.room_on(placed.partner, now) : !pacer_.admit_on(placed.partner, len, now)) return false;
  bond_.spill(placed, len, now);
  via = placed.partner;
  return true;
}

bool ClientSession::call_to_room(const BondScheduler::Placement& placed, PathId& via, std::size_t len, Time now,
                                 bool released) {
  // Its copy goes on the other path anyway (seal()): waiting in tund for its
  // own path's room while the other has some delayed both (bench/bond,
  // traces up: beside 8 bonded uploads the frames waited and CoDel dropped
  // them). Unordered at the receiver: a call wants its frames now, not in
  // order.
  if (!bonding() || !placed.copies || pacer_.room_on(via, now)) return false;
  const PathId other = copy_path(via, true);
  if (!other || (released ? !pacer_.room_on(other, now) : !pacer_.admit_on(other, len, now))) return false;
  via = other;
  return true;
}

void ClientSession::share_partners(Time now) {
  // The pacers release a path's packets by its partner's room only while
  // spill() would put them there (paced_sender.hpp).
  for (const auto& b : bond_view_) pacer_.set_partner(b.id, bond_.partner_of(b.id, now));
}

std::uint32_t ClientSession::bond_ack_flags(Time now) const {
  return bond_left_at_ != Time::min() && now - bond_left_at_ < limits::kBondLeftSaid ? wire::control::kAckFlagBondLeft
                                                                                     : 0;
}

bool ClientSession::bonded_path(PathId id) const {
  return std::any_of(bonded_.begin(), bonded_.end(), [&](const BondMember& m) { return m.path == id; });
}

void ClientSession::refresh_bond(Time now) {
  bond_refreshed_ = now;
  bond_view_.clear();
  for (const auto& m : bonded_) {
    BondPath b;
    b.id = m.path;
    b.secondary = m.secondary;
    if (const PathRate* r = pacer_.rate_of(m.path)) {
      b.rate_bps = r->rate_bps();
      b.capacity_bps = r->capacity_bps();
      b.base_rtt = r->base_rtt();
      b.queue = std::max(r->recent_queue().value_or(Duration{0}), Duration{0});
      if (const Time at = pacer_.acked_at(m.path); at != Time::min()) b.queue_at = at;
      b.queue_target = r->queue_target();
      b.measured = r->measured(now);
    }
    // Before the data's own round trips, the probes'.
    if (!b.base_rtt)
      if (const Path* p = find_path(m.path)) b.base_rtt = p->stats.rtt;
    bond_view_.push_back(b);
  }
  bond_.set_paths(bond_view_, now);
  share_partners(now);
  // How long the hub's spread flows' packets may wait here for earlier ones.
  std::optional<Duration> shortest, longest;
  for (const auto& b : bond_view_) {
    if (!b.base_rtt) continue;
    shortest = std::min(shortest.value_or(*b.base_rtt), *b.base_rtt);
    longest = std::max(longest.value_or(*b.base_rtt), *b.base_rtt);
  }
  if (longest) stream_.set_reorder_wait(ReorderBuffer::wait_for(*shortest, *longest));
  // The uplinks the hub may spread a flow over: a gap all of them passed is lost.
  // (More than it tracks: none, and only the wait gives gaps up.)
  std::array<std::uint64_t, limits::kReorderPaths> spread{};
  std::size_t n = 0;
  if (bond_view_.size() <= spread.size())
    for (const auto& b : bond_view_) spread[n++] = b.id;
  stream_.set_reorder_paths(std::span(spread.data(), n));
}

void ClientSession::set_bond(const std::vector<BondMember>& members, Time now) {
  // A path that leaves the bond dead, failing gray or gone sends again (on
  // the active path) what it carried and is not acknowledged: inside a bond
  // a path that dies costs what a failover's resends cost, not inner TCP's
  // timeouts. One that leaves healthy (a policy change) delivers what it has.
  for (const auto& m : bonded_) {
    if (std::any_of(members.begin(), members.end(), [&](const BondMember& n) { return n.path == m.path; })) continue;
    // The hub may have put flows of its own choosing there: it hears of it
    // in the next acknowledgements (kAckFlagBondLeft) and takes them back.
    bond_left_at_ = now;
    if (m.path == active_path_) continue;
    const Path* p = find_path(m.path);
    if (!p || p->stats.dead || p->stats.gray) stream_.schedule_path(m.path, now);
  }
  bonded_.clear();
  for (const auto& m : members)
    if (has_path(m.path)) bonded_.push_back(m);
  if (bonded_.size() < 2) bonded_.clear();
  std::vector<PathId> ids;
  for (const auto& m : bonded_) ids.push_back(m.path);
  pacer_.set_bonded(ids, now);
  refresh_bond(now);
}

}  // namespace tund::session
