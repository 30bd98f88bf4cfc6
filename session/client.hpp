// The client side of the protocol, sans I/O: one ClientSession per hub, all
// sharing one index table so a datagram on any uplink finds its session by
// receiver index. The client initiates every handshake (first, rekey, retry).
//
// Session states:
//
//   idle ──start()──▶ handshaking ──response──▶ established
//                        ▲   │ no response for kRekeyTimeout: fresh initiation
//                        │   ▼
//                        └── all keys expired / nothing heard for kNewHandshakeTime
//   established ──key older than kRekeyAfterTime──▶ established + handshake pending
//
// Timers (all derived from timestamps, reported by next_deadline()):
//   retransmit  a pending initiation is resent (new ephemeral, new index) after
//               kRekeyTimeout plus up to kRekeyTimeoutJitterMax of jitter
//   rekey       current keypair reached kRekeyAfterTime or kRekeyAfterMessages
//   unanswered  data sent and nothing authenticated received for kNewHandshakeTime
//   keepalive   data received and nothing sent for kKeepaliveTimeout (passive),
//               or nothing sent for `persistent_keepalive` (when non-zero)
//   expiry      keypairs older than kRejectAfterTime are discarded
//   probes      every path (uplink) gets a probe under the session keys every
//               kProbeIntervalActive (active) or kProbeIntervalStandby
//               (standby), at the IdlePolicy's pace while idle; replies give
//               its RTT and variation, missing replies its loss
//   suspicion   the active path quiet with data outstanding for
//               suspicion_timeout(): copies on the best standby until one
//               path answers (client_paths.cpp)
//   liveness    quiet for dead_timeout(): the path is dead (the backstop)
//
// Paths: the daemon adds one per uplink and says which is active. Data,
// keepalives and handshakes go on the active path; each path's probes on that
// path; a reply to the hub's path challenge on the path it came in on.
#pragma once

#include <memory>
#include <optional>
#include <vector>

#include "crypto/cookie.hpp"
#include "crypto/handshake.hpp"
#include "session/bond_scheduler.hpp"
#include "session/control.hpp"
#include "session/data_stream.hpp"
#include "session/index_table.hpp"
#include "session/paced_sender.hpp"
#include "session/path_health.hpp"
#include "session/pmtu.hpp"
#include "session/redundancy.hpp"
#include "session/resend_buffer.hpp"
#include "session/route_table.hpp"
#include "session/secure_channel.hpp"
#include "session/uplink_policy.hpp"

namespace tund::session {

using PathId = std::uint32_t;

struct ClientConfig {
  crypto::StaticKeypair identity;
  // Nanoseconds since the Unix epoch at Time{} (the daemon computes it once):
  // initiation timestamps are wall_offset + now, forced strictly increasing.
  WallTime wall_offset = 0;
  ResendLimits resend;
  IdlePolicy idle;
  RedundancyPolicy redundant;  // inner packets always sent on two paths
  // Pace the active path to what it delivers and let new data wait per flow
  // in tund (paced_sender.hpp; [performance] pacing); false: send at once.
  bool pacing = false;
  // What the initiation offers (wire::initiation_payload::kCap*): by default
  // AES-256-GCM where this host has hardware AES.
  std::uint32_t capabilities = crypto::local_capabilities();
};

struct ClientTransmit {
  std::size_t len = 0;
  PathId path = 0;
  bool fragment = false;  // larger than the path carries: outer fragments (SealResult::fragment)
};

// What probes measured on one path.
struct PathStats {
  std::optional<Duration> rtt;   // smoothed (EWMA 1/8)
  std::optional<Duration> rttvar;  // its mean deviation (RFC 6298: 1/4)
  std::optional<double> loss;    // over the last kLossWindow probes
  std::uint64_t probes_sent = 0;
  std::uint64_t replies = 0;
  Time last_received = Time::min();
  // Sent on and heard nothing back for the liveness timeout; cleared when a
  // probe on it is answered again.
  bool dead = false;
  Duration silent_for{0};  // when found dead: how long it had not answered
  // Left as a gray failure (session/path_health.hpp: "lossy", "collapsed"):
  // unhealthy until enough probes in a row are answered again.
  const char* gray = nullptr;
  std::uint64_t gray_verdicts = 0;
  // Data sealed for this path (new data and resends), for each uplink's
  // share of the traffic.
  std::uint64_t data_packets = 0, data_bytes = 0;
};

// What the last handovers cost.
struct HandoverStats {
  std::uint64_t switches = 0;       // switching exchanges completed
  Duration last_duration{0};        // switch sent -> the hub's switch reply
  std::uint64_t resent_packets = 0;
  // Duplicate on suspicion (limits::kSuspicionFloor).
  std::uint64_t suspicions = 0;          // times the active path went quiet with data outstanding
  std::uint64_t suspicion_switches = 0;  // of those, the standby answered first
  std::uint64_t copies = 0;              // data copies sent on a standby
  std::uint64_t copied_bytes = 0;
  std::uint64_t gray_verdicts = 0;       // active paths judged failing gray (lossy, collapsed)
  // Redundancy by policy (session/redundancy.hpp): copies of matching packets.
  std::uint64_t redundant_copies = 0;
  std::uint64_t redundant_bytes = 0;
};

class Client;

class ClientSession {
 public:
  enum class State : std::uint8_t { kIdle, kHandshaking, kEstablished };

  ClientSession(Client& owner, std::size_t slot, const PublicKey& hub_key);
  ~ClientSession();

  void start(Time now);
  void stop();

  // Hot path: seals the inner packet at buf[16, 16+inner_len) in place.
  // With `defer`, the AEAD is left to defer->run() (a batch seals in parallel).
  // New data waits in the session's flow queue while the active path's pacer
  // holds it back (kQueued; paced_sender.hpp); `released`: a packet
  // release_paced() gave out, whose turn it is.
  SealResult seal(MutableBytes buf, std::size_t inner_len, Time now, crypto::SealJob* defer = nullptr,
                  bool released = false);
  // The next packet of the flow queue whose turn it is, copied to `inner_out`
  // (its length), or nothing; seal() it with `released`.
  std::optional<std::size_t> release_paced(MutableBytes inner_out, Time now);
  // Inner packets of flows the hub spread over our uplinks that are due now,
  // in order (receive() held them; data_stream.hpp): after each receive()
  // and at next_deadline().
  template <class Deliver>
  void release_ordered(Time now, Deliver&& deliver) {
    stream_.release_ordered(now, deliver);
  }
  const DataStream& stream() const { return stream_; }
  // The paths' pacers and the session's queue (status, metrics).
  const PacedSender& pacer() const { return pacer_; }
  // Bond (issue 30; the engine's policy decides which paths): the paths that
  // carry data together with the active one, each primary or secondary
  // (bond_scheduler.hpp). With fewer than two, every packet goes on the
  // active path, as in failover. A path that leaves sends again, on the
  // active path, what it carried and is not acknowledged.
  struct BondMember {
    PathId path = 0;
    bool secondary = false;
  };
  void set_bond(const std::vector<BondMember>& members, Time now);
  bool bonding() const { return bonded_.size() > 1; }
  bool bonded_path(PathId id) const;
  const std::vector<BondMember>& bonded() const { return bonded_; }
  const BondScheduler& bond() const { return bond_; }
  // After seal() answered kSend with `copy`: seals a copy of that packet (the
  // same sequence, as kDataCopy: delivered once, never moving the hub's
  // return path) into `out`, where the caller put the inner packet at
  // out[16, 16+inner_len), for the best standby path.
  std::optional<ClientTransmit> seal_redundant_copy(MutableBytes out, std::size_t inner_len, Time now,
                                                    crypto::SealJob* defer = nullptr);
  // The next datagram this session wants sent (handshakes, staged packets,
  // control frames), written to `out`; nothing when there is none.
  std::optional<ClientTransmit> poll_transmit(MutableBytes out, Time now);

  Time next_deadline() const;
  void on_timer(Time now);

  // Sends a keepalive whenever nothing was sent for `interval` (0 = off).
  void set_persistent_keepalive(Duration interval) { persistent_keepalive_ = interval; }

  // Paths (one per uplink). Traffic goes on the active one; switching queues
  // a keepalive on the new path at once so the hub follows even when the
  // client has no data to send.
  void add_path(PathId path, Time now);
  void remove_path(PathId path);
  void set_active_path(PathId path, Time now);
  PathId active_path() const { return active_path_; }
  bool has_path(PathId path) const;
  std::vector<PathId> path_ids() const;
  const PathStats* path_stats(PathId path) const;
  // Counts changes to what the uplink policy decides on (measurements, dead
  // or alive, paths added or removed): run it again when this moved.
  std::uint64_t path_epoch() const { return path_epoch_; }
  // Liveness timeout of the active path: clamp(kDeadRttFactor * rtt,
  // kDeadFloor, kDeadCeiling) = clamp(4 rtt, 200 ms, 3 s), rtt the larger of
  // the probes' and the data's (active_rtt).
  Duration dead_timeout() const;
  std::optional<Duration> active_rtt() const;
  // Quiet for this long with data outstanding: copies go on the best standby.
  Duration suspicion_timeout() const;
  // The standby copies go to during a suspicion (0: none).
  PathId copying_to() const { return dup_path_; }
  const HandoverStats& handover_stats() const { return handover_; }
  // What the data stream says of the active path (status, metrics).
  PathHealth::Summary active_health(Time now) const { return health_.summary(now); }
  // Answerable packets sent and nothing authenticated heard back, on any
  // path, for silence(): limits::kHubSilence (or set_silence), longer when a
  // path's round trip asks for it.
  bool hub_silent(Time now) const;
  Duration silence() const;
  // How long silence lasts before it counts (a cluster's client moves on sooner).
  void set_silence(Duration d) { silence_ = d; }
  // Authenticated kMove frames from the hub (a draining cluster member): the
  // daemon moves the session to the next member when this grows.
  std::uint64_t moves_asked() const { return moves_asked_; }
  // Handshakes again at once (the daemon now sends to another cluster
  // member): the data stream and its session id carry on.
  void rehandshake(Time now);
  // No inner packet either way for IdlePolicy::after: probing slows down.
  bool idle(Time now) const;
  // Idle periods that ended with traffic (status, tests).
  std::uint64_t idle_periods() const { return idle_periods_; }
  // A metered path (LTE) is not probed while idle unless the active one is in doubt.
  void set_path_metered(PathId path, bool metered);
  // Path MTU (pmtu.hpp, client_pmtu.cpp), in UDP payload bytes: the search's
  // floor and ceiling for a path (the daemon knows its family and interface).
  void set_path_mtu_limits(PathId path, std::size_t base, std::size_t ceiling, Time now);
  const PmtuSearch* path_mtu(PathId path) const;
  // The largest inner packet the active path carries (0: no active path).
  std::size_t inner_mtu() const;
  // What TCP connections are told to send (the MSS clamp): the least of that
  // and what every other path is known to carry, so a handover never leaves a
  // connection with segments too big for its new path (each would be dropped
  // and answered with ICMP: a retransmission).
  std::size_t clamp_mtu() const;
  std::size_t resend_bytes() const { return stream_.resend_buffer().bytes(); }
  const ResendBuffer& resend_buffer() const { return stream_.resend_buffer(); }

  State state() const { return state_; }
  bool established() const { return state_ == State::kEstablished; }
  const crypto::VipAssignment& vip() const { return vip_; }
  // What the client routes to this hub from its assignment (see vip_check.hpp).
  const std::optional<IpPrefix>& assigned_route() const { return assigned_route_; }
  const std::optional<IpPrefix>& assigned_route6() const { return assigned_route6_; }
  // Random per data stream, kept across rekeys (wire::initiation_payload).
  std::uint64_t session_id() const { return stream_.id(); }
  const PublicKey& hub_key() const { return hub_key_; }
  std::optional<Time> last_handshake() const { return last_handshake_; }
  const SessionStats& stats() const { return channel_.stats(); }
  // The transport suite of the newest keypair (ChaCha20-Poly1305 before any).
  crypto::Suite suite() const { return channel_.suite(); }
  const SecureChannel& channel() const { return channel_; }
  // `via`: the path it goes on (0: the active one; another as kDataBond).
  std::optional<ClientTransmit> seal_data(MutableBytes out, std::size_t inner_len, std::uint64_t seq, Time now,
                                         crypto::SealJob* defer = nullptr, PathId via = 0);
  // Test hook: reach the current keypair to jump its counter.
  crypto::Keypair* current_keypair_for_test() { return channel_.find(channel_.current() ? channel_.current()->local_index() : 0); }
  std::size_t slot() const { return slot_; }

 private:
  friend class Client;
  ReceiveResult on_response(Bytes msg, PathId path, Time now);
  ReceiveResult on_cookie(Bytes msg, Time now);
  ReceiveResult on_transport(crypto::Keypair& kp, MutableBytes msg, PathId path, Time now,
                             const crypto::OpenJob* opened);

  void begin_handshake(Time now);
  void cancel_handshake();
  // A new data stream of ours: a new session id, sequences from 1.
  void reset_stream();
  struct Path {
    PathId id = 0;
    Time next_probe{};
    Time last_probe = Time::min();
    PathStats stats;
    std::array<bool, limits::kLossWindow> outcomes{};  // ring: true = answered
    std::size_t outcome_count = 0, outcome_next = 0;
    bool metered = false;
    PmtuSearch pmtu;
    // Gray recovery: probes answered in a row, how many it takes this time,
    // and when the last verdict was (for dampening).
    unsigned gray_streak = 0;
    unsigned gray_recover = limits::kGrayRecoverProbes;
    Time gray_at = Time::min();
  };
  struct Outstanding {
    std::uint32_t probe_id;
    PathId path;
    Time sent;
    std::array<std::uint8_t, 8> challenge;
    std::size_t mtu_size = 0;  // a path MTU probe of this datagram size (0: an RTT probe)
  };
  struct QueuedControl {
    ControlFrame frame;
    PathId path;
  };
  Path* find_path(PathId id);
  void record_outcome(Path& p, bool answered);
  void queue_control(const ControlFrame& f, PathId path);
  void queue_probes(Time now);
  void send_probe(Path& p, Time now, std::size_t mtu_size = 0);
  // Path MTU rounds, and telling the hub what the active path carries.
  void run_pmtu(Time now);
  Time pmtu_deadline() const;
  void on_authenticated_receive();
  // Something left on the active path: `data`, and whether the hub answers it.
  void on_sent(Time now, bool data, bool answered);
  // Resends or staged data wait for the pacer's room (poll_transmit); copies
  // on suspicion do not wait.
  bool pacer_holds_back() const;
  // An inner packet either way: the end of an idle period, if one ran.
  void note_inner(Time now);
  // What an acknowledgement says of each path the packets it covered took
  // (client_bond.cpp): each path's pacer, the active path's health.
  void learn_from_ack(const ResendBuffer::AckOutcome& outcome, std::uint32_t received_us, Time now);
  // A packet whose pinned path's pacer has no room goes on the path's
  // partner when that one has (client_bond.cpp): true, and `via` is it.
  bool spill(const BondScheduler::Placement& placed, PathId& via, std::size_t len, Time now, bool released);
  // A call (copied on two paths) goes on whichever of them has room first:
  // true, and `via` is the other one (client_bond.cpp).
  bool call_to_room(const BondScheduler::Placement& placed, PathId& via, std::size_t len, Time now, bool released);
  // The scheduler's view of the bonded paths, from their pacers.
  void refresh_bond(Time now);
  // Each bonded path's partner, as the scheduler offers it now, to its pacer.
  void share_partners(Time now);
  // Duplicate on suspicion (client_paths.cpp).
  Time suspicion_due() const;
  void begin_suspicion(Time now);
  void end_suspicion();
  // An authenticated packet came in on `path`: it may settle a suspicion.
  void on_path_answered(PathId path, Time now);
  // The active path's data says it fails gray and a standby could take over:
  // mark it, and the policy leaves it (client_paths.cpp).
  void judge_gray(Time now);
  // A probe on a gray path was answered (or lost): trust it again in time.
  void on_gray_probe(Path& p, bool answered);
  Duration probe_interval(const Path& p) const;
  // How long a probe on `p` may take before it counts as lost.
  Duration probe_timeout(const Path& p) const;
  // When p's next probe is due: its schedule while traffic flows, the idle
  // pace otherwise (see IdlePolicy).
  Time probe_due(const Path& p, Time now) const;

  Client& owner_;
  std::size_t slot_;
  PublicKey hub_key_;
  crypto::CookieMaker cookies_;
  SecureChannel channel_;
  State state_ = State::kIdle;
  PathId active_path_ = 0;
  std::vector<Path> paths_;
  std::vector<Outstanding> outstanding_;
  std::uint64_t path_epoch_ = 0;
  PathId dup_path_ = 0;          // copies go here while the active path is suspected
  std::uint64_t copy_seq_ = 0;   // the packet seal() just sent, when the policy wants a copy (0: none)
  PathId copy_to_ = 0;           // where that copy goes (copy_path())
  // The standby copies go to: alive, measured, the lowest RTT (nullptr:
  // none); copy_path() of the active path.
  Path* best_standby();
  // Where a copy of a packet sent on `via` goes (0: nowhere): a healthy path
  // other than `via`, the lowest round trip first; for a bond's own copies
  // (a call: BondScheduler::copies), a bonded one only, so that a backup or
  // a metered uplink outside the bond carries none.
  PathId copy_path(PathId via, bool bonded_only);
  Time suspected_at_ = kNever;
  std::size_t dup_bytes_ = 0;    // copied in this suspicion (<= kSuspicionMaxBytes)
  Time awaiting_since_ = kNever;  // first send on the active path since it last answered
  bool liveness_probed_ = false;  // the active path was asked once more while awaiting

  // Reliability across handovers: the data stream this session id names.
  DataStream stream_;
  PathHealth health_;  // of the active path, since it became active
  PacedSender pacer_;  // a pacer per path, one flow queue
  HandoverStats handover_;
  // Bond: the paths that carry data (the active one among them) and which
  // flow goes on which (client_bond.cpp).
  std::vector<BondMember> bonded_;
  BondScheduler bond_;
  std::vector<BondPath> bond_view_;  // scratch for refresh_bond, kept to allocate once
  Time bond_refreshed_ = Time::min();
  // When an uplink last left the bond: acknowledgements say so for a while
  // (bond_ack_flags(), wire::control::kAckFlagBondLeft).
  Time bond_left_at_ = Time::min();
  std::uint32_t bond_ack_flags(Time now) const;

  // Pending handshake.
  std::optional<crypto::noise::IkInitiator> initiator_;
  std::uint32_t pending_index_ = 0;
  bool initiation_queued_ = false;
  std::array<std::uint8_t, wire::initiation::kSize> initiation_{};
  Time retransmit_at_ = kNever;
  Time initiation_sent_ = kNever;  // the last initiation left (its answer is a round trip)
  crypto::Timestamp last_timestamp_{};

  crypto::VipAssignment vip_;
  std::optional<IpPrefix> assigned_route_;
  std::optional<IpPrefix> assigned_route6_;
  std::uint8_t min_vip_prefix_ = limits::kDefaultMinVipPrefix;
  std::optional<Time> last_handshake_;

  // Timer state (see the header comment).
  Time last_sent_ = Time::min();
  Time unanswered_since_ = kNever;
  Time keepalive_due_ = kNever;
  Time earliest_expiry_ = kNever;
  Duration persistent_keepalive_{0};

  // Control frames waiting to be sent (small and bounded: oldest dropped).
  std::vector<QueuedControl> control_queue_;
  std::uint32_t next_probe_id_ = 1;
  std::size_t announced_mtu_ = 0;  // the active path's MTU as last told to the hub (kPathMtu)

  // Hub silence (see limits::kHubSilence): the first answerable send since
  // anything authenticated was last heard.
  Time expecting_since_ = kNever;
  Duration silence_ = limits::kHubSilence;
  bool silent_ = false;
  std::uint64_t moves_asked_ = 0;

  // Idle (see IdlePolicy): the last inner packet either way.
  Time last_inner_{};
  std::uint64_t idle_periods_ = 0;
};

class Client {
 public:
  Client(ClientConfig config, Rng& rng);
  ~Client();

  // Adds a session to a hub; returns its slot (stable for the Client's life).
  // `min_vip_prefix`: the widest VIP subnet (prefix length) routed to it.
  std::size_t add_hub(const PublicKey& hub_key, std::uint8_t min_vip_prefix = limits::kDefaultMinVipPrefix);
  ClientSession& session(std::size_t slot) { return *sessions_[slot]; }
  // Every session's spread flows' packets due now, in order (ClientSession::release_ordered).
  template <class Deliver>
  void release_ordered(Time now, Deliver&& deliver) {
    for (auto& s : sessions_) s->release_ordered(now, deliver);
  }
  const ClientSession& session(std::size_t slot) const { return *sessions_[slot]; }
  std::size_t session_count() const { return sessions_.size(); }

  // Opens a datagram received on `path` in place. Inner packets are delivered
  // at datagram[offset, offset+len).
  // `opened`: this datagram's decryption done ahead (see crypto::OpenJob).
  ReceiveResult receive(MutableBytes datagram, PathId path, Time now, const crypto::OpenJob* opened = nullptr);
  // The keypair a transport datagram would be opened with, when it is worth
  // decrypting ahead; nothing for anything else (handshakes, unknown indices).
  crypto::Keypair* keypair_for(Bytes datagram, Time now);

  Time next_deadline() const;
  void on_timer(Time now);

  const DropCounters& drops() const { return drops_; }
  // A reload's new [uplinks] idle_* values, for every session at once.
  void set_idle_policy(const IdlePolicy& p) { config_.idle = p; }
  void set_redundancy(RedundancyPolicy p) { config_.redundant = std::move(p); }
  // The sum of the sessions' path epochs (ClientSession::path_epoch).
  std::uint64_t path_epoch() const;

  // Cryptokey routing (route_table.hpp): each hub's configured routes, and
  // the subnets of the client's own uplinks, which no hub's assignment may
  // overlap. The daemon keeps both current; assignments are added here.
  void set_routes(std::size_t slot, const std::vector<IpPrefix>& prefixes);
  void set_local_prefixes(std::vector<IpPrefix> prefixes) { local_prefixes_ = std::move(prefixes); }
  const RouteTable& routes() const { return routes_; }

 private:
  friend class ClientSession;
  ReceiveResult dropped(DropReason r) {
    drops_.count(r);
    return ReceiveResult::drop(r);
  }

  ClientConfig config_;
  Rng& rng_;
  IndexTable<ClientSession> indices_;
  crypto::CookieChecker own_macs_;  // checks mac1 on responses sent to us
  std::vector<std::unique_ptr<ClientSession>> sessions_;
  RouteTable routes_;
  std::vector<IpPrefix> local_prefixes_;
  DropCounters drops_;
};

}  // namespace tund::session
