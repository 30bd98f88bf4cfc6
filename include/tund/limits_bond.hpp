// Constants of per-path rates, bonding and the receiver's reorder buffer
// (issues 29 item 4 and 30): part of limits.hpp, which includes it at its end
// (they build on its timers and pacer constants); include limits.hpp, not this.
#pragma once

#include "tund/limits.hpp"

namespace tund::limits {
// --- per-path rates and bonding (issues 29 item 4 and 30) --------------------
// Each path keeps its own rate (paced_sender.hpp), so a failover keeps the
// estimate of the path it leaves. A session remembers this many paths (a
// client's uplinks in both families, a hub's endpoints of one client); the
// least recently used goes when a new one comes.
inline constexpr std::size_t kPacedPaths = 8;
// Coming back to a path whose acknowledgements spoke within this long, its
// rate resumes from kRateResumeShare of what it was (at least kRateInitial)
// and is searched up from there; older, it starts at kRateInitial like an
// unknown path. The baseline's own window: beyond it, what was measured of
// the path (its base round trip, its best delivery) is no longer trusted
// anywhere else either. Half, because others may have taken the path's
// capacity meanwhile; kRateStepMax a round finds the rest in a few rounds.
inline constexpr auto kRateResumeWindow = kGrayBaselineWindow;
inline constexpr double kRateResumeShare = 0.5;
// An acknowledgement says, per path the acknowledged packets were sent on,
// what it covered (ResendBuffer::AckOutcome): a session bonds or paces at
// most this many paths at once (more are counted together as the last).
inline constexpr std::size_t kAckPathShares = 4;
// session/bond_scheduler.hpp (issue 30): each inner flow is pinned to one
// path. Flows remembered per session (idle ones go first, then the oldest),
// how long a flow without packets keeps its path, and what a new flow is
// expected to add to a path's backlog when placing it (a TCP flow's first
// window: ten segments), so that flows starting together spread by the
// paths' capacities, not all onto the one whose backlog is empty this
// instant.
inline constexpr std::size_t kBondFlows = 1024;
inline constexpr auto kBondFlowIdle = std::chrono::seconds(30);
// Only flows that sent within this long weigh on where a new flow goes: a
// flow stays pinned for kBondFlowIdle, but the upload that ended 5 s ago
// loads no path (counted, it sent a whole download's new flows to the other
// uplink at once).
inline constexpr auto kBondFlowActive = std::chrono::seconds(1);
// Whether a flow contends for its path (only such a flow spreads) is judged
// before its first whole kBondFlowActive too, on what it sent so far over
// at least this long: a download's first second counts, while a call's
// first few frames never look like a burst.
inline constexpr auto kBondFlowRateMinSpan = std::chrono::milliseconds(125);
inline constexpr std::size_t kBondFlowWeight = 10 * 1448;
// How often the flows pinned to each path are counted again (a scan of the
// table: cheap at this pace, never per packet).
inline constexpr auto kBondRecountInterval = std::chrono::milliseconds(100);
// A pinned flow moves only when its path is full (its queue above the
// path's target) and another bonded path would deliver it sooner by this
// factor and kBondMoveMargin; then the flow stays kBondFlowHold on its new
// path and the session moves at most one flow per kBondMoveInterval (each
// move reorders the flow once; inner TCP takes a few in stride, not a
// stream of them).
inline constexpr double kBondMoveFactor = 1.5;
inline constexpr auto kBondMoveMargin = std::chrono::milliseconds(10);
inline constexpr auto kBondFlowHold = std::chrono::seconds(2);
inline constexpr auto kBondMoveInterval = std::chrono::milliseconds(200);
// Alike enough to spread one flow over two paths: capacities within this
// ratio and base round trips within this difference. Beyond, the receiver's reordering
// wait costs more than the slower path adds (mqvpn's and OpenMPTCProuter's
// published measurements, issue 30).
inline constexpr double kBondAlikeCapacityRatio = 2.0;
inline constexpr auto kBondAlikeRttDifference = std::chrono::milliseconds(50);
// A path whose capacity nothing measured yet (BondPath::measured) is taken
// to carry as much as the best, but alike to spread one flow over only if
// its base round trip is also within this share of the other's (or this
// slack, which a reordering wait covers anyway): the round trip is then the
// one hint of what the path is. Unlike access technologies differ in it
// (bench/bond's unlike pair, 8 and 40 ms: one flow down spread over both on
// that optimism got 10.4 Mbit/s where the fast link alone carries 18.1).
inline constexpr double kBondUnmeasuredRttShare = 0.25;
inline constexpr auto kBondUnmeasuredRttSlack = std::chrono::milliseconds(20);
// A bonded UDP flow that sends at most
// this (bits/s: a voice call's 50 frames a second, with room for a codec's
// own redundancy) travels on two bonded paths at once, as a copy on the
// second (BondScheduler::copies; the receiver delivers whichever comes
// first). A call gains nothing from a second path's capacity but much from
// its delay: on two radios the delay it sees is the lesser of theirs at each
// moment (bench/bond, traces pair: its p99 beside one download was 92 ms on
// the better trace alone, 219 on the other, and 296 in bond mode, where the
// call sat on the other). A copy costs its sender twice a call's few bytes;
// a faster flow gains from one path's capacity instead, and is not copied.
inline constexpr double kBondCopyFlowRate = 256e3;
// After an uplink leaves the client's bond, its acknowledgements say so
// (wire::control::kAckFlagBondLeft) for this long: one lost acknowledgement
// does not leave the hub sending its own choice of flows to a dead uplink.
// The hub forgets the standby's bond membership at each, and a bonded
// probe (one per kProbeIntervalStandby at most) restores it.
inline constexpr auto kBondLeftSaid = std::chrono::seconds(1);
// The hub sends a bonding client's flow back to the endpoint the flow last
// came from (when validated); it remembers this many flows per session.
inline constexpr std::size_t kHubBondFlows = 1024;
// Flows `tund status --json` lists per session in a bond (the busiest): a
// status reply stays small however many flows there are.
inline constexpr std::size_t kStatusBondFlows = 32;
// session/reorder_buffer.hpp: the receiver puts a spread flow back in order.
// Sequences tracked above the watermark (a bit each: 1 KiB a session), and
// packets that may wait at once and their size (inner packets of one outer
// datagram; a bigger one goes unordered): 1024 slots are 30 ms at 400
// Mbit/s. Allocated at the first hold, given back after kReorderIdleAfter.
inline constexpr std::size_t kReorderSpan = 8192;
inline constexpr std::size_t kReorderPackets = 1024;
inline constexpr std::size_t kReorderSlotBytes = 1500;
inline constexpr auto kReorderIdleAfter = std::chrono::seconds(2);
// How long an ordered packet may wait for earlier sequences: the spread of
// the paths' base round trips plus 1/kReorderWaitRttDivisor of the longest
// (what their queues add, each paced to a few tens of ms at most), within
// the floor and the ceiling. A loss seen on every path in use is given up
// without the wait (kReorderPaths below), so the wait is for packets still
// on their way on a slower path, and its ceiling covers a radio's queues:
// on the traces pair one download's packets came up to ~200 ms behind the
// next (2026-12-06, one run each: at a 100 ms ceiling 83 came after their
// gap was given up in 16 s, at 250 ms 11).
inline constexpr int kReorderWaitRttDivisor = 2;
inline constexpr auto kReorderWaitFloor = std::chrono::milliseconds(5);
inline constexpr auto kReorderWaitCeiling = std::chrono::milliseconds(250);
// The wait also covers the reordering the stream showed (gaps that filled
// late), this many times the most of it over the last two windows: a
// radio's queues differ by more than its round trips say. RACK's
// reordering window (RFC 8985) grows the same way on measured reordering.
inline constexpr double kReorderSkewMargin = 1.25;
inline constexpr auto kReorderSkewWindow = std::chrono::seconds(5);
// A gap every path the peer spreads over has passed is a loss, given up
// without the wait. The receiver tracks at most this many such paths (a
// bond's uplinks; with more the rule rests), and data on a path it was not
// told of rests the rule this long: longer than any wait, so what that path
// carried has come or been given up by then.
inline constexpr std::size_t kReorderPaths = 4;
inline constexpr auto kReorderPathRest = std::chrono::seconds(1);
}  // namespace tund::limits
