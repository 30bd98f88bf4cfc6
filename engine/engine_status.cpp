// The engine's status as JSON: what the daemon's `tund status --json` and the
// C API's tund_status_json share (hubs, the uplinks as the first hub sees
// them, handovers). The caller merges in what only it knows.
#include <chrono>
#include <cstdio>

#include "daemon/pacing_json.hpp"
#include "daemon/reorder_json.hpp"
#include "engine/client_engine.hpp"

namespace tund::engine {

namespace {

using nlohmann::json;

json ms_or_null(const std::optional<Duration>& d) {
  return d ? json(std::chrono::duration<double, std::milli>(*d).count()) : json(nullptr);
}

// The active path as its data sees it (session/path_health.hpp).
json health_json(const session::PathHealth::Summary& h) {
  return {{"loss", h.loss}, {"base_rtt_ms", ms_or_null(h.base_rtt)}, {"rtt_ms", ms_or_null(h.rtt)},
          {"delivery_bps", h.delivery_bps}, {"best_bps", h.best_bps}};
}

std::string address_text(std::uint8_t family, const std::uint8_t* a) {
  Endpoint e;
  e.family = family;
  std::copy(a, a + (family == 4 ? 4 : 16), e.addr.begin());
  return e.address_string();
}

std::string vip6_text(const crypto::VipAssignment& a) { return a.has_v6() ? address_text(6, a.vip6.data()) : ""; }
std::string vip4_text(const crypto::VipAssignment& a) {
  return a.has_v4() ? Endpoint::v4(a.vip, 0).address_string() : "";
}

json mtu_json(const session::ClientSession& s, session::PathId path) {
  const auto* m = s.path_mtu(path);
  if (!m) return nullptr;
  // "found" by probes, "searching" (the last value stays in use), or
  // "assumed" (the interface's, until the first search ends).
  return {{"bytes", m->mtu()},
          {"inner", m->mtu() > wire::transport::kDataOverhead ? m->mtu() - wire::transport::kDataOverhead : 0},
          {"state", m->searching() ? "searching" : m->found() ? "found" : "assumed"},
          {"ceiling", m->ceiling()},
          {"search_ms", std::chrono::duration_cast<std::chrono::milliseconds>(m->last_duration()).count()},
          {"probes_sent", m->probes_sent()}};
}

// Why neither family of an uplink can be used, when the policy saw no path on it.
std::string unusable_reason(const Uplink& u) {
  if (!u.up) return "link down";
  if (!u.address4 && !u.address6) return "no IPv4 or global IPv6 address";
  if (!u.usable(4) && !u.usable(6)) return "no default route";
  return "";
}

}  // namespace

std::uint64_t ClientEngine::total_data_bytes(const session::ClientSession& s) {
  std::uint64_t sum = 0;
  for (const auto id : s.path_ids())
    if (const auto* ps = s.path_stats(id)) sum += ps->data_bytes;
  return sum;
}

// Bond mode (issue 30): the paths that carry data together, how the flows
// were placed, and the busiest flows with their path (at most kStatusBondFlows).
json ClientEngine::bond_json(const session::ClientSession& s, Time now) const {
  json paths = json::array();
  const auto& counts = s.bond().path_counts();
  for (const auto& m : s.bonded()) {
    json p{{"path", describe(m.path)}, {"tier", m.secondary ? "secondary" : "primary"}};
    for (const auto& c : counts)
      if (c.id == m.path) p.update({{"flows", c.flows}, {"packets", c.packets}, {"bytes", c.bytes}, {"full", c.full}});
    paths.push_back(p);
  }
  json flows = json::array();
  for (const auto& f : s.bond().flows(limits::kStatusBondFlows, now)) {
    char hash[17];
    std::snprintf(hash, sizeof hash, "%016llx", static_cast<unsigned long long>(f.hash));
    flows.push_back({{"flow", hash}, {"path", describe(f.path)}, {"packets", f.packets}, {"bytes", f.bytes}});
  }
  const auto& c = s.bond().counters();
  return {{"bonding", s.bonding()},
          {"paths", paths},
          {"active_flows", s.bond().active_flows(now)},
          {"placed", c.placed},
          {"moved", c.moved},
          {"followed", c.followed},
          {"evicted", c.evicted},
          {"spilled", c.spilled},
          {"copied", c.copied},  // packets of calls also sent on a second bonded path
          {"reorder", daemon::reorder_json(s.stream().reorder())},
          {"flows", flows}};
}

const char* ClientEngine::state_name(const session::ClientSession& s) {
  if (s.established()) return "connected";
  return s.state() == session::ClientSession::State::kIdle ? "idle" : "connecting";
}

json ClientEngine::hub_json(std::size_t slot, Time now) const {
  const auto& s = client_.session(slot);
  const auto& h = config_.hubs[slot];
  json routes = json::array();
  for (const auto& r : h.routes) routes.push_back(address_text(r.family, r.addr.data()) + "/" + std::to_string(r.len));
  return {{"name", h.name},
          {"endpoint", h.members[member(slot)]},  // a cluster's: the member now
          {"member_moves", member_moves(slot)},
          {"public_key", crypto::key_to_base64(h.public_key)},
          {"state", state_name(s)},
          {"vip", vip4_text(s.vip())},
          {"vip6", vip6_text(s.vip())},
          {"uplink", uplink_name(s.active_path())},
          {"traffic", s.idle(now) ? "idle" : "active"},  // idle: probing slowed (IdlePolicy)
          {"routes", routes},
          {"rx_bytes", s.stats().rx_bytes},
          {"tx_bytes", s.stats().tx_bytes},
          {"handshakes", s.stats().handshakes},
          {"cipher", crypto::to_string(s.suite())},
          {"last_handshake", s.last_handshake() ? unix_seconds(*s.last_handshake()) : 0}};
}

std::int64_t ClientEngine::unix_seconds(Time t) const {
  const auto ns = static_cast<std::int64_t>(config_.client.wall_offset) +
                  std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
  return ns / 1000000000;
}

// One uplink as session 0 (the first hub) sees it (uplink_json): its paths
// (one per family the hub has), and the best path's figures on the uplink itself.
std::vector<ClientEngine::PathView> ClientEngine::paths_of(std::size_t slot, std::uint32_t uplink) const {
  std::vector<PathView> out;
  const auto& st = hubs_[slot];
  const auto& verdicts = st.selector.last().verdicts;
  for (std::size_t i = 0; i < st.candidates.size() && i < verdicts.size(); ++i)
    if (path_uplink(st.candidates[i].id) == uplink) out.push_back({&st.candidates[i], &verdicts[i]});
  return out;
}

json ClientEngine::uplink_json(const Uplink& u) const {
  const auto& s = client_.session(0);
  json paths = json::array();
  const auto views = paths_of(0, u.id);
  std::uint64_t data_bytes = 0;
  for (const auto& v : views) {
    const auto* ps = s.path_stats(v.candidate->id);
    const auto* rate = s.pacer().rate_of(v.candidate->id);
    const Endpoint* to = remote(0, v.candidate->id);
    paths.push_back({{"family", v.candidate->family == 6 ? "ipv6" : "ipv4"},
                     {"remote", to ? to->to_string() : ""},
                     {"role", session::to_string(v.verdict->role)},
                     {"reason", v.verdict->reason},
                     {"rtt_ms", ps ? ms_or_null(ps->rtt) : json(nullptr)},
                     {"loss", ps && ps->loss ? json(*ps->loss) : json(nullptr)},
                     {"probes_sent", ps ? ps->probes_sent : 0},
                     {"gray", ps && ps->gray ? ps->gray : ""},
                     {"mtu", mtu_json(s, v.candidate->id)},
                     // Its traffic (issue 30): data sealed for it, and what its pacer estimates.
                     {"data_bytes", ps ? ps->data_bytes : 0},
                     {"rate_bps", rate ? rate->rate_bps() : 0.0},
                     {"queue_delay_ms", rate ? ms_or_null(rate->recent_queue()) : json(nullptr)}});
    data_bytes += ps ? ps->data_bytes : 0;
  }
  const PathView* best = views.empty() ? nullptr : &views.front();
  for (const auto& v : views)
    if (static_cast<int>(v.verdict->role) < static_cast<int>(best->verdict->role)) best = &v;
  const auto* ps = best ? s.path_stats(best->candidate->id) : nullptr;
  return {{"name", u.name},
          {"id", u.id},
          {"up", u.up},
          {"mtu", u.mtu},
          {"metered", uplink_metered(u)},
          {"family", best ? (best->candidate->family == 6 ? "ipv6" : "ipv4") : ""},
          {"rtt_ms", ps ? ms_or_null(ps->rtt) : json(nullptr)},
          {"loss", ps && ps->loss ? json(*ps->loss) : json(nullptr)},
          {"probes_sent", ps ? ps->probes_sent : 0},
          {"role", best ? session::to_string(best->verdict->role) : "unusable"},
          {"reason", best ? best->verdict->reason : unusable_reason(u)},
          {"data_bytes", data_bytes},
          {"share", total_data_bytes(s) ? static_cast<double>(data_bytes) / static_cast<double>(total_data_bytes(s)) : 0.0},
          {"paths", paths}};
}

json ClientEngine::status(Time now) const {
  json hubs = json::array();
  bool all_connected = true;
  for (std::size_t i = 0; i < client_.session_count(); ++i) {
    hubs.push_back(hub_json(i, now));
    all_connected = all_connected && client_.session(i).established();
  }
  json uplinks = json::array();
  for (const auto& u : uplinks_) uplinks.push_back(uplink_json(u));
  std::uint64_t resent = 0, switches = 0, suspicions = 0, suspicion_switches = 0, copied_bytes = 0, redundant_bytes = 0,
                gray_verdicts = 0;
  for (std::size_t i = 0; i < client_.session_count(); ++i) {
    const auto& h = client_.session(i).handover_stats();
    resent += h.resent_packets;
    switches += h.switches;
    suspicions += h.suspicions;
    suspicion_switches += h.suspicion_switches;
    copied_bytes += h.copied_bytes;
    redundant_bytes += h.redundant_bytes;
    gray_verdicts += h.gray_verdicts;
  }
  const auto& s0 = client_.session(0);
  const auto active = s0.active_path();
  const auto& ho = handovers_;
  return {{"state", all_connected ? "connected" : "connecting"},
          {"vip", vip4_text(s0.vip())},
          {"vip6", vip6_text(s0.vip())},
          {"active_uplink", uplink_name(active)},
          {"inner_mtu", s0.inner_mtu()},
          {"active_family", active ? (path_family(active) == 6 ? "ipv6" : "ipv4") : ""},
          {"traffic", s0.idle(now) ? "idle" : "active"},
          {"pinned", pinned_ ? *pinned_ : ""},
          {"handovers", ho.count},
          {"last_handover", {{"reason", ho.last_reason}, {"from", ho.last_from}, {"to", ho.last_to},
                             {"at", ho.last_at == kNever ? 0 : unix_seconds(ho.last_at)},
                             {"duration_us", std::chrono::duration_cast<std::chrono::microseconds>(
                                                 s0.handover_stats().last_duration).count()}}},
          {"switch_exchanges", switches},
          {"resent_packets", resent},
          {"suspicions", suspicions},                  // active path quiet with data outstanding
          {"suspicion_switches", suspicion_switches},  // of those, left because the standby answered first
          {"copied_bytes", copied_bytes},              // data copies sent on standbys meanwhile
          {"redundant_bytes", redundant_bytes},        // copies of [uplinks] redundant packets, on standbys
          {"gray_verdicts", gray_verdicts},            // active uplinks left as failing gray (lossy, collapsed)
          {"active_health", health_json(s0.active_health(now))},
          {"pacing", daemon::pacing_json(s0.pacer(), now, [this](session::PathId p) { return describe(p); })},
          {"mode", session::to_string(config_.policy.mode)},
          {"bond", bond_json(s0, now)},
          {"hubs", hubs},
          {"uplinks", uplinks}};
}

}  // namespace tund::engine
