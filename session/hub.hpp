// The hub side of the protocol, sans I/O: answers initiations from known
// clients, keeps one session per client (found by receiver index, so the
// client's address may change under it), checks that every inner packet comes
// from the session's VIP, and seals packets toward a VIP.
//
// Defence order for an initiation (cheapest first; nothing unauthenticated is
// ever answered except by a cookie reply smaller than the initiation):
//   exact size -> mac1 -> (under load: mac2 else cookie reply; per-source rate)
//   -> Noise (3 DH) -> known client -> timestamp newer -> not a flood -> respond
//
// The hub never initiates. Its timers are coarse (keepalive, expiry), so one
// housekeeping pass over all sessions runs at most every kHousekeeping.
//
// Return path (QUIC-style migration): the path moves only to the source of an
// authenticated packet whose counter is the highest seen, and never on a probe
// (clients probe standby uplinks). The new path is then challenged under the
// session keys; until the client answers from it, the hub sends there at most
// kUnvalidatedAmplification times what it received from it (the rest waits in
// the staging queue), and without an answer within kPathValidationTimeout it
// returns to the last validated path. After a planned switch (the client's
// old path still carries: kAckFlagPlanned) data goes on to the last validated
// path until the new one answers, so nothing waits for the round trip.
//
// Other addresses are held to the same rule (RFC 9000 8 and 9.3): redundant
// copies go only to a standby address that answered a challenge from there,
// and until then it is sent at most kUnvalidatedAmplification times what came
// from it; a handshake from a new address leaves data on the validated one
// until the first packet under the new keypair comes from the new address
// (the response went there: the client has it, so the address is validated).
// Path validation lives in hub_paths.cpp.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <unordered_map>
#include <vector>

#include "crypto/cookie.hpp"
#include "crypto/handshake.hpp"
#include "session/bond_scheduler.hpp"
#include "session/control.hpp"
#include "session/data_stream.hpp"
#include "session/flow_table.hpp"
#include "session/index_table.hpp"
#include "session/ip_packet.hpp"
#include "session/paced_sender.hpp"
#include "session/rate_limiter.hpp"
#include "session/redundancy.hpp"
#include "session/resend_buffer.hpp"
#include "session/secure_channel.hpp"

namespace tund::session {

struct HubConfig {
  crypto::StaticKeypair identity;
  std::uint32_t under_load_initiations_per_second = limits::kUnderLoadInitiationsPerSecond;
  ResendLimits resend;                          // per session
  bool allow_aes = true;  // choose AES-256-GCM when the client offers it and this host has hardware AES
  // All sessions together: the resend buffers' memory (kept packets, pooled
  // buffers, ring slots; past it packets are sent but not kept) and staged
  // packets' (past it they are dropped: kStagingTotalFull).
  std::size_t resend_total_bytes = 256u << 20;
  std::size_t staged_total_bytes = limits::kHubStagedTotalBytes;
  // Inner packets toward clients that always go on two of the client's paths
  // (the hub operator's policy, [handover] redundant): the return path and
  // the standby address the client last probed from.
  RedundancyPolicy redundant;
  // Pace each client's path to what it delivers and let new data wait per
  // flow in tund (paced_sender.hpp; [performance] pacing); false: send at once.
  bool pacing = false;
};

struct HubTransmit {
  std::size_t len = 0;
  Endpoint to;
  bool fragment = false;  // larger than the path carries: outer fragments (SealResult::fragment)
};

using ClientId = std::uint32_t;

class Hub;

// One client's live session: keys, current return path, counters.
class HubSession {
 public:
  HubSession(Hub& hub, ClientId client);
  ~HubSession();

  ClientId client() const { return client_; }
  const Endpoint& endpoint() const { return endpoint_; }
  bool path_validated() const { return validated_; }
  // Where data goes now: the return path, or the last validated one while a
  // planned switch's new path is being validated.
  const Endpoint& data_endpoint() const { return !validated_ && via_previous_ ? previous_ : endpoint_; }
  std::uint64_t path_changes() const { return path_changes_; }
  // The largest datagram the client's active path carries, as the client
  // found and told (kPathMtu; 0: not told, no limit); inner packets beyond it
  // are answered with ICMP toward their sender and SYNs clamped to it.
  std::size_t path_mtu() const { return path_mtu_; }
  std::size_t inner_mtu() const { return path_mtu_ > wire::transport::kDataOverhead ? path_mtu_ - wire::transport::kDataOverhead : 0; }
  const ResendBuffer& resend_buffer() const { return stream_.resend_buffer(); }
  // Heap bytes its resend buffer, staged packets, flow queue and reorder
  // buffer hold (in the hub's totals).
  std::size_t buffered_bytes() const {
    return stream_.resend_buffer().memory() + channel_.staged_memory() + pacer_.queue().memory() +
           stream_.reorder().memory();
  }
  const DataStream& stream() const { return stream_; }
  // The pacer and queue toward the client (status, metrics).
  const PacedSender& pacer() const { return pacer_; }
  std::uint64_t switches() const { return switches_; }
  const SessionStats& stats() const { return channel_.stats(); }
  // The transport suite of the newest keypair (ChaCha20-Poly1305 before any).
  crypto::Suite suite() const { return channel_.suite(); }
  std::optional<Time> last_handshake() const { return last_handshake_; }
  Time last_received() const { return last_received_; }  // anything authenticated
  // When the first data sent since the client was last heard left (kNever:
  // none). A live client acknowledges data within its ack delay, so data
  // unanswered for long says the client is gone, where mere quiet does not
  // (an idle client is heard only every limits::kIdleKeepalive).
  Time unanswered_since() const { return unanswered_since_; }
  // Redundancy by policy: copies sent to the client's standby address.
  std::uint64_t redundant_bytes() const { return redundant_bytes_; }
  // The validated standby address (where copies go while it is fresh).
  const Endpoint& standby() const { return standby_; }
  // The client bonds (it sent data as kDataBond from another uplink): each
  // flow's return packets go to the endpoint the flow last came from, once
  // that endpoint is validated (hub_paths.cpp).
  bool bonding() const { return bond_flows_ != nullptr; }
  // Flows the hub moved to another endpoint itself (move()).
  std::uint64_t bond_moves() const { return bond_moves_; }
  // Packets of calls also sent, as a copy, to the other bonded endpoint.
  std::uint64_t bond_copies() const { return bond_copies_; }
  // Its two bonded endpoints are alike enough to spread a flow over (status).
  bool bonded_alike() const { return bonded_alike_; }
  // The endpoints the pacer knows, by its path id (index + 1; status).
  const std::array<Endpoint, limits::kPacedPaths>& paced_endpoints() const { return paced_eps_; }
  // Data sealed per endpoint slot (parallel to paced_endpoints()).
  const std::array<std::uint64_t, limits::kPacedPaths>& endpoint_bytes() const { return endpoint_bytes_; }

 private:
  friend class Hub;
  Hub& hub_;
  ClientId client_;
  SecureChannel channel_;
  Endpoint endpoint_;
  std::optional<Time> last_handshake_;
  Time last_received_ = Time::min();
  Time last_sent_ = Time::min();
  Time unanswered_since_ = kNever;
  Time keepalive_due_ = kNever;

  // The client's round trip as the hub sees it: the handshake (response to
  // the first packet under its keys) and each answered challenge. Path
  // validation and how long sent data is kept scale with it.
  std::optional<Duration> srtt_;
  Time challenged_at_ = kNever;
  void on_rtt_sample(Duration sample, Duration resend_floor);
  Duration challenge_interval() const;
  Duration validation_timeout() const;

  // Return-path validation.
  bool validated_ = true;
  // Moved onto the validated standby: sent to at once, its challenge still
  // owed; unanswered by the deadline, back to previous_ (Hub::migrate).
  bool confirming_ = false;
  // The return path is settled: validated, nothing left to confirm or retry.
  void settle_path() {
    validated_ = true;
    confirming_ = false;
    validation_deadline_ = challenge_next_ = kNever;
  }
  Endpoint previous_;  // last validated endpoint, to fall back to
  bool via_previous_ = false;  // planned switch: data to previous_ until validated
  Probe challenge_;
  Time challenge_next_ = kNever;
  Time validation_deadline_ = kNever;
  std::uint64_t unvalidated_rx_ = 0;
  std::uint64_t unvalidated_tx_ = 0;
  std::uint64_t path_changes_ = 0;
  std::size_t path_mtu_ = 0;
  // The client's other address, heard in an authenticated probe or copy and
  // validated by a challenge answered from there: where redundant copies go
  // while fresh (limits::kRedundantStandbyFresh).
  Endpoint standby_;
  Time standby_heard_ = Time::min();
  // Its round trip, from the challenge it answered (a bond's reorder wait
  // and spreading need it before data ever went there).
  std::optional<Duration> standby_rtt_;
  // A new standby address, heard but not validated yet: challenged, and sent
  // at most kUnvalidatedAmplification times the bytes heard from it.
  Endpoint candidate_;
  Time candidate_heard_ = Time::min();
  Probe candidate_challenge_;
  Time candidate_challenged_ = kNever;
  std::uint64_t candidate_rx_ = 0;
  std::uint64_t candidate_tx_ = 0;
  // Copies' bytes in the current one-second window (limits::kRedundantBytesPerSecond).
  Time copy_window_ = Time::min();
  std::size_t copy_window_bytes_ = 0;
  std::uint64_t redundant_bytes_ = 0;
  // A handshake from an address other than the validated return path: its
  // response went there, so the first packet under that keypair (local index)
  // from there validates it; until then data stays where it was.
  Endpoint handshake_from_;
  std::uint32_t handshake_index_ = 0;  // 0: none pending

  // Reliability across handovers: the data stream of the client's session id.
  DataStream stream_;
  // The pacers (one per endpoint the client used) and the flow queue toward
  // the client (paced_sender.hpp).
  PacedSender pacer_;
  Endpoint paced_to_;
  bool in_pacing_list_ = false;  // listed in Hub::pacing_
  // The pacer's path id of an endpoint (a slot of paced_eps_, given to the
  // least recently added when all are taken).
  std::array<Endpoint, limits::kPacedPaths> paced_eps_{};
  std::array<std::uint64_t, limits::kPacedPaths> endpoint_bytes_{};
  std::size_t paced_next_ = 0;
  std::uint32_t path_of(const Endpoint& e);
  // The pacer follows data_endpoint(): an unknown path is paced from low,
  // one used lately resumes from what it was.
  void follow_path(Time now) {
    if (data_endpoint() == paced_to_) return;
    paced_to_ = data_endpoint();
    pacer_.use_path(path_of(paced_to_), now, srtt_);
  }
  // Bond: inner flow (its reply's hash) -> the endpoint slot it last came
  // from, and when the hub last spilled it onto the other bonded endpoint;
  // allocated when the client first bonds.
  struct BondFlow {
    std::uint32_t path = 0;
    Time spilled_at = Time::min();
    // The hub's own choice for its direction (move()): an endpoint slot, 0
    // to follow the client. Taken back when the client moves the flow or
    // says an uplink left its bond.
    std::uint32_t moved_to = 0;
    Time moved_at = Time::min();
    FlowRate sent;  // toward the client
  };
  std::unique_ptr<FlowTable<BondFlow>> bond_flows_;
  std::uint64_t flow_seed_ = 0;
  // Where a packet toward the client goes: its flow's validated endpoint in
  // a bond, else data_endpoint(); in a bond of alike endpoints, the other
  // one it may spill onto when that endpoint's pacer has no room (its pacer
  // path id; 0: none), as the client's scheduler does (bond_scheduler.hpp).
  struct Route {
    Endpoint to;
    std::uint32_t partner = 0;
    BondFlow* flow = nullptr;
    bool ordered = false;  // spilled lately: the client delivers it in order
    bool contends = false;  // the flow contends for its endpoint: it may spill or move
    bool call = false;  // BondScheduler::copies: a copy goes to the other endpoint too, if the client bonds it
  };
  Route route(Bytes inner, Time now);
  // The route's partner takes the packet (validated, and its pacer has
  // room; released: the caller spends on it): true, and `to` is it.
  bool spill(Route& route, std::size_t len, Time now, bool released);
  // A call goes to whichever of the client's two bonded endpoints has room
  // first (its copy goes to the other): true, and `to` is the other one.
  bool call_to_room(Route& route, std::size_t len, Time now, bool released);
  // A spread flow may spill onto endpoint slot `partner` now: the hub may
  // choose it, and no flow returning to it found it full lately.
  bool spills_onto(std::uint32_t partner, Time now) const;
  // Each bonded endpoint's partner, as spill() would take it now, to its pacer.
  void share_partners(Time now);
  // In a bond of unlike endpoints (no spreading), the route's flow as a
  // whole goes to the other endpoint when its share there beats its share
  // of its own full one (BondScheduler::share_gains, the client's rule: a
  // download's flows all came on the client's faster uplink, which carries
  // only their acknowledgements and never fills). `route.to` is then the
  // new endpoint; true when the packet may go there now (as spill).
  // `here`: the route's endpoint slot, which spill() found full (and
  // counted the flows of).
  bool move(Route& route, std::uint32_t here, std::size_t len, Time now, bool released);
  // An endpoint the hub may pick for a flow itself: the validated return
  // path, or the standby while the client says it is in its bond.
  bool may_choose(const Endpoint& e, Time now) const;
  // The client's address other than `e` (of the return path and the standby).
  const Endpoint& other_endpoint(const Endpoint& e) const { return e == standby_ ? endpoint_ : standby_; }
  // That other address when the hub may choose it (may_choose()): where a
  // call sent to `e` also goes, or goes instead (nullptr: nowhere).
  const Endpoint* call_other(const Endpoint& e, Time now) const {
    const Endpoint& other = other_endpoint(e);
    return other == e || !may_choose(other, now) ? nullptr : &other;
  }
  bool standby_bonded(Time now) const;
  // Resends or staged data are owed to the client: they go through
  // poll_transmit, at the pacer's pace when it paces.
  bool owes_data() const { return stream_.has_resend() || channel_.has_staged(); }
  void start_bond();
  // Bond flows per endpoint slot heard from or sent on within
  // kBondFlowActive, and of them those that contend for it
  // (BondScheduler::contends among the active ones: the ones that share it
  // when a move weighs shares), counted every kBondRecountInterval.
  void count_bond_flows(Time now);
  std::array<std::uint32_t, limits::kPacedPaths> bond_flows_active_{};
  std::array<std::uint32_t, limits::kPacedPaths> bond_flow_counts_{};
  Time bond_counted_ = Time::min();
  Time last_bond_move_ = Time::min();
  std::uint64_t bond_moves_ = 0;
  std::uint64_t bond_copies_ = 0;
  // The last address other than the return path that said it is in the
  // client's bond (kDataBond, or a probe flagged kProbeFlagBonded), and when;
  // an acknowledgement flagged kAckFlagBondLeft forgets it.
  Endpoint bonded_from_;
  Time bonded_heard_ = Time::min();
  // A bonded endpoint may be sent to: the validated return path or the
  // fresh validated standby.
  bool sendable(const Endpoint& e, Time now) const;
  // The pacer path id of a known endpoint (0: none), without taking a slot.
  std::uint32_t known_path(const Endpoint& e) const;
  // The pacers that may release a bond's queued data: the validated return
  // path's and the fresh validated standby's (each flow is then spent on its
  // own endpoint's). Without it only the return path's pacer releases, and
  // 8 flows down get one link's rate however they are spread.
  std::array<std::uint32_t, 2> bonded_paths_{};
  bool bonded_alike_ = false;  // alike enough to spread a flow (BondScheduler::alike)
  // When a flow returning to each endpoint last found its pacer without
  // room (Time{}: never): such an endpoint is no partner for a while.
  std::array<Time, limits::kPacedPaths> filled_at_{};
  void refresh_bond(Time now);
  // The client's validated standby spoke (`rtt`: its challenge's round
  // trip, when this was the answer).
  void heard_standby(const Endpoint& from, Time now, std::optional<Duration> rtt = std::nullopt);
  bool in_reordering_list_ = false;  // listed in Hub::reordering_
  bool in_acking_list_ = false;  // listed in Hub::acking_ (no per-packet search)
  std::uint64_t switches_ = 0;   // switching exchanges honoured

  // Control frames to send, each to its own address (bounded, oldest dropped).
  struct QueuedControl {
    ControlFrame frame;
    Endpoint to;
  };
  std::vector<QueuedControl> control_queue_;
};

class Hub {
 public:
  Hub(HubConfig config, Rng& rng);
  ~Hub();

  // Registers a client allowed to connect, with the VIP it will be given.
  // Returns its id; a key already registered gets its VIP updated.
  ClientId add_client(const PublicKey& key, const crypto::VipAssignment& vip);
  // Forgets a client (a reload removed it): its session ends, its key and VIP
  // are refused from now on. Ids of other clients do not change.
  void remove_client(const PublicKey& key);
  std::optional<ClientId> find_client(const PublicKey& key) const;
  std::optional<ClientId> find_client_by_vip(std::uint32_t vip) const;
  std::optional<ClientId> find_client_by_vip6(const std::uint8_t* vip6) const;
  const crypto::VipAssignment& client_vip(ClientId id) const { return clients_[id].vip; }
  const PublicKey& client_key(ClientId id) const { return clients_[id].key; }
  std::size_t client_count() const { return clients_.size(); }
  // The client's live session, if any.
  const HubSession* session(ClientId id) const { return clients_[id].session.get(); }
  // Test and fuzz hook: the session's newest keypair (to seal as the hub would).
  crypto::Keypair* current_keypair_for_test(ClientId id) {
    auto* s = clients_[id].session.get();
    return s && s->channel_.current() ? s->channel_.find(s->channel_.current()->local_index()) : nullptr;
  }

  // Handles a datagram from `from`: inner packets are opened in place at
  // datagram[offset, offset+len); handshake answers are written to `reply`.
  // `opened`: this datagram's decryption done ahead (see crypto::OpenJob).
  ReceiveResult receive(MutableBytes datagram, const Endpoint& from, Time now, MutableBytes reply,
                        const crypto::OpenJob* opened = nullptr);
  // The keypair a transport datagram would be opened with, when it is worth
  // decrypting ahead; nothing for anything else (handshakes, unknown indices).
  crypto::Keypair* keypair_for(Bytes datagram, Time now);

  // Seals buf[16, 16+inner_len) toward the session that owns `vip`.
  // With `defer`, the AEAD is left to defer->run() (a batch seals in parallel).
  // The same for a parsed inner packet of either family (its destination).
  SealResult seal_to_destination(const InnerPacket& inner, MutableBytes buf, std::size_t inner_len, Time now,
                                 crypto::SealJob* defer = nullptr);
  SealResult seal_to_vip(std::uint32_t vip, MutableBytes buf, std::size_t inner_len, Time now,
                         crypto::SealJob* defer = nullptr);
  // Data a client's pacer held back (kQueued) leaves here, a session at a
  // time in turn: the next packet whose turn it is, copied to `inner_out`
  // (its length; `who` its client), for seal_released().
  std::optional<std::size_t> release_paced(MutableBytes inner_out, Time now, ClientId& who);
  SealResult seal_released(ClientId who, MutableBytes buf, std::size_t inner_len, Time now,
                           crypto::SealJob* defer = nullptr) {
    return seal_to_client(who, buf, inner_len, now, defer, true);
  }
  // Inner packets of flows a client spread over its uplinks that are due
  // now, in order (receive() held them; data_stream.hpp), for the TUN:
  // after each receive() and at next_deadline().
  template <class Deliver>
  void release_ordered(Time now, Deliver&& deliver) {
    if (reordering_.empty()) return;
    std::erase_if(reordering_, [&](ClientId id) {
      HubSession* s = clients_[id].session.get();
      if (!s) return true;
      s->stream_.release_ordered(now, deliver);
      if (s->stream_.reorder().waiting()) return false;
      s->in_reordering_list_ = false;
      return true;
    });
  }
  // What every session's flow queue and reorder buffer hold (status).
  std::size_t queued_bytes() const { return queue_budget_.held; }

  // After a seal answered kSend with `copy`: a copy of that packet (the same
  // sequence, as kDataCopy) for the client's standby address, sealed into
  // `out` where the caller put the inner packet at out[16, 16+inner_len).
  SealResult seal_redundant_copy(MutableBytes out, std::size_t inner_len, Time now, crypto::SealJob* defer = nullptr);
  void set_redundancy(RedundancyPolicy p) { config_.redundant = std::move(p); }

  // A hub cluster (the daemon's etcd agent decides; the core only acts):
  // ends a client's live session (another member took it over), keeps its
  // key and VIP so it may come back.
  void end_session(ClientId id);
  // false: initiations that would start a session are dropped (not_serving),
  // e.g. by a member without its etcd lease or draining; live sessions carry
  // on (and rekey) until ended.
  void set_accepting(bool yes) { accepting_ = yes; }
  // Queues the authenticated kMove frame: the client handshakes with the next
  // member. False when the session has no usable keys.
  bool ask_to_move(ClientId id, Time now);
  // Clients whose session began or ended since the last call (in order; a
  // client may appear more than once). The daemon drains it after each event.
  std::vector<ClientId> take_session_changes();

  std::optional<HubTransmit> poll_transmit(MutableBytes out, Time now);
  Time next_deadline() const;
  void on_timer(Time now);

  bool under_load(Time now) const { return now < under_load_until_; }
  const PublicKey& public_key() const { return config_.identity.pub; }
  const DropCounters& drops() const { return drops_; }
  std::size_t session_count() const { return live_sessions_; }
  // What all sessions hold, as counted against the caps above.
  std::size_t resend_bytes() const { return resend_budget_.held; }
  std::size_t staged_bytes() const { return staged_budget_.held; }

 private:
  friend class HubSession;
  struct ClientEntry {
    PublicKey key;
    crypto::VipAssignment vip;
    std::optional<Key> static_secret;  // DH(hub static, client static), for the handshake
    crypto::Timestamp last_timestamp{};
    Time last_initiation = Time::min();
    std::unique_ptr<HubSession> session;
    // A new session the client has not yet confirmed (no packet under its
    // keys): an initiation proves nothing about who sent it now (a recorded
    // one replays at any member that has not seen it), so it replaces no
    // live session, counts as none and is reported to no one until then.
    std::unique_ptr<HubSession> pending;
  };
  struct KeyHash {
    std::size_t operator()(const PublicKey& k) const { return static_cast<std::size_t>(load_le64(k.data())); }
  };

  ReceiveResult on_initiation(MutableBytes msg, const Endpoint& from, Time now, MutableBytes reply);
  ReceiveResult on_transport(MutableBytes msg, const Endpoint& from, Time now, const crypto::OpenJob* opened);
  ReceiveResult dropped(DropReason r) {
    drops_.count(r);
    return ReceiveResult::drop(r);
  }
  void note_initiation(Time now);
  // Something needs the housekeeping pass within kHubHousekeeping.
  void wake_housekeeping(Time now) { next_housekeeping_ = std::min(next_housekeeping_, now + limits::kHubHousekeeping); }
  void mark_ready(HubSession& s);
  // The client's first packet under a pending session's keys: it becomes the
  // live session (a restarted client's old state goes with the one it replaces).
  void confirm_pending(ClientEntry& c);
  void queue_control(HubSession& s, const ControlFrame& f, const Endpoint& to);
  void queue_ack(HubSession& s);
  void migrate(HubSession& s, const Endpoint& to, std::size_t bytes, Time now);
  void challenge(HubSession& s, Time now);
  // hub_paths.cpp: the client's first packet under a handshake's keys from
  // the address the response went to (`moves`: it may move the return path).
  void on_handshake_proven(HubSession& s, const Endpoint& from, bool moves, Time now);
  // A probe or copy from an address other than the return path.
  // `bonded`: it says it is in the client's bond.
  void on_standby_heard(HubSession& s, const Endpoint& from, std::size_t bytes, bool bonded, Time now);
  // An authenticated data packet of s from `from` (hub_paths.cpp), of
  // `type`: a bonded one starts the session's bond; in a bond, its flow
  // returns to `from`, unless it is a copy (a call's, sent on two uplinks)
  // of a flow already placed: the client pinned it where the original went.
  void note_bond_flow(HubSession& s, wire::MessageType type, Bytes inner, const Endpoint& from, Time now);
  // A probe reply: true when it answered one of our challenges.
  bool on_probe_reply(HubSession& s, const Probe& probe, const Endpoint& from, Time now);
  // Queues `f` to a standby candidate within its amplification budget.
  bool queue_to_candidate(HubSession& s, const ControlFrame& f);
  // Whether a packet sealed for s may also go, as a copy, to its standby.
  bool copy_allowed(HubSession& s, std::size_t inner_len, Time now);
  void expire_validation(Time now);
  struct PendingCopy {
    ClientId client = 0;
    std::uint64_t seq = 0;  // 0: none
    Endpoint to{};          // the client's address the original did not go to
  };
  PendingCopy pending_copy_;
  SealResult seal_to_client(std::optional<ClientId> id, MutableBytes buf, std::size_t inner_len, Time now,
                            crypto::SealJob* defer, bool released = false);
  // s has data its pacer holds back: listed until nothing waits.
  void mark_pacing(HubSession& s);
  std::optional<std::size_t> seal_data(HubSession& s, MutableBytes out, std::size_t inner_len, std::uint64_t seq,
                                       crypto::SealJob* defer,
                                       Time now);

  HubConfig config_;
  Rng& rng_;
  // Shared by every session's resend buffer and staging queue (they outlive
  // the sessions, which give their bytes back as they go).
  MemoryBudget resend_budget_;
  MemoryBudget staged_budget_;
  MemoryBudget queue_budget_{limits::kHubQueueTotalBytes};
  IndexTable<HubSession> indices_;
  crypto::CookieChecker cookies_;
  RateLimiter rate_limiter_;
  std::vector<ClientEntry> clients_;
  std::unordered_map<PublicKey, ClientId, KeyHash> by_key_;
  std::unordered_map<std::uint32_t, ClientId> by_vip_;
  std::map<std::array<std::uint8_t, 16>, ClientId> by_vip6_;
  std::vector<ClientId> ready_;       // sessions with something queued to send
  std::vector<ClientId> validating_;  // sessions whose return path is being challenged
  std::vector<ClientId> acking_;      // sessions owing an acknowledgement
  std::vector<ClientId> pacing_;     // sessions whose pacer holds data back
  std::vector<ClientId> reordering_;  // sessions whose reorder buffer holds packets
  std::size_t pacing_next_ = 0;      // where release_paced() starts: each session in turn
  std::size_t live_sessions_ = 0;
  bool accepting_ = true;
  std::vector<ClientId> session_changes_;
  // The next data sequence of s, the packet kept for resending within the
  // hub-wide budget.
  std::uint64_t send_seq(HubSession& s, Bytes packet, Time now, const Endpoint& to);
  DropCounters drops_;

  // Load estimate: mac1-valid initiations in the current one-second bucket.
  Time load_bucket_start_{};
  std::uint32_t load_bucket_count_ = 0;
  Time under_load_until_ = Time::min();
  Time next_housekeeping_ = kNever;
};

}  // namespace tund::session
