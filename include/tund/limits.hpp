// Every protocol constant in one place: timers, counters, sizes of bounded state.
// The wire layout itself is in wire.hpp.
//
// Timers of a session (client side initiates every handshake):
//   kRekeyTimeout       no response to an initiation: send a fresh one (plus jitter).
//   kRekeyAfterTime     current keypair this old: the client starts a new handshake.
//   kRejectAfterTime    a keypair this old is never used again, in either direction.
//   kKeepaliveTimeout   received something but sent nothing for this long: send a keepalive.
//   kNewHandshakeTime   sent something but received nothing for this long: re-handshake.
// The previous keypair keeps being accepted after a rekey until it is itself
// kRejectAfterTime old, which gives in-flight packets a grace period.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <limits>

namespace tund::limits {

using namespace std::chrono_literals;

// --- Keys and counters ------------------------------------------------------
inline constexpr std::uint64_t kRekeyAfterMessages = 1ull << 60;
// Replay window: RFC 6479 ring of 64-bit blocks. One block is always being
// recycled, so the window that is guaranteed is (kReplayBlocks - 1) * 64.
inline constexpr std::size_t kReplayBlocks = 129;
inline constexpr std::uint64_t kReplayWindow = (kReplayBlocks - 1) * 64;  // 8192
// A counter at or beyond this is refused, so the 64-bit nonce can never wrap.
inline constexpr std::uint64_t kRejectAfterMessages =
    std::numeric_limits<std::uint64_t>::max() - kReplayWindow - 1;

// --- Timers -----------------------------------------------------------------
inline constexpr auto kRekeyAfterTime = 120s;
inline constexpr auto kRejectAfterTime = 180s;
inline constexpr auto kRekeyTimeout = 5s;
inline constexpr auto kRekeyTimeoutJitterMax = 333ms;
inline constexpr auto kKeepaliveTimeout = 10s;
inline constexpr auto kNewHandshakeTime = kKeepaliveTimeout + kRekeyTimeout;
// A hub's session a client has not confirmed (no packet under its keys) is
// forgotten after this: by then the client has sent a fresh initiation.
inline constexpr auto kPendingSessionLifetime = 2 * kRekeyTimeout;
// The hub answered nothing (not a probe, on no path) for this long while the
// client kept probing: it probably restarted and lost the session. The client
// then handshakes at once and retries every kSilentRetry (plus jitter) until
// it is answered, so it is back within kSilentRetry + jitter of the hub.
// Scaled up on a slow path: never under kSilenceRtts of its smoothed round trip.
inline constexpr auto kHubSilence = 2500ms;
inline constexpr int kSilenceRtts = 4;
// A better uplink must stay healthy for at least this many of its round trips
// before traffic returns to it (session/uplink_policy.hpp; the configured
// hold_down is the floor): 2 s on a 100 ms path, 12 s on a GEO one.
inline constexpr int kHoldDownRtts = 20;
// With no healthy uplink, traffic moves only to one whose round trip is under
// 1/this of the current one's (session/uplink_policy.hpp).
inline constexpr int kFallbackRttMargin = 2;
inline constexpr auto kSilentRetry = 2s;
// Full tunnel: the client's policy rules sit just before the main table's (32766).
inline constexpr std::uint32_t kRulePriority = 32760;
// Log lines the network can trigger: at most this many per window.
inline constexpr unsigned kLogBurst = 20;
// A hub given by name (tund/hub_resolver.hpp): resolved again this often, and
// when every path to it is dead, but never more often than kResolveRetry.
inline constexpr auto kResolveInterval = 300s;
inline constexpr auto kResolveRetry = 5s;
// Addresses kept per hub name (A and AAAA records together).
inline constexpr std::size_t kResolveMaxAddresses = 16;
inline constexpr auto kLogWindow = 10s;
// Both daemons return freed heap pages to the kernel this often
// (daemon/heap_trim.hpp), so RSS follows the live heap, not its peak.
inline constexpr auto kHeapTrimInterval = 60s;
// Redundancy selectors per list ([uplinks] / [handover] redundant): each
// inner packet is matched against all of them.
inline constexpr std::size_t kMaxRedundantSelectors = 32;
// A hub sends a client's redundant copies to the standby address it last
// heard an authenticated probe from, for this long after it.
inline constexpr auto kRedundantStandbyFresh = 5s;
// A hub copies only to a standby address the client answered a challenge
// from (RFC 9000 8.2; until then that address gets at most
// kUnvalidatedAmplification times what came from it), and at most this many
// bytes of copies per second per session: redundancy is for small flows that
// cannot wait (voice, video calls, games: a few Mbit/s), so 4 MiB/s (33 Mbit/s)
// leaves room for several while bounding what even a validated standby is sent.
inline constexpr std::size_t kRedundantBytesPerSecond = 4u << 20;
// A hub with IPv6 alone inside draws VIPs from at most this many host bits
// of its prefix (65,534 clients): the pool and its leases stay IPv4-sized.
inline constexpr unsigned kIpv6OnlyPoolBits = 16;
// A hub forgets a session whose keys have all expired this long ago.
inline constexpr auto kSessionIdleExpiry = 3 * kRejectAfterTime;

// --- Handshake defence ------------------------------------------------------
// Initiations from one identity closer together than this are refused.
inline constexpr auto kMinInitiationInterval = 20ms;
// Above this many mac1-valid initiations per second the hub is "under load":
// it then answers initiations without a valid mac2 with a cookie reply only.
inline constexpr std::uint32_t kUnderLoadInitiationsPerSecond = 4096;
inline constexpr auto kUnderLoadHold = 1s;
inline constexpr auto kCookieSecretLifetime = 120s;
// A cookie received from a responder is used for mac2 this long.
inline constexpr auto kCookieLifetime = kCookieSecretLifetime - 2s;

// --- Bounded state ----------------------------------------------------------
// Inner packets queued while a session has no usable key (copied, bounded),
// and on a hub all sessions' staged bytes together (HubConfig::
// staged_total_bytes, [limits] staged_total_bytes): 10,000 sessions of 128
// full-size packets would be 1.8 GB. Staging lasts a round trip (keys not yet
// confirmed, a new path not yet validated), so 32 MiB holds some 23,000
// full-size packets: a mass reconnect of busy clients, not a flood.
inline constexpr std::size_t kStagedPackets = 128;
inline constexpr std::size_t kHubStagedTotalBytes = 32u << 20;
// The client adds a route for the VIP subnet a hub assigns only when it is no
// wider than this (config: [[hub]] max_vip_subnet): a hub must not be able to
// take over a large part of the client's routing with one handshake.
inline constexpr std::uint8_t kDefaultMinVipPrefix = 16;

}  // namespace tund::limits

namespace tund::limits {
// --- Paths (uplinks) ----------------------------------------------------------
// Every path is probed under the session keys so a switch never starts cold.
inline constexpr auto kProbeIntervalActive = std::chrono::seconds(1);
inline constexpr auto kProbeIntervalStandby = std::chrono::seconds(2);
// A probe is counted lost after clamp(2 srtt + 4 rttvar, kProbeTimeout,
// kProbeTimeoutCeiling) of its path: a second on any terrestrial path, more
// on a satellite's (a GEO round trip alone is 600 ms, its queue more).
inline constexpr auto kProbeTimeout = std::chrono::seconds(1);
inline constexpr auto kProbeTimeoutCeiling = std::chrono::seconds(4);
inline constexpr std::size_t kLossWindow = 10;                  // probes per loss estimate
inline constexpr std::size_t kMinLossSamples = 3;               // before a loss rate is reported
// Hub: a new return path is challenged this often, and abandoned (back to the
// last validated one) if no answer came within the timeout. Until validated it
// gets at most kUnvalidatedAmplification times the bytes received from it.
// Both scale with the session's round trip as the hub measures it (the
// handshake, then each answered challenge): challenges every clamp(2 srtt,
// interval, ceiling), given up after clamp(4 srtt, timeout, ceiling) (RFC
// 9000 9.4 asks for three PTOs), so a satellite client is not sent back to
// its old path while its answer is still in flight.
inline constexpr auto kPathChallengeInterval = std::chrono::milliseconds(300);
inline constexpr auto kPathChallengeIntervalCeiling = std::chrono::seconds(2);
inline constexpr auto kPathValidationTimeout = std::chrono::seconds(1);
inline constexpr auto kPathValidationTimeoutCeiling = std::chrono::seconds(8);
// Idle sessions (session::IdlePolicy, [uplinks] idle_*): no inner packet for
// kIdleAfter; then the active path is kept every kIdleKeepalive (under the
// 30 s that many NATs and CGNATs give an idle UDP binding, as WireGuard's
// recommended 25 s; about 144 packets an hour each way), unmetered standbys
// every kIdleStandbyProbe (30 an hour), metered ones never. kIdleAfter is
// past an LTE radio's ~10 s inactivity timer, so a radio that would drop to
// idle is let go soon after the traffic stops.
inline constexpr auto kIdleAfter = std::chrono::seconds(15);
inline constexpr auto kIdleKeepalive = std::chrono::seconds(25);
inline constexpr auto kIdleStandbyProbe = std::chrono::seconds(120);
inline constexpr std::uint64_t kUnvalidatedAmplification = 3;
// Path MTU (session/pmtu.hpp), in UDP payload bytes: datagram packetization-
// layer PMTU discovery after RFC 8899. The search starts from the base every
// network must carry (RFC 8899's BASE_PLPMTU: 1280 bytes of IPv6, 1200 of
// IPv4, less the IP and UDP headers) and never probes above the interface's
// MTU or the largest datagram the tunnel sends. Each round sends
// kPmtuProbesPerRound padded probes at once (the ceiling among them: most
// paths carry it) and ends when all are answered or after the round timeout;
// the search ends when the bounds are kPmtuGranularity apart. Searched again
// when a path becomes active (if the last search is kPmtuResearchAfter old)
// and every kPmtuRaiseInterval (RFC 8899's PMTU_RAISE_TIMER).
// Every IPv6 link carries this (RFC 8200 §5): so does the tunnel, with outer
// fragments on a path smaller than that (session/inner_mtu.hpp).
inline constexpr std::size_t kIpv6MinimumMtu = 1280;
inline constexpr std::size_t kPmtuBase6 = kIpv6MinimumMtu - 40 - 8;
inline constexpr std::size_t kPmtuBase4 = 1200 - 20 - 8;
inline constexpr std::size_t kPmtuProbesPerRound = 4;
inline constexpr std::size_t kPmtuGranularity = 8;
inline constexpr auto kPmtuRoundTimeoutFloor = std::chrono::milliseconds(50);
inline constexpr auto kPmtuRoundTimeoutCeiling = std::chrono::seconds(1);
inline constexpr auto kPmtuResearchAfter = std::chrono::seconds(5);
inline constexpr auto kPmtuRaiseInterval = std::chrono::seconds(600);
// While traffic flows, the active path's MTU is confirmed by one probe of that
// size every kPmtuCheckInterval; kPmtuCheckLosses lost in a row mean the path
// now carries less (a black hole, RFC 8899 4.3): search again.
inline constexpr auto kPmtuCheckInterval = std::chrono::seconds(10);
inline constexpr unsigned kPmtuCheckLosses = 2;
// Inner packets too big for the active path are answered with ICMP
// (fragmentation needed, Packet Too Big) into the TUN at most this often.
inline constexpr double kTooBigPerSecond = 100;
inline constexpr double kTooBigBurst = 20;
}  // namespace tund::limits

namespace tund::limits {
// --- Handover: liveness, acknowledgements, resend -------------------------------
// The active path is declared dead when something was sent on it and nothing
// authenticated came back for clamp(kDeadRttFactor * srtt, floor, ceiling).
// Active-path probes (every kProbeIntervalActive) double as keepalives, so an
// idle session notices a dead path within kProbeIntervalActive + the ceiling.
inline constexpr int kDeadRttFactor = 4;
// The floor leaves room for queueing on a loaded host: a false "dead" costs a
// needless (if seamless) switch.
inline constexpr auto kDeadFloor = std::chrono::milliseconds(200);
// Up to a GEO path's 4 round trips (4 x 600 ms, and its queue on top).
inline constexpr auto kDeadCeiling = std::chrono::milliseconds(3000);
// Before the first probe's answer: a terrestrial path's bound (a satellite
// path is measured by its first probe, long before it could be judged dead).
inline constexpr auto kDeadUnmeasured = std::chrono::milliseconds(600);
// Duplicate on suspicion: data outstanding on the active path and nothing
// back for max(2 srtt + 4 rttvar, kSuspicionFloor) (far below the liveness
// timeout): the unacknowledged tail and new data are also sent, as copies, on
// the best standby path, at most kSuspicionMaxBytes per suspicion; the first
// path to answer decides (the standby: switch; the active: stop copying).
inline constexpr auto kSuspicionFloor = std::chrono::milliseconds(15);
inline constexpr std::size_t kSuspicionMaxBytes = 256u << 10;
// A receiver acknowledges data after this many packets or a delay of a
// share of the path's round trip, clamp(rtt / kAckDelayRttDivisor, kAckDelay,
// kAckDelayCeiling): a few acknowledgements a round are all the sender's pacer
// and resend buffer need, and on a slow radio uplink every acknowledgement is
// airtime a call's frames wait behind (each is ~90 bytes on the wire; one per
// 5 ms was a third of an LTE uplink's 0.2-0.5 Mbit/s). The floor is what an
// ideal link's handover figures were measured with; the ceiling keeps a
// satellite path's sender from waiting (QUIC's max_ack_delay default).
inline constexpr std::uint32_t kAckEveryPackets = 16;
inline constexpr auto kAckDelay = std::chrono::milliseconds(5);
inline constexpr auto kAckDelayCeiling = std::chrono::milliseconds(25);
inline constexpr int kAckDelayRttDivisor = 4;
// Resend buffer per session (defaults: a few hundred ms at a few hundred Mbit/s).
// A peer's switch-flagged acknowledgement starts a switching exchange (every
// unacknowledged packet resent once) at most this often per session, and only
// when the previous exchange's resends have all left: N switch acks cost the
// sender its unacknowledged bytes once, not N times. A switch ack inside the
// interval is still an acknowledgement and still answered (same size).
inline constexpr auto kSwitchExchangeInterval = std::chrono::milliseconds(250);
inline constexpr std::size_t kResendMaxBytes = 4u << 20;
inline constexpr std::size_t kResendMaxPackets = 4096;
// Kept packets age out after clamp(4 srtt, kResendMaxAge, kResendMaxAgeCeiling):
// a satellite path's unacknowledged data is still there to resend.
inline constexpr auto kResendMaxAge = std::chrono::milliseconds(500);
inline constexpr auto kResendMaxAgeCeiling = std::chrono::seconds(4);
}  // namespace tund::limits

namespace tund::limits {
// --- Gray failures (session/path_health.hpp) -----------------------------------
// The active path is judged on its data over a window of 4 baseline round
// trips, at least kGrayWindowFloor (room for a dozen packets of a voice call
// each way) and at most kGrayWindowCeiling, counted in kGrayBucket slices.
inline constexpr auto kGrayBucket = std::chrono::milliseconds(50);
inline constexpr auto kGrayWindowFloor = std::chrono::milliseconds(200);
inline constexpr auto kGrayWindowCeiling = std::chrono::seconds(2);
inline constexpr std::size_t kGrayBuckets = 2000 / 50 + 1;  // the ceiling, and the slice being filled
inline constexpr int kGrayWindowRtts = 4;
// Lossy: more than this share of the window's packets lost at 95% confidence
// (Wilson lower bound, one-sided z), at least this many of them and this
// many packets in all (a voice call alone has ~20 in 200 ms), unless the
// queue stands (over max(kGrayQueueFloor, baseline / 4)) while delivery is
// still at least kGrayCollapse of its best: a full queue overflowing under
// our own traffic is congestion, not the radio.
inline constexpr double kGrayLoss = 0.15;
inline constexpr double kGrayConfidenceZ = 1.645;
inline constexpr std::uint64_t kGrayMinLosses = 4;
inline constexpr std::uint64_t kGrayMinPackets = 12;
inline constexpr auto kGrayQueueFloor = std::chrono::milliseconds(10);
// Collapsed: delivery under this share of the path's recent best while the
// queue delay exceeds the standby's whole round trip (and kGrayQueueFloor).
inline constexpr double kGrayCollapse = 0.5;
// The baseline round trip is the least seen over this long; the best delivery
// rate halves over it.
inline constexpr auto kGrayBaselineWindow = std::chrono::seconds(10);
// A packet is lost when one sent this share of the baseline later is
// acknowledged first (RACK's reordering window, RFC 8985: min_rtt / 4).
inline constexpr int kGrayReorderDivisor = 4;
// A path left as gray is probed every clamp(8 srtt, floor, kProbeIntervalStandby)
// and trusted again after kGrayRecoverProbes answered in a row (at 30% loss,
// twenty in a row happen about once in 1,250 tries); each new verdict within
// kGrayDampen of the last doubles that count (no flapping on a link that
// comes and goes).
inline constexpr auto kGrayProbeFloor = std::chrono::milliseconds(200);
inline constexpr unsigned kGrayRecoverProbes = 20;
inline constexpr auto kGrayDampen = std::chrono::seconds(60);
inline constexpr unsigned kGrayRecoverMax = 160;

// --- the queue in tund and each path's pacer (issue 29) ----------------------
// session/path_rate.hpp: a new path is paced from kRateInitial (bits/s);
// each round (the path's round trip, at least kRateRoundFloor) the rate is
// the best delivery of the last kRateWindowRounds rounds times
// clamp(1 + kRateGain (target - queue delay) / baseline, kRateStepMin, kRateStepMax)
// (kRateStepMax a round on a new path until its first queue),
// never under kRateFloor (a call and the tunnel's own acknowledgements fit)
// or over kRateCeiling.
inline constexpr double kRateInitial = 1e6;
inline constexpr double kRateFloor = 128e3;
inline constexpr double kRateCeiling = 100e9;
inline constexpr double kRateGain = 0.3;
inline constexpr double kRateStepMin = 0.5;
inline constexpr double kRateStepMax = 1.5;
// Until a path's first queue, a round in which the sender used its whole rate
// and the path delivered what was sent the round before doubles the rate
// itself (path_rate.cpp): a TCP slow start inside doubles its window a round
// trip, and a search slower than that (kRateStepMax on the delivery, which
// lags a round: 1.22x a round) held the excess in the flow queue, where
// CoDel ended the slow start; on a GEO path (600 ms rounds) at 1-2 Mbit/s of
// 20, and cubic did not climb back within bench/crowded's 20 s (0.29-0.38
// of the goodput without a tunnel). Until then CoDel does not drop either
// (FlowQueue::set_managing): what waits is the pacer's own lag.
inline constexpr double kRateSearchStep = 2.0;
inline constexpr std::size_t kRateWindowRounds = 3;
inline constexpr auto kRateRoundFloor = std::chrono::milliseconds(10);
// Half the baseline's window (kGrayBaselineWindow): a round drains the path
// before a standing queue could pass for its baseline.
inline constexpr auto kRateBaseRefresh = kGrayBaselineWindow / 2 - std::chrono::seconds(1);
// Rounds with data sent and no round-trip sample before the pacer opens.
inline constexpr int kRateBlindRounds = 4;
// What a data packet costs on the path beyond its inner bytes: the tunnel's
// header, sequence and tag (wire::transport::kDataOverhead) and the outer
// IPv4 and UDP headers.
inline constexpr std::size_t kRatePacketOverhead = 40 + 28;
// A round in which the sender used less than this share of its rate, and
// the path delivered at least this share of it, says nothing of the path's
// capacity: the rate is not lowered under kRateStepMax times what was sent
// (path_rate.cpp). Over 1 / kRateStepMax, so that such a sender stays so.
inline constexpr double kRateBusyShare = 0.8;
// A queue this many targets deep is the sender's to drain whatever its pace
// (path_rate.cpp): a radio's jitter is within a few targets.
inline constexpr double kRateOwnQueueTargets = 4;
// The standing queue a path may keep: clamp(baseline / 4, floor, ceiling),
// and at least kQueueTargetPackets full packet's time at the path's rate.
// The floor leaves a radio's scheduling jitter room; the ceiling keeps a
// call under ITU-T G.114's 150 ms one way on all but satellite links. On a
// slow link one full packet takes longer than the floor (40 ms at 0.3 Mbit/s:
// a cellular uplink, or a trace's delivery opportunities that far apart), so
// any packet at all would read as a queue over the target and the rate would
// only fall (RFC 8289 asks the same of CoDel's target: a packet's time).
inline constexpr auto kQueueTargetFloor = std::chrono::milliseconds(15);
inline constexpr auto kQueueTargetCeiling = std::chrono::milliseconds(60);
inline constexpr double kQueueTargetPackets = 1;
// A round ends after its length only once it holds this many acknowledgements
// with a round trip (or kRateRoundStretch lengths passed): the least one-way
// delay of fewer says more about a radio's jitter than about its queue.
inline constexpr int kRateRoundSamples = 4;
inline constexpr int kRateRoundStretch = 4;
// The pacer's bucket: at most kPaceBurst of the rate leaves back to back.
inline constexpr auto kPaceBurst = std::chrono::milliseconds(2);
// session/flow_queue.hpp (fq_codel, RFC 8290): buckets a session's inner
// flows hash into, the bytes each gets per turn, and what one queue holds.
inline constexpr std::size_t kFlowBuckets = 256;
inline constexpr std::size_t kFlowQuantum = 1514;
inline constexpr std::size_t kFlowQueueMaxPackets = 2048;
inline constexpr std::size_t kFlowQueueMaxBytes = 2u << 20;
// A slot's buffer is at least this big, so one slot serves any later packet.
inline constexpr std::size_t kFlowQueueSlotBytes = 1500;
// Empty this long, a queue gives its buckets and buffers back.
inline constexpr auto kFlowQueueIdleAfter = std::chrono::seconds(2);
// CoDel (RFC 8289): interval clamp(2 baseline, floor, ceiling), target 1/20 of it.
inline constexpr auto kCodelIntervalFloor = std::chrono::milliseconds(100);
inline constexpr auto kCodelIntervalCeiling = std::chrono::seconds(1);
inline constexpr int kCodelTargetDivisor = 20;
inline constexpr std::size_t kCodelTargetPackets = 3;
// What every session's queue on a hub may hold together.
inline constexpr std::size_t kHubQueueTotalBytes = 256u << 20;

}  // namespace tund::limits

namespace tund::limits {
// --- Data path batches ------------------------------------------------------------
// Outgoing datagram slots per event-loop turn: room for ~20 TSO super-packets
// of 64 KiB at a 1420-byte MTU.
inline constexpr std::size_t kTxSlots = 1024;
// A TUN read waits for a flush unless this many slots are free (one 64 KiB
// super-packet at MSS 1024 or more).
inline constexpr std::size_t kTxSlotsPerRead = 64;
// TUN reads per readiness event, so one busy TUN cannot starve the sockets.
inline constexpr std::size_t kTunReadsPerEvent = 128;
// Crypto pool: batches smaller than this run on the event-loop thread alone
// (a wake-up costs more than it saves); workers take this many items at a time.
inline constexpr std::size_t kParallelCryptoMin = 16;
inline constexpr std::size_t kCryptoChunk = 4;
}  // namespace tund::limits

namespace tund::limits {
// --- Control socket (local, but still input) ----------------------------------------
// A request is one line of at most this many bytes; longer ones are refused.
inline constexpr std::size_t kControlMaxRequest = 4096;
// Connections served at once; more are closed at once. Each gets a deadline.
inline constexpr std::size_t kControlMaxConnections = 16;
inline constexpr auto kControlDeadline = std::chrono::seconds(2);
// After an accept error (EMFILE, ENFILE, ENOBUFS) wait this long, not spin.
inline constexpr auto kControlAcceptBackoff = std::chrono::milliseconds(100);
}  // namespace tund::limits

namespace tund::limits {
// --- Sessions: small bounded queues and estimators ------------------------------------
// Control frames waiting to be sent per session (oldest dropped when full).
inline constexpr std::size_t kClientControlQueue = 16;
inline constexpr std::size_t kHubControlQueue = 8;
// The hub's coarse pass over all sessions (key expiry, keepalives, resend ages).
inline constexpr auto kHubHousekeeping = std::chrono::seconds(1);
// Smoothed RTT per path: srtt += (sample - srtt) / kRttEwmaDivisor (RFC 6298's 1/8).
inline constexpr int kRttEwmaDivisor = 8;
// Its mean deviation: rttvar += (|srtt - sample| - rttvar) / kRttVarDivisor (RFC 6298's 1/4).
inline constexpr int kRttVarDivisor = 4;
// Packet buffers the resend buffer keeps for reuse (steady state allocates
// nothing). On a hub they count, with the kept packets and the ring's slots,
// against the hub-wide resend_total_bytes.
inline constexpr std::size_t kResendPoolMax = 256;
// A resend buffer that has kept nothing for this long gives its pooled
// buffers back and shrinks its ring to kResendIdleSlots entries (768 bytes):
// an idle session held its largest burst's buffers and ring for life (408 KiB
// in one, issue 28). Longer than a kept packet lives (kResendMaxAgeCeiling),
// so a flow pausing a few seconds between bursts (a video player fetching
// its next segment) keeps its pool; far shorter than the daemons' heap trim
// (kHeapTrimInterval), so the memory is the kernel's again within a trim of
// the traffic's end.
inline constexpr auto kResendIdleAfter = std::chrono::seconds(5);
inline constexpr std::size_t kResendIdleSlots = 16;
// Per-source handshake budget under load: tokens per second, burst, and how
// many sources are tracked (more are refused until old entries age out).
inline constexpr std::uint32_t kHandshakesPerSourcePerSecond = 20;
inline constexpr std::uint32_t kHandshakeBurstPerSource = 5;
inline constexpr std::size_t kRateLimiterSources = 16384;
}  // namespace tund::limits

namespace tund::limits {
// --- Daemons: sockets, metrics, routing ------------------------------------------------
// Datagrams per recvmmsg/sendmmsg batch, and per UDP GSO message (probed
// kernels allow 64 or 128; 64 works on both).
inline constexpr std::size_t kUdpBatch = 64;
inline constexpr std::size_t kUdpGsoSegments = 64;
// A full socket send buffer: wait this long for room rather than drop a GSO run.
inline constexpr int kUdpSendWaitMs = 5;
// TUN writes per GRO flush (items of up to 64 KiB each).
inline constexpr std::size_t kGroItems = 64;
// Prometheus endpoint: request size, connections at once, per-connection deadline.
inline constexpr std::size_t kMetricsMaxRequest = 4096;
inline constexpr std::size_t kMetricsMaxConnections = 16;
inline constexpr auto kMetricsDeadline = std::chrono::seconds(5);
// The kernel's main routing table (RT_TABLE_MAIN).
inline constexpr std::uint32_t kMainRoutingTable = 254;
// systemd's watchdog (daemon/watchdog.hpp): WATCHDOG=1 every 1/this of the
// interval the unit asks for (WatchdogSec=), as sd_watchdog_enabled(3)
// advises, so one late ping is never a timeout. Never more often than
// kWatchdogMinPing, whatever a unit asks: the pings are not to become the
// loop's work.
inline constexpr int kWatchdogPingFraction = 2;
inline constexpr auto kWatchdogMinPing = std::chrono::milliseconds(10);

// --- etcd (daemon/etcd.hpp), for a hub cluster ---------------------------------
// etcd is trusted with who owns what, not with the hub's memory or stack:
// every answer is bounded in time, size and nesting, whoever sends it.
// Every etcd request (connect, send, answer) within this; a watch connects
// and gets its answer's header within it.
inline constexpr auto kEtcdTimeout = std::chrono::milliseconds(1000);
// Operations in one transaction (etcd's --max-txn-ops default).
inline constexpr std::size_t kEtcdTxnOps = 128;
// The largest answer to a request: the range of every client/ key is the
// largest we ask for, ~250 bytes of JSON a client, so 65,534 clients (the
// IPv6-alone pool) take ~16 MiB; twice that. Larger is refused unread.
inline constexpr std::size_t kEtcdMaxAnswer = 32u << 20;
// A watch line (one event batch) beyond this ends the watch: a batch that
// large is not ours (etcd splits batches at ~1.5 MiB of its own, and our keys
// and values are under 200 bytes).
inline constexpr std::size_t kEtcdMaxLine = 1u << 20;
// JSON nested deeper than this is refused before it is parsed: etcd's deepest
// answer (a txn's response_range: object, responses, [], response_range, kvs,
// [], kv) is 7 levels; anything that walks JSON recursively (dump()) would
// overflow the stack on hundreds of thousands.
inline constexpr std::size_t kEtcdMaxDepth = 16;
// Raw untrusted etcd text quoted in a log line: at most this many bytes.
inline constexpr std::size_t kEtcdLogExcerpt = 200;
// A watch asks etcd for progress notifications (progress_notify); silent for
// this long, it is re-established from the last revision it saw (no event
// lost), so a connection that died without a FIN or an etcd that stopped
// sending is noticed. etcd notifies every 10 minutes by default: run it with
// --experimental-watch-progress-notify-interval under this (10s) and an idle
// watch is never re-established; with the default it costs one request a period.
inline constexpr auto kEtcdWatchIdle = std::chrono::seconds(30);
// [cluster] etcd_password_file: at most this many bytes (etcd keeps a bcrypt
// hash, which uses 72 of them; a longer file is not a password).
inline constexpr std::size_t kEtcdPasswordMax = 1024;

// --- hub cluster (hub/cluster_agent.hpp) -------------------------------------
// A member's ownership claims live on an etcd lease of this TTL, kept alive
// three times a TTL; a member whose keepalives all failed for a TTL stops
// serving, so no two members deliver for one VIP longer than this.
inline constexpr auto kClusterLeaseTtl = std::chrono::seconds(2);
inline constexpr auto kClusterKeepalive = std::chrono::milliseconds(666);
// A lost watch or lease is tried again this often.
inline constexpr auto kClusterRetry = std::chrono::milliseconds(500);
// The kernel routing table a member puts its VIP routes in for BIRD, and the
// route protocol number that marks them as tund's (not 2 kernel, not 12 bird).
inline constexpr std::uint32_t kClusterRouteTable = 29814;
inline constexpr std::uint8_t kClusterRouteProtocol = 77;
// A client of a cluster moves to its next member after this much silence
// (a single hub waits kHubSilence: it has nowhere else to go).
inline constexpr std::size_t kMaxClusterMembers = 64;
inline constexpr auto kMemberSilence = std::chrono::milliseconds(1000);
// A drain asks its clients to move this often, and gives up waiting after the deadline.
inline constexpr auto kDrainAskInterval = std::chrono::milliseconds(200);
inline constexpr auto kDrainDeadline = std::chrono::seconds(10);

// --- DNS (tund/dns_config, daemon/link_dns, daemon/dns_message, daemon/dns_lookup) ---
// [[hub]] dns and dns_domains: at most this many each.
inline constexpr std::size_t kMaxDnsServers = 8;
inline constexpr std::size_t kMaxDnsDomains = 32;
// systemd-resolved's calls and a resolvconf run get this long; at a stop,
// removing them gets kDnsRevertTimeout (the daemon is on its way out).
inline constexpr auto kDnsApplyTimeout = std::chrono::seconds(5);
inline constexpr auto kDnsRevertTimeout = std::chrono::seconds(2);
// The daemon's own lookups of hub names (the stub, daemon/dns_lookup.hpp):
// queries advertise this UDP payload size (EDNS0; 1232, DNS flag day 2020's
// size that no path fragments); a longer answer is refused unread.
inline constexpr std::size_t kDnsMaxMessage = 1232;
// Answer records read per message (a hub's A or AAAA set and its CNAMEs);
// more and the whole message is refused.
inline constexpr std::size_t kDnsMaxRecords = 64;
// Compression pointers followed in one name, and CNAMEs followed from the
// name asked; a name is at most 255 bytes on the wire (RFC 1035 3.1).
inline constexpr std::size_t kDnsMaxPointers = 16;
inline constexpr std::size_t kDnsMaxCnameHops = 8;
inline constexpr std::size_t kDnsMaxName = 255;
// Servers asked per lookup, in resolv.conf's order (glibc's MAXNS), each
// given this long to answer both questions (A and AAAA).
inline constexpr std::size_t kDnsMaxUpstreams = 3;
inline constexpr auto kDnsTimeout = std::chrono::seconds(2);
// resolv.conf and /etc/hosts are read up to this many bytes.
inline constexpr std::size_t kResolverFileMax = 64u << 10;

// Upper bounds (seconds) of the switching-exchange duration histogram.
inline constexpr double kHandoverHistogramBuckets[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0};
inline constexpr std::size_t kHandoverHistogramSize = std::size(kHandoverHistogramBuckets);

// The client engine's event queue (engine/client_engine.hpp): a caller that
// does not drain it loses the oldest events, counted, rather than memory.
inline constexpr std::size_t kMaxEngineEvents = 256;
// The C API (include/tund/tund.h): uplinks one client may be told of, and
// inner packets held for the caller to read (tund_poll_inner) before the
// oldest is dropped and counted.
inline constexpr std::size_t kMaxEmbedUplinks = 32;
inline constexpr std::size_t kMaxEmbedInnerQueue = 256;
}  // namespace tund::limits

// Per-path rates, bonding and the receiver's reorder buffer (issues 29, 30).
#include "tund/limits_bond.hpp"
