// The client engine: everything a tunnel client decides, with no I/O. One
// object holds the sans-I/O session::Client, the uplink table its caller
// reports, each hub's uplink policy (session::UplinkSelector), the cluster
// member it follows, and the handovers it made. The Linux daemon (tund/) and
// the C API (capi/, include/tund/tund.h) both drive this one object, so what
// a path is, which uplink carries a session and when to move to another
// cluster member is decided in one place.
//
//   caller                              engine
//   uplink table changed   ──▶ set_uplinks ──▶ paths added/removed, policy
//   hub addresses known    ──▶ set_member_addresses
//   after any input        ──▶ service(now) ──▶ timers, policy, cluster, events
//   after polling          ──▶ next_deadline(now) ──▶ when to call service again
//   events (poll_event)    ◀── up / down / handshake / path changed / resolve / member moved
//
// Every entry takes `now`; nothing here reads a clock, opens a socket or
// throws on input from the network.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "session/client.hpp"
#include "session/ip_prefix.hpp"
#include "session/uplink_policy.hpp"
#include "tund/endpoint.hpp"

namespace tund::engine {

// A session's path is one uplink in one address family: an uplink with IPv4
// and IPv6 reaches the hub both ways, each probed and measured on its own.
// The id is the caller's uplink id, with this bit for IPv6.
inline constexpr session::PathId kIpv6PathBit = 1u << 30;
inline constexpr std::uint32_t kMaxUplinkId = kIpv6PathBit - 1;
inline session::PathId path_id(std::uint32_t uplink, std::uint8_t family) {
  return static_cast<session::PathId>(uplink) | (family == 6 ? kIpv6PathBit : 0);
}
inline std::uint32_t path_uplink(session::PathId p) { return p & ~kIpv6PathBit; }
inline std::uint8_t path_family(session::PathId p) { return p & kIpv6PathBit ? 6 : 4; }

// What the caller knows of one uplink (the daemon: netlink; an embedder: its OS).
struct Uplink {
  std::uint32_t id = 0;  // 1..kMaxUplinkId; the daemon's ifindex
  std::string name;
  bool up = false;
  bool address4 = false, address6 = false;  // an IPv4 / global IPv6 address
  bool route4 = false, route6 = false;      // a default route of the family leaves through it
  bool socket = true;                       // the caller can send on it
  unsigned mtu = 0;                         // 0: unknown (the tunnel's own MTU is the ceiling)
  std::optional<bool> system_metered;       // the system's (or the embedder's) verdict
  std::vector<session::IpPrefix> prefixes;  // its own subnets (never routed into the tunnel)
  bool usable(std::uint8_t family) const {
    return up && (family == 6 ? address6 && route6 : address4 && route4);
  }
};

struct HubSpec {
  std::string name;
  PublicKey public_key{};
  std::uint8_t min_vip_prefix = limits::kDefaultMinVipPrefix;
  unsigned persistent_keepalive_s = 0;
  std::vector<std::string> members;  // endpoints as written (one for a lone hub), for status
  std::vector<session::IpPrefix> routes;
};

struct EngineConfig {
  session::ClientConfig client;
  session::UplinkPolicyConfig policy;
  std::vector<HubSpec> hubs;
  unsigned tun_mtu = 1420;
};

enum class EventKind : std::uint8_t {
  kHandshake,    // a handshake completed (a VIP and routes may have been assigned)
  kUp,           // established and answering
  kDown,         // silent on every path, or keys expired (text: why)
  kPathChanged,  // the active path moved (from, to, text: the reason, trigger)
  kResolve,      // look the member's name up again (the hub may have moved)
  kMemberMoved,  // to another cluster member (member; text: why)
};

struct Event {
  EventKind kind{};
  std::size_t slot = 0;
  session::PathId from = 0, to = 0;
  std::size_t member = 0, from_member = 0;
  std::string text;
  std::string trigger;  // kPathChanged: manual, uplink_change, hold_down_over, path_quality, other
};

struct Handovers {
  std::uint64_t count = 0;
  std::string last_reason, last_from, last_to;
  Time last_at = kNever;
  std::map<std::string, std::uint64_t> by_trigger;
};

// Where one datagram goes.
struct Transmit {
  std::size_t len = 0;
  session::PathId path = 0;
  Endpoint to;
  bool fragment = false;
};

class ClientEngine {
 public:
  // Throws std::invalid_argument on an unusable config (startup, not input).
  ClientEngine(EngineConfig config, Rng& rng);

  session::Client& client() { return client_; }
  const session::Client& client() const { return client_; }
  std::size_t hub_count() const { return hubs_.size(); }
  const HubSpec& hub(std::size_t slot) const { return config_.hubs[slot]; }

  // The whole uplink table, as the caller sees it now (sorted by id or not).
  void set_uplinks(std::vector<Uplink> uplinks, Time now);
  const std::vector<Uplink>& uplinks() const { return uplinks_; }
  const Uplink* uplink(std::uint32_t id) const;
  std::string uplink_name(session::PathId path) const;  // "" when it has no socket or is gone
  bool uplink_metered(const Uplink& u) const;
  // A member's addresses (resolved by the caller; a name may have several).
  // Then apply_policy and start_sessions, which the caller times.
  void set_member_addresses(std::size_t slot, std::size_t member, std::vector<Endpoint> addresses, Time now);
  // Starts each idle session whose hub has an address.
  void start_sessions(Time now);
  const std::vector<Endpoint>& member_addresses(std::size_t slot, std::size_t member) const;
  std::size_t member(std::size_t slot) const { return hubs_[slot].order[hubs_[slot].at]; }
  std::uint64_t member_moves(std::size_t slot) const { return hubs_[slot].member_moves; }
  // A hub's routes (its configured prefixes), into the core's table.
  void set_routes(std::size_t slot, std::vector<session::IpPrefix> routes);
  // Where datagrams of `slot` on `path` go: the member's first address of the path's family.
  const Endpoint* remote(std::size_t slot, session::PathId path) const;
  // The hub an inner packet (IP header first) goes to.
  std::optional<std::size_t> route(Bytes inner) const;

  void set_policy(session::UplinkPolicyConfig policy);
  const session::UplinkPolicyConfig& policy() const { return config_.policy; }
  void set_pinned(std::optional<std::string> name) { pinned_ = std::move(name); }
  const std::optional<std::string>& pinned() const { return pinned_; }
  // Runs the policy of every hub now; `why` names the trigger in the event.
  void apply_policy(Time now, const std::string& why);
  // After any input: due timers, the policy when its inputs changed, cluster
  // following, edges as events.
  void service(Time now);
  // When service() is next due: asked after the caller polled and released
  // what service() let go, since those may set a timer of their own (a
  // resend held back for the pacer's room).
  Time next_deadline(Time now) const;
  // A handshake, control frame or resend of `slot`, addressed (nothing: none left).
  std::optional<Transmit> poll_transmit(std::size_t slot, MutableBytes out, Time now);

  bool poll_event(Event& out);
  std::uint64_t events_dropped() const { return events_dropped_; }
  const Handovers& handovers() const { return handovers_; }
  // The policy's last view of one hub: candidates and their verdicts (parallel).
  const std::vector<session::UplinkCandidate>& candidates(std::size_t slot) const { return hubs_[slot].candidates; }
  const std::vector<session::UplinkVerdict>& verdicts(std::size_t slot) const {
    return hubs_[slot].selector.last().verdicts;
  }

  // One hub's paths on one uplink, as the policy last judged them.
  struct PathView {
    const session::UplinkCandidate* candidate;
    const session::UplinkVerdict* verdict;
  };
  std::vector<PathView> paths_of(std::size_t slot, std::uint32_t uplink) const;

  // Status (engine_status.cpp): the hubs, the uplinks as hub 0 sees them,
  // handovers; what the caller adds (interfaces, drops) it merges in.
  nlohmann::json status(Time now) const;
  nlohmann::json hub_json(std::size_t slot, Time now) const;
  nlohmann::json uplink_json(const Uplink& u) const;
  static const char* state_name(const session::ClientSession& s);
  // Bond mode's view of a session: its bonded paths and busiest flows.
  nlohmann::json bond_json(const session::ClientSession& s, Time now) const;
  static std::uint64_t total_data_bytes(const session::ClientSession& s);
  // A time as unix seconds, through the session's wall offset.
  std::int64_t unix_seconds(Time t) const;

 private:
  struct HubState {
    explicit HubState(const session::UplinkPolicyConfig& policy) : selector(policy) {}
    session::UplinkSelector selector;
    std::vector<session::UplinkCandidate> candidates;  // one per path, as last judged
    std::vector<std::vector<Endpoint>> addresses;      // per member
    std::vector<std::size_t> order{0};                 // rendezvous order of the members for our key
    std::size_t at = 0;
    Time moving_since = kNever;
    std::uint64_t seen_moves = 0, member_moves = 0;
    std::optional<Time> seen_handshake;
    bool was_silent = false;
    bool up = false;
    bool has_address() const {
      for (const auto& a : addresses)
        if (!a.empty()) return true;
      return false;
    }
  };

  std::vector<session::UplinkCandidate> make_candidates(std::size_t slot) const;
  void reconcile_paths(Time now);
  void follow_cluster(std::size_t slot, Time now);
  void note_edges(std::size_t slot, Time now);
  void push(Event e);

 public:
  // "wlan0 (IPv4)", "(none)", "a removed uplink (IPv6)": for logs.
  std::string describe(session::PathId p) const;

 private:

  EngineConfig config_;
  session::Client client_;
  std::vector<HubState> hubs_;
  std::vector<Uplink> uplinks_;
  std::optional<std::string> pinned_;
  std::uint64_t seen_path_epoch_ = 0;
  Handovers handovers_;
  std::deque<Event> events_;
  std::uint64_t events_dropped_ = 0;
};

}  // namespace tund::engine
