// The client daemon, what it tells: the status line (sd_notify), the status
// JSON of the control socket, Prometheus metrics, drop counters, requests.
#include "tund/client_daemon.hpp"

#include <algorithm>
#include <fstream>
#include <cstring>
#include <nlohmann/json.hpp>

#include "daemon/cli.hpp"
#include "daemon/clock.hpp"
#include "daemon/data_path_json.hpp"
#include "daemon/drops_json.hpp"
#include "daemon/json_reply.hpp"
#include "daemon/log.hpp"
#include "daemon/pacing_json.hpp"
#include "session/ip_packet.hpp"

namespace tund::client {

namespace t = wire::transport;
using session::ReceiveResult;
using session::SealResult;

std::string ClientDaemon::vip6_text(const crypto::VipAssignment& a) {
  return a.has_v6() ? config::Prefix6{a.vip6, 128}.address_string() : "";
}

std::string ClientDaemon::vip_text(const crypto::VipAssignment& a) {
  const std::string v4 = a.has_v4() ? config::ipv4_to_string(a.vip) : "";
  const std::string v6 = vip6_text(a);
  return v4 + (!v4.empty() && !v6.empty() ? ", " : "") + v6;
}

namespace {
double seconds_or_zero(const std::optional<Duration>& d) { return d ? std::chrono::duration<double>(*d).count() : 0; }
}  // namespace

const char* ClientDaemon::state_name(const session::ClientSession& s) { return engine::ClientEngine::state_name(s); }

std::string ClientDaemon::status_line() const {
  std::string line;
  for (std::size_t slot = 0; slot < client_->session_count(); ++slot) {
    const auto& s = client_->session(slot);
    if (!line.empty()) line += "; ";
    line += settings_.hubs[slot].name + ": ";
    if (s.established())
      line += "connected via " + uplink_name(s.active_path()) + ", vip " + vip_text(s.vip());
    else
      line += "connecting";
  }
  return line;
}

bool ClientDaemon::all_connected() const {
  for (std::size_t i = 0; i < client_->session_count(); ++i)
    if (!client_->session(i).established()) return false;
  return true;
}

// The engine's status, with what only the daemon knows: the TUN, each
// uplink's interface details, the data path, DNS and every drop counter.
std::string ClientDaemon::status_json() const {
  using nlohmann::json;
  json out = engine_->status(daemon::now());
  auto& uplinks = out["uplinks"];
  const auto& table = monitor_->table();
  for (auto& u : uplinks) {
    const auto id = u["id"].get<std::uint32_t>();
    u.erase("id");
    const auto it = std::find_if(table.begin(), table.end(), [&](const auto& x) { return x.ifindex == static_cast<int>(id); });
    if (it == table.end()) continue;
    json addresses = json::array();
    for (const auto& a : it->addresses) addresses.push_back(a);
    u["ifindex"] = it->ifindex;
    u["kind"] = netmon::to_string(it->kind);
    u["addresses"] = addresses;
    u["default_route"] = it->has_default_route;
    u["gateway"] = it->gateway;
    u["default_route6"] = it->has_default_route6;
    u["gateway6"] = it->gateway6;
    u["metered_by"] = metered_source(it->name);
  }
  out["interface"] = tun_->name();
  out["data_path"] = data_path_json();
  out["dns"] = dns_json();
  out["drops"] = drop_counts();
  return daemon::to_reply(out);
}

// The TUN's DNS as set, and how hub names are looked up.
nlohmann::json ClientDaemon::dns_json() const {
  auto servers = nlohmann::json::array(), domains = nlohmann::json::array();
  if (dns_) {
    for (const auto& a : dns_->applied().servers) servers.push_back(a.address_string());
    for (const auto& d : dns_->applied().domains) domains.push_back(d.to_string());
  }
  return {{"via", dns_ ? dns_->via() : ""},
          {"servers", servers},
          {"domains", domains},
          {"hub_lookups", stub_ ? "tund" : "system"}};
}

nlohmann::json ClientDaemon::data_path_json() const {
  bool gso = !uplinks_.empty(), gro = !uplinks_.empty();
  for (const auto& [idx, u] : uplinks_) {
    gso = gso && u.socket->gso();
    gro = gro && u.socket->gro();
  }
  return daemon::data_path_json(*tun_, *dp_, gso, gro);
}

std::string ClientDaemon::render_metrics() const {
  daemon::MetricsText m;
  m.family("tund_up", "gauge", "1 while the daemon runs.");
  m.sample("tund_up", 1);
  m.build_info("tund_build_info");
  // Labels that never move (daemon/metrics.hpp): the state and the uplink
  // are values below, so a handover or a reconnection makes no new series.
  m.family("tund_session_info", "gauge", "One per hub session that had a handshake: its VIP and cipher.");
  for (std::size_t i = 0; i < client_->session_count(); ++i) {
    const auto& s = client_->session(i);
    if (!s.last_handshake()) continue;  // no VIP or cipher yet: no half-empty series
    m.sample("tund_session_info",
             {{"hub", settings_.hubs[i].name},
              {"vip", s.vip().vip ? config::ipv4_to_string(s.vip().vip) : ""},
              {"cipher", crypto::to_string(s.suite())}},
             1);
  }
  m.family("tund_session_state", "gauge",
           "Each hub session's state, one series per state (connected, connecting, idle): 1 for the current one.");
  for (std::size_t i = 0; i < client_->session_count(); ++i)
    for (const char* state : kStateNames)
      m.sample("tund_session_state", {{"hub", settings_.hubs[i].name}, {"state", state}},
               std::strcmp(state, state_name(client_->session(i))) == 0 ? 1 : 0);
  const auto per_session = [&](const char* name, const char* type, const char* help, auto value) {
    m.family(name, type, help);
    for (std::size_t i = 0; i < client_->session_count(); ++i)
      m.sample(name, {{"hub", settings_.hubs[i].name}}, static_cast<double>(value(client_->session(i))));
  };
  per_session("tund_session_rx_bytes_total", "counter", "Outer bytes received from the hub.",
              [](const session::ClientSession& s) { return s.stats().rx_bytes; });
  per_session("tund_session_tx_bytes_total", "counter", "Outer bytes sent to the hub.",
              [](const session::ClientSession& s) { return s.stats().tx_bytes; });
  per_session("tund_session_handshakes_total", "counter", "Completed handshakes.",
              [](const session::ClientSession& s) { return s.stats().handshakes; });
  per_session("tund_session_last_handshake_seconds", "gauge", "Unix time of the latest handshake (0: never).",
              [](const session::ClientSession& s) {
                return s.last_handshake() ? daemon::to_unix_seconds(*s.last_handshake()) : 0;
              });
  const Time now = daemon::now();
  per_session("tund_session_idle", "gauge", "1 while no inner packet passed for [uplinks] idle_after_ms (slow probing).",
              [now](const session::ClientSession& s) { return s.idle(now) ? 1 : 0; });
  per_session("tund_pacing_rate_bps", "gauge", "The active uplink's pacing rate, estimated from its data (0: not pacing).",
              [](const session::ClientSession& s) { return s.pacer().rate().rate_bps(); });
  per_session("tund_pacing_base_rtt_seconds", "gauge", "The active uplink's least round trip lately.",
              [](const session::ClientSession& s) { return seconds_or_zero(s.pacer().rate().base_rtt()); });
  per_session("tund_pacing_rtt_seconds", "gauge", "The active uplink's round trip over the last round (queue included).",
              [](const session::ClientSession& s) { return seconds_or_zero(s.pacer().rate().recent_rtt()); });
  per_session("tund_queue_packets", "gauge", "Inner packets waiting in tund for the pacer.",
              [](const session::ClientSession& s) { return s.pacer().queue().packets(); });
  per_session("tund_queue_sojourn_seconds", "gauge", "How long the oldest waiting packet has waited.",
              [now](const session::ClientSession& s) { return seconds_or_zero(s.pacer().queue().head_sojourn(now)); });
  per_session("tund_queue_ecn_marks_total", "counter", "Packets marked CE for waiting too long (CoDel).",
              [](const session::ClientSession& s) { return s.pacer().queue().counters().codel_marks; });
  per_session("tund_sent_without_room_total", "counter",
              "Bond: packets sent on an uplink whose pacer had no room (the bond changed as they left).",
              [](const session::ClientSession& s) { return s.pacer().overdrawn(); });
  m.family("tund_queue_drops_total", "counter", "Packets the queue dropped, by reason (codel, overflow, no_memory).");
  for (std::size_t i = 0; i < client_->session_count(); ++i) {
    const auto& c = client_->session(i).pacer().queue().counters();
    for (const auto& [reason, n] : {std::pair{"codel", c.codel_drops}, {"overflow", c.overflow}, {"no_memory", c.no_memory}})
      m.sample("tund_queue_drops_total", {{"hub", settings_.hubs[i].name}, {"reason", reason}}, static_cast<double>(n));
  }
  per_session("tund_resend_buffer_bytes", "gauge", "Inner bytes kept for resending after a handover.",
              [](const session::ClientSession& s) { return s.resend_bytes(); });
  per_session("tund_resent_packets_total", "counter", "Packets resent after switching exchanges.",
              [](const session::ClientSession& s) { return s.handover_stats().resent_packets; });
  per_session("tund_suspicions_total", "counter", "Times the active uplink went quiet with data outstanding.",
              [](const session::ClientSession& s) { return s.handover_stats().suspicions; });
  per_session("tund_suspicion_switches_total", "counter", "Suspicions ended by leaving: the standby answered first.",
              [](const session::ClientSession& s) { return s.handover_stats().suspicion_switches; });
  per_session("tund_copied_bytes_total", "counter", "Bytes of data copies sent on a standby during suspicions.",
              [](const session::ClientSession& s) { return s.handover_stats().copied_bytes; });
  per_session("tund_gray_verdicts_total", "counter", "Active uplinks judged failing gray by their data (lossy, collapsed).",
              [](const session::ClientSession& s) { return s.handover_stats().gray_verdicts; });
  per_session("tund_redundant_bytes_total", "counter", "Bytes of redundant copies ([uplinks] redundant) sent on a standby.",
              [](const session::ClientSession& s) { return s.handover_stats().redundant_bytes; });
  m.family("tund_uplink_info", "gauge", "One per interface in the uplink table, with its kind.");
  for (const auto& u : monitor_->table())
    m.sample("tund_uplink_info", {{"uplink", u.name}, {"kind", netmon::to_string(u.kind)}}, 1);
  m.family("tund_uplink_role", "gauge",
           "Each uplink's role for each hub, one series per role (active, bonded, standby, unusable): 1 for the one it has "
           "(its best path's).");
  for (std::size_t i = 0; i < client_->session_count(); ++i)
    for (const auto& u : monitor_->table()) {
      auto role = session::UplinkRole::kUnusable;  // the best of its paths' (roles are ordered)
      for (const auto& v : engine_->paths_of(i, static_cast<std::uint32_t>(u.ifindex))) role = std::min(role, v.verdict->role);
      for (const auto r : {session::UplinkRole::kActive, session::UplinkRole::kBonded, session::UplinkRole::kStandby,
                           session::UplinkRole::kUnusable})
        m.sample("tund_uplink_role", {{"hub", settings_.hubs[i].name}, {"uplink", u.name}, {"role", session::to_string(r)}},
                 r == role ? 1 : 0);
    }
  const auto per_path = [&](const char* name, const char* type, const char* help, auto value) {
    m.family(name, type, help);
    for (const auto& u : monitor_->table())
      for (const auto& v : engine_->paths_of(0, static_cast<std::uint32_t>(u.ifindex)))
        if (const auto* st = client_->session(0).path_stats(v.candidate->id))
          if (const auto x = value(*st))
            m.sample(name, {{"uplink", u.name}, {"family", v.candidate->family == 6 ? "ipv6" : "ipv4"}}, *x);
  };
  per_path("tund_uplink_rtt_seconds", "gauge", "Smoothed RTT to the first hub on each probed path.",
           [](const session::PathStats& st) {
             return st.rtt ? std::optional<double>(std::chrono::duration<double>(*st.rtt).count()) : std::nullopt;
           });
  per_path("tund_uplink_probes_sent_total", "counter", "Path probes sent to the first hub on each path.",
           [](const session::PathStats& st) { return std::optional<double>(static_cast<double>(st.probes_sent)); });
  // Each uplink's share of the traffic (issue 30: in a bond several carry data).
  per_path("tund_uplink_data_bytes_total", "counter", "Data sealed for the first hub on each path (bytes on the wire).",
           [](const session::PathStats& st) { return std::optional<double>(static_cast<double>(st.data_bytes)); });
  m.family("tund_handovers_total", "counter", "Uplink changes, by what triggered them.");
  for (const char* r : {"manual", "uplink_change", "path_quality", "hold_down_over", "other"}) {
    const auto& by = engine_->handovers().by_trigger;
    const auto it = by.find(r);
    m.sample("tund_handovers_total", {{"reason", r}}, it == by.end() ? 0 : it->second);
  }
  m.family("tund_handover_duration_seconds", "histogram",
           "Switching exchanges: from the switch on the new uplink to the hub's answer.");
  for (std::size_t b = 0; b < exchange_buckets_.size(); ++b) {
    char le[16];
    std::snprintf(le, sizeof le, "%g", limits::kHandoverHistogramBuckets[b]);
    m.sample("tund_handover_duration_seconds_bucket", {{"le", le}}, static_cast<double>(exchange_buckets_[b]));
  }
  m.sample("tund_handover_duration_seconds_bucket", {{"le", "+Inf"}}, static_cast<double>(exchange_count_));
  m.sample("tund_handover_duration_seconds_sum", exchange_sum_s_);
  m.sample("tund_handover_duration_seconds_count", static_cast<double>(exchange_count_));
  m.family("tund_drops_total", "counter", "Packets dropped, by reason.");
  const auto drops = drop_counts();  // named: items() would outlive a temporary
  for (const auto& [reason, n] : drops.items()) m.sample("tund_drops_total", {{"reason", reason}}, n.get<double>());
  return m.text();
}

nlohmann::json ClientDaemon::drop_counts() const {
  auto drops = daemon::drops_json(client_->drops());
  if (no_route_) drops["no_route"] = no_route_;
  if (no_uplink_) drops["no_uplink"] = no_uplink_;
  if (dp_->too_big_count) drops["path_mtu_exceeded"] = dp_->too_big_count;  // each answered with ICMP (rate-limited)
  if (dp_->writer.write_errors()) drops["tun_write_error"] = dp_->writer.write_errors();
  if (dp_->reader.drops()) drops["tun_bad_offload"] = dp_->reader.drops();
  if (cli::handler_exceptions()) drops["handler_exception"] = cli::handler_exceptions();
  if (stub_) stub_->drops->add_to(drops, "dns_answer_");  // refused DNS answers to the daemon's own lookups
  return drops;
}

std::string ClientDaemon::handle_control(const std::string& request, bool privileged) {
  if (request == "status") return status_json();
  if (request.rfind("switch ", 0) == 0) {
    if (!privileged) return daemon::to_reply(nlohmann::json{{"error", "switch needs root or the control socket's group"}});
    return handle_switch(request.substr(7));
  }
  return daemon::unknown_request_reply(request);
}

}  // namespace tund::client
