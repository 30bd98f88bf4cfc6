// What the hub daemon reports (hub_daemon.hpp): its drops by reason, the
// Prometheus text of `tund-hub metrics`, and the status reply of
// `tund-hub status` (sessions, their pacers and reorder buffers, clients,
// the cluster). Split from hub_daemon.cpp, which runs the data path.
#include <nlohmann/json.hpp>

#include "daemon/cli.hpp"
#include "daemon/clock.hpp"
#include "daemon/data_path_json.hpp"
#include "daemon/drops_json.hpp"
#include "daemon/json_reply.hpp"
#include "daemon/pacing_json.hpp"
#include "daemon/reorder_json.hpp"
#include "hub/hub_daemon.hpp"

namespace tund::hub {

nlohmann::json HubDaemon::drop_counts() const {
  auto drops = daemon::drops_json(hub_->drops());
  if (not_ip_) drops["not_ip"] = not_ip_;
  if (no_socket_) drops["no_socket_for_family"] = no_socket_;
  if (dp_->too_big_count) drops["path_mtu_exceeded"] = dp_->too_big_count;  // each answered with ICMP (rate-limited)
  if (dp_->writer.write_errors()) drops["tun_write_error"] = dp_->writer.write_errors();
  if (dp_->reader.drops()) drops["tun_bad_offload"] = dp_->reader.drops();
  if (cli::handler_exceptions()) drops["handler_exception"] = cli::handler_exceptions();
  return drops;
}

std::string HubDaemon::render_metrics() const {
  daemon::MetricsText m;
  m.family("tund_hub_up", "gauge", "1 while the daemon runs.");
  m.sample("tund_hub_up", 1);
  m.build_info("tund_hub_build_info");
  m.family("tund_hub_sessions", "gauge", "Clients with a live session.");
  m.sample("tund_hub_sessions", static_cast<double>(hub_->session_count()));
  m.family("tund_hub_clients", "gauge", "Configured clients.");
  m.sample("tund_hub_clients", static_cast<double>(settings_.clients.size()));
  struct Row {
    const ClientSettings* c;
    const session::HubSession* s;
  };
  std::vector<Row> rows;
  for (const auto& c : settings_.clients) {
    const auto id = hub_->find_client(c.public_key);
    if (const auto* s = id ? hub_->session(*id) : nullptr) rows.push_back({&c, s});
  }
  // No endpoint label: it moves with every handover or NAT rebinding, and
  // each move would start a new series (daemon/metrics.hpp); the status
  // JSON has it.
  m.family("tund_hub_session_info", "gauge", "One per live session: the client's VIP and cipher.");
  for (const auto& r : rows)
    m.sample("tund_hub_session_info",
             {{"client", r.c->name},
              {"vip", config::ipv4_to_string(r.c->vip)},
              {"cipher", crypto::to_string(r.s->suite())}},
             1);
  const auto per_session = [&](const char* name, const char* type, const char* help, auto value) {
    m.family(name, type, help);
    for (const auto& r : rows) m.sample(name, {{"client", r.c->name}}, static_cast<double>(value(*r.s)));
  };
  per_session("tund_hub_session_rx_bytes_total", "counter", "Outer bytes received from the client.",
              [](const session::HubSession& s) { return s.stats().rx_bytes; });
  per_session("tund_hub_session_tx_bytes_total", "counter", "Outer bytes sent to the client.",
              [](const session::HubSession& s) { return s.stats().tx_bytes; });
  per_session("tund_hub_session_last_handshake_seconds", "gauge", "Unix time of the latest handshake.",
              [](const session::HubSession& s) {
                return s.last_handshake() ? daemon::to_unix_seconds(*s.last_handshake()) : 0;
              });
  per_session("tund_hub_session_path_changes_total", "counter", "Times the client's return path moved.",
              [](const session::HubSession& s) { return s.path_changes(); });
  per_session("tund_hub_session_redundant_bytes_total", "counter",
              "Bytes of redundant copies ([handover] redundant) sent to the client's standby address.",
              [](const session::HubSession& s) { return s.redundant_bytes(); });
  m.family("tund_hub_resend_buffer_bytes", "gauge",
           "Memory the resend buffers hold, all sessions: kept packets, pooled buffers, ring slots "
           "(capped by [handover] resend_total_bytes).");
  m.sample("tund_hub_resend_buffer_bytes", static_cast<double>(hub_->resend_bytes()));
  m.family("tund_hub_queue_bytes", "gauge",
           "Memory the clients' flow queues hold, all sessions: data their paths' pacers hold back (capped at 256 MiB).");
  m.sample("tund_hub_queue_bytes", static_cast<double>(hub_->queued_bytes()));
  per_session("tund_hub_session_pacing_rate_bps", "gauge", "The pacing rate toward the client's path (0: not pacing).",
              [](const session::HubSession& s) { return s.pacer().rate().rate_bps(); });
  per_session("tund_hub_session_queue_packets", "gauge", "Inner packets waiting for the client's pacer.",
              [](const session::HubSession& s) { return s.pacer().queue().packets(); });
  per_session("tund_hub_session_queue_drops_total", "counter", "Packets the client's queue dropped (CoDel, overflow, memory).",
              [](const session::HubSession& s) {
                const auto& c = s.pacer().queue().counters();
                return c.codel_drops + c.overflow + c.no_memory;
              });
  per_session("tund_hub_session_queue_ecn_marks_total", "counter", "Packets to the client marked CE for waiting too long.",
              [](const session::HubSession& s) { return s.pacer().queue().counters().codel_marks; });
  per_session("tund_hub_session_sent_without_room_total", "counter",
              "Bond: packets sent on an endpoint whose pacer had no room (the bond changed as they left).",
              [](const session::HubSession& s) { return s.pacer().overdrawn(); });
  m.family("tund_hub_staged_bytes", "gauge",
           "Memory packets waiting for a key or a validated path hold, all sessions (capped by [limits] staged_total_bytes).");
  m.sample("tund_hub_staged_bytes", static_cast<double>(hub_->staged_bytes()));
  if (cluster_) {
    m.family("tund_hub_cluster_serving", "gauge", "1 while this member holds its etcd lease and takes new sessions.");
    m.sample("tund_hub_cluster_serving", cluster_->serving() ? 1 : 0);
    m.family("tund_hub_cluster_etcd_errors_total", "counter", "etcd requests that failed (unreachable, timed out, refused).");
    m.sample("tund_hub_cluster_etcd_errors_total", static_cast<double>(cluster_->etcd_errors()));
    m.family("tund_hub_cluster_takeovers_total", "counter", "Sessions ended here because another member claimed them.");
    m.sample("tund_hub_cluster_takeovers_total", static_cast<double>(cluster_->takeovers()));
    m.family("tund_hub_cluster_lease_losses_total", "counter", "Times the lease ran out without an answered keepalive.");
    m.sample("tund_hub_cluster_lease_losses_total", static_cast<double>(cluster_->lease_losses()));
    m.family("tund_hub_cluster_etcd_faults_total", "counter", "etcd requests failed and answers refused (size, depth, deadline, ...), by reason.");
    const auto faults = cluster_->etcd_faults().to_json();  // named: items() would outlive a temporary
    for (const auto& [reason, n] : faults.items())
      m.sample("tund_hub_cluster_etcd_faults_total", {{"reason", reason}}, n.get<double>());
    m.family("tund_hub_cluster_etcd_refused_total", "counter", "Keys and values read from etcd and refused (bad shape, duplicate VIP, ...), by reason.");
    const auto refused = cluster_->refusals().to_json();
    for (const auto& [reason, n] : refused.items())
      m.sample("tund_hub_cluster_etcd_refused_total", {{"reason", reason}}, n.get<double>());
  }
  m.family("tund_hub_drops_total", "counter", "Packets dropped, by reason.");
  const auto drops = drop_counts();  // named: items() would outlive a temporary
  for (const auto& [reason, n] : drops.items()) m.sample("tund_hub_drops_total", {{"reason", reason}}, n.get<double>());
  return m.text();
}

std::string HubDaemon::status_json() const {
  using nlohmann::json;
  json sessions = json::array();
  json clients = json::array();
  for (std::size_t i = 0; i < settings_.clients.size(); ++i) {
    const auto& c = settings_.clients[i];
    const auto id = hub_->find_client(c.public_key);
    const auto* s = id ? hub_->session(*id) : nullptr;
    clients.push_back({{"name", c.name}, {"vip", vip_text(c)}, {"vip6", vip6_text(c)},
                       {"connected", s != nullptr}});
    if (!s) continue;
    sessions.push_back({{"name", c.name},
                        {"public_key", crypto::key_to_base64(c.public_key)},
                        {"vip", vip_text(c)},
                        {"vip6", vip6_text(c)},
                        {"endpoint", s->endpoint().to_string()},
                        {"path_mtu", s->path_mtu()},
                        {"rx_bytes", s->stats().rx_bytes},
                        {"tx_bytes", s->stats().tx_bytes},
                        {"handshakes", s->stats().handshakes},
                        {"redundant_bytes", s->redundant_bytes()},
                        {"buffered_bytes", s->buffered_bytes()},
                        {"bonding", s->bonding()},  // its flows return the way each came (issue 30)
                        {"bond_moves", s->bond_moves()},  // flows it moved itself (its direction)
                        {"bond_copies", s->bond_copies()},  // calls' packets also sent to the other endpoint
                        {"bonded_alike", s->bonded_alike()},  // a flow may spread over both endpoints
                        {"reorder", daemon::reorder_json(s->stream().reorder())},
                        {"pacing", daemon::pacing_json(s->pacer(), daemon::now(),
                                                       [s](std::uint32_t p) { return s->paced_endpoints()[p - 1].to_string(); })},
                        {"cipher", crypto::to_string(s->suite())},
                        {"last_handshake", s->last_handshake() ? daemon::to_unix_seconds(*s->last_handshake()) : 0}});
  }
  const json drops = drop_counts();
  return daemon::to_reply(json{{"state", "running"},
              {"interface", tun_->name()},
              {"address", settings_.tun_address ? settings_.tun_address->to_string() : ""},
              {"address6", settings_.tun_address6 ? settings_.tun_address6->to_string() : ""},
              {"listen", listen_text()},
              {"public_key", crypto::key_to_base64(hub_->public_key())},
              {"under_load", hub_->under_load(daemon::now())},
              {"resend_buffer_bytes", hub_->resend_bytes()},
              {"staged_bytes", hub_->staged_bytes()},
              {"queued_bytes", hub_->queued_bytes()},
              {"sessions", sessions},
              {"clients", clients},
              {"cluster", cluster_ ? cluster_->status() : json(nullptr)},
              {"draining", drain_timer_ != nullptr},
              {"data_path", daemon::data_path_json(*tun_, *dp_, sockets_.front()->gso(), sockets_.front()->gro())},
              {"drops", drops}});
}

}  // namespace tund::hub
