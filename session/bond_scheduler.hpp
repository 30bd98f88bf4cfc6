// Which path carries each inner packet when a client bonds its uplinks
// (issue 30, `[uplinks] mode = "bond"`), pure logic over what the paths'
// pacers measured (path_rate.hpp). The idea is ECF's and BLEST's (MPTCP
// schedulers): send where the data arrives soonest, and use a slower path
// only when the fast one is full and the slow one would deliver sooner.
//
//   each inner flow (flow_fields.hpp: the 5-tuple, IPv4 and IPv6) is pinned
//   to one path, so its packets arrive in order and nothing is held at the
//   receiver;
//   a new flow goes to the path of earliest expected delivery:
//     delivery(p) = max(queue(p), backlog(p) / rate(p)) + base_rtt(p) / 2
//     cost(p)     = delivery(p) + (flows(p) + 1) * kBondFlowWeight / rate(p)
//   (queue: the last measured, less the time since, as nothing more entered
//   it; backlog: what we sent on p since, drained by its acknowledgements and
//   at its rate; flows: those pinned to it that spoke within the last
//   kBondFlowActive), among the primary tier's
//   paths, or the secondary tier's too when every primary path is full
//   (its queue above its target);
//   until a path is measured its rate is only a guess, and each flow on it
//   weighs half its base round trip instead: the lower round trip takes
//   flows until it would deliver later (a control connection placed first
//   does not send the transfer after it to a slow link);
//   a pinned flow moves only when its path leaves the bond (dead, gray,
//   gone: then it is placed anew, as failover would move it), or when its
//   path is full and another carries what the flow sends now (a flow that
//   fills a fast path alone is not moved to a slower one) and either would
//   deliver it kBondMoveFactor times sooner and kBondMoveMargin (latency),
//   or is not full and would give it a kBondMoveFactor times larger share
//   (throughput, share_gains(): flows that started together before any
//   path was measured all took the shorter round trip), after it stayed
//   kBondFlowHold and no other flow of the session moved within
//   kBondMoveInterval (no flapping).
//
// One flow over two paths (spreading): a pinned flow whose path's pacer has
// no room may spill onto the path's partner, the bonded path most alike to
// it (alike(): capacities within kBondAlikeCapacityRatio, base round trips
// within kBondAlikeRttDifference, and within kBondUnmeasuredRttShare of each
// other (or kBondUnmeasuredRttSlack) while either's capacity is unmeasured;
// beyond that, spreading one flow is
// measured to do worse than the best path, so unlike paths have no
// partner). A partner is offered only while no flow pinned to it found it
// without room within kBondFlowActive (it has room to spare: with flows on
// both paths, per-flow placement already uses both, and spreading would
// only reorder them). The caller, which knows the pacers, decides per
// packet (place() names the partner and whether the flow contends for its
// path: only then may it spill; found_full() says such a flow's own path
// had no room, spill() says it took the partner); a flow that
// spilled within kBondFlowActive is `ordered`: each of its packets carries
// wire::transport::kSeqOrdered, and the receiver delivers them in sequence
// order within a bounded wait (reorder_buffer.hpp). A flow that never
// spills is never held at the receiver.
//
// A call travels on two paths (copies()): a UDP flow of at most
// kBondCopyFlowRate goes, as a copy, on a second bonded path as well (each
// packet on whichever of the two has room first), and the receiver delivers
// whichever comes first. Its delay is then the lesser of the two paths' at
// each moment; nothing is held for it, and it never contends.
//
// Memory is bounded: kBondFlows flows in a set-associative table (a new flow
// takes the least recently seen of its set's ways), allocated once. Nothing
// is allocated per packet. Sans I/O: every call carries `now`.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <vector>

#include "session/flow_fields.hpp"
#include "session/flow_table.hpp"
#include "tund/limits.hpp"
#include "tund/types.hpp"

namespace tund::session {

// What one flow sent over its last whole kBondFlowActive, in bytes a second
// (both ends count their own direction: bond_scheduler.cpp, hub_paths.cpp).
struct FlowRate {
  double rate = 0;
  Time window_at{};  // Time{}: nothing counted yet
  std::uint64_t window_bytes = 0;
  void count(std::size_t len, Time now);
  // What it sends now: the last whole window's rate, or the window under
  // way's over at least kBondFlowRateMinSpan if more (a flow's first second).
  double current(Time now) const;
  // Whether current() says what the flow sends: a whole window counted, or
  // kBondFlowRateMinSpan of the first (before, a download's first packets
  // look like a call's).
  bool known(Time now) const {
    return rate > 0 || (window_at != Time{} && now - window_at >= limits::kBondFlowRateMinSpan);
  }
};

// What the scheduler knows of one bonded path.
struct BondPath {
  std::uint32_t id = 0;
  double rate_bps = 0;                  // estimated (0: unknown, taken as kRateInitial)
  double capacity_bps = 0;              // what it showed it carries (PathRate::capacity_bps; 0: rate_bps)
  std::optional<Duration> base_rtt;     // least round trip lately
  Duration queue{0};                    // the path's queue delay over its last round
  // When that queue was measured (the path's last acknowledgement; none:
  // now). A queue nothing more entered drains in its own delay, so it counts
  // only what is left of it: a path that carried an upload's standing queue
  // and then nothing does not read full for good (what we sent since is in
  // the backlog).
  std::optional<Time> queue_at;
  Duration queue_target{0};             // what counts as full
  bool secondary = false;               // used for new flows only when every primary path is full
  // Seen full lately while used (PathRate::measured): its rate is what it
  // carries. Until then its rate only says what it was given, and it is
  // taken to carry as much as the best bonded path (optimism: a flow placed
  // there finds out). A path that carried only a call is not measured by
  // the queue the call met.
  bool measured = false;
};

class BondScheduler {
 public:
  explicit BondScheduler(std::uint64_t seed) : seed_(seed) {}

  // The bonded paths now (at most kAckPathShares; more are ignored) and what
  // is known of each; paths that stay keep their backlog and counters.
  void set_paths(const std::vector<BondPath>& paths, Time now);
  struct Placement {
    std::uint32_t path = 0;     // the flow's pinned path (its packet is charged there)
    std::uint32_t partner = 0;  // where it may spill when `path` has no room (0: nowhere)
    bool ordered = false;       // spread lately: delivered in order at the receiver
    // It contends for `path` (contends()): only such a flow spills. One that
    // does not waits for its own path's room in the flow queue, where a
    // sparse flow goes first.
    bool contends = false;
    // A call (copies(); it never contends): it also goes, as a copy, on a
    // second bonded path, and its packet takes whichever of the two has room
    // first (the sender's call_to_room), never ordered at the receiver.
    bool copies = false;
  };
  // The path for an inner packet of `len` bytes (IP header first), its flow
  // pinned or placed; `fallback` (the active path) for what has no flow (not
  // IP) or when no path is bonded.
  Placement place(Bytes inner, std::size_t len, std::uint32_t fallback, Time now);
  // The packet place() last placed went on its partner instead: the charge
  // moves there and the flow is spread (ordered) from now.
  void spill(const Placement& placed, std::size_t len, Time now);
  // A flow pinned to `path` that contends for it (Placement::contends)
  // found its pacer without room: the path is filled by its own flows, and
  // is no partner for a while. True when it was not filled before (the
  // partners offered change).
  bool found_full(std::uint32_t path, Time now) {
    const std::size_t i = index(path);
    if (i == limits::kAckPathShares) return false;
    const Time was = paths_[i].filled_at;
    paths_[i].filled_at = now;
    return was == Time::min() || now - was >= limits::kBondFlowActive;
  }
  // The bytes a path was given besides place() (resends): its backlog.
  void charge(std::uint32_t path, std::size_t len, Time now);
  // An acknowledgement's news of `path`: packets delivered or lost leave its
  // backlog (see delivery()).
  void on_ack(std::uint32_t path, std::size_t packets, std::size_t bytes);

  // The path `path`'s flows may spill onto now (0: none; see the header
  // comment): its most alike path, while no flow of its own filled it.
  std::uint32_t partner_of(std::uint32_t path, Time now) const {
    const std::size_t i = index(path);
    if (i == limits::kAckPathShares || paths_[i].partner == limits::kAckPathShares) return 0;
    const Path& p = paths_[paths_[i].partner];
    return p.filled_at != Time::min() && now - p.filled_at < limits::kBondFlowActive ? 0 : p.info.id;
  }
  // Alike enough to spread one flow over both (see the header comment).
  static bool alike(const BondPath& a, const BondPath& b);
  // The throughput half of the move rule (the hub's too, for its direction):
  // a flow sending `flow` on a full path of rate `here` that `here_flows`
  // active flows share (it among them) is better off on a path of rate
  // `there` with `there_flows` when an equal share there, with it added, is
  // kBondMoveFactor times its equal share here. Only a flow that shares its
  // path moves this way: it sends at least half its share (a call's trickle
  // gains nothing) and at most 1/kBondMoveFactor of the path (one that fills
  // a fast path alone stays). Rates in any one unit.
  static bool share_gains(double flow, double here, std::size_t here_flows, double there, std::size_t there_flows);
  // A flow that contends for its path: it sends at least half an equal share
  // of the path's rate among `flows`. Only such a flow marks its path
  // filled by its own flows (found_full): a call finding no room because
  // spilled packets used it says nothing of that.
  static bool contends(double flow, double rate, std::size_t flows) {
    return flows > 0 && rate > 0 && flow >= rate / static_cast<double>(flows) / 2;
  }
  // A flow that travels on two bonded paths at once (the hub's direction
  // too): UDP (a call's RTP, WebRTC, a game) known to send at most
  // kBondCopyFlowRate. Such a flow never contends for its path, however
  // thin: on an LTE uplink of 0.13-0.9 Mbit/s beside 8 uploads a call is
  // a fair share's double, and counted as contending it lost its copies
  // (bench/bond, traces up: 574-596 of 750 frames late, p50 250 ms).
  static bool copies(std::uint8_t proto, const FlowRate& sent, Time now) {
    return proto == kProtoUdp && sent.known(now) && sent.current(now) * 8 <= limits::kBondCopyFlowRate;
  }

  struct PathCount {
    std::uint32_t id = 0;
    std::uint64_t packets = 0, bytes = 0;
    std::uint32_t flows = 0;  // pinned and active at the last count
    bool full = false;
  };
  struct FlowView {
    std::uint64_t hash = 0;  // the flow's hash under this session's secret
    std::uint32_t path = 0;
    std::uint64_t packets = 0, bytes = 0;
    Time last_seen{};
  };
  struct Counters {
    std::uint64_t placed = 0, moved = 0, followed = 0, evicted = 0;
    std::uint64_t spilled = 0;  // packets of a pinned flow sent on its path's partner
    std::uint64_t copied = 0;   // packets of a call also sent, as a copy, on a second path
  };
  // A packet place() gave Placement::copies went on a second path too.
  void count_copy() { ++counters_.copied; }
  const std::array<PathCount, limits::kAckPathShares>& path_counts() const { return counts_; }
  // Up to `max` active flows, the busiest first (status).
  std::vector<FlowView> flows(std::size_t max, Time now) const;
  std::size_t active_flows(Time now) const;
  const Counters& counters() const { return counters_; }

 private:
  struct Path {
    BondPath info;
    double backlog = 0;  // bytes, drained at the rate since `drained`
    Time drained{};
    std::size_t partner = limits::kAckPathShares;  // index of the most alike path (none: kAckPathShares)
    Time filled_at = Time::min();  // a flow pinned here last found no room
  };
  struct Flow {
    std::uint32_t path = 0;
    Time placed_at{};
    std::uint64_t packets = 0, bytes = 0;
    FlowRate sent;
    Time spilled_at = Time::min();  // last sent on its path's partner
  };

  Path* find(std::uint32_t id);
  std::size_t index(std::uint32_t id) const;
  double rate_of(const Path& p) const;  // bytes per second
  Duration queue_left(const Path& p, Time now) const;
  Duration delivery(Path& p, Time now);
  Duration cost(Path& p, std::size_t index, Time now);
  bool full(Path& p, Time now);
  // The best path for a new flow (kNone when none is bonded).
  std::size_t best(Time now, std::size_t except);
  void recount(Time now);

  std::uint64_t seed_;
  Flow* last_ = nullptr;  // what place() last placed (for spill())
  std::array<Path, limits::kAckPathShares> paths_{};
  std::size_t path_count_ = 0;
  double best_rate_ = 0;  // bytes per second: the best bonded path's estimate
  bool any_measured_ = false;
  std::optional<Duration> longest_base_;  // the longest base round trip of a bonded path
  std::array<PathCount, limits::kAckPathShares> counts_{};
  FlowTable<Flow> flows_{limits::kBondFlows, limits::kBondFlowIdle};
  Time last_move_ = Time::min();
  Time counted_ = Time::min();
  Counters counters_;
};

}  // namespace tund::session
