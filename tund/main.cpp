// tund: the client. Subcommands (CONFIG is NAME for /etc/tund/NAME.toml,
// -c FILE, or nothing for the only client config in /etc/tund):
//   tund genkey                      base64 private key on stdout
//   tund pubkey < private.key        base64 public key on stdout
//   tund run CONFIG [-v]             the daemon, in the foreground
//   tund status CONFIG [--json]
//   tund switch UPLINK|auto CONFIG
//   tund cleanup CONFIG              remove what a crashed daemon left behind
//                                    (its TUN, its DNS) but its kill switch (it fails closed)
//   tund down CONFIG                 the same and lift the kill switch
// The options are parsed by daemon/cli_options (CLI11).
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>

#include "crypto/primitives.hpp"
#include "daemon/cli.hpp"
#include "daemon/cli_options.hpp"
#include "daemon/control_socket.hpp"
#include "daemon/log.hpp"
#include "daemon/child_process.hpp"
#include "daemon/netlink_config.hpp"
#include "daemon/resolvconf.hpp"
#include "tund/client_daemon.hpp"
#include "tund/dns_config.hpp"
#include "tund/limits.hpp"

namespace {

using namespace tund;

int cmd_genkey() {
  struct stat st{};
  if (::fstat(STDOUT_FILENO, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & S_IROTH))
    std::cerr << "warning: writing a private key to a world-readable file (try umask 077)\n";
  crypto::SodiumRng rng;
  PrivateKey k;
  crypto::generate_private_key(rng, k);
  std::cout << crypto::key_to_base64(k) << "\n";
  crypto::wipe(k);
  return cli::kOk;
}

int cmd_pubkey() {
  const std::string text((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
  PrivateKey k;
  PublicKey p;
  if (!crypto::key_from_base64(text, k) || !crypto::derive_public_key(k, p)) {
    std::cerr << "tund pubkey: stdin does not hold a base64 32-byte private key\n";
    return cli::kUsage;
  }
  crypto::wipe(k);
  std::cout << crypto::key_to_base64(p) << "\n";
  return cli::kOk;
}

// The config, its warnings logged (the reader logs nothing itself).
client::ClientSettings load_config(const std::string& path) {
  auto s = client::load_client_config(path);
  for (const auto& w : s.warnings) log::warning(w);
  return s;
}

// `tund switch IF` pins every session to that uplink; `auto` returns to policy.
int cmd_switch(const cli::Args& args, const std::string& uplink) {
  client::ClientSettings settings;
  try {
    settings = load_config(args.config);
  } catch (const config::ConfigError& e) {
    std::cerr << e.what() << "\n";
    return cli::kUsage;
  }
  const auto reply = daemon::control_request(settings.control_socket, "switch " + uplink);
  if (!reply) {
    std::cerr << "tund is not running (no daemon at " << settings.control_socket << ")\n";
    return cli::kNotConnected;
  }
  const auto j = nlohmann::json::parse(*reply, nullptr, false);
  if (j.is_discarded() || j.contains("error")) {
    std::cerr << "tund switch: " << (j.is_discarded() ? std::string("unreadable reply") : j.value("error", "")) << "\n";
    return cli::kNotConnected;
  }
  std::cout << "active uplink: " << j.value("active_uplink", "") << "\n";
  return cli::kOk;
}

// `tund cleanup NAME` (the unit's ExecStopPost) or `tund cleanup -c FILE`;
// `tund down` also lifts the kill switch, which cleanup keeps: after a crash
// (or once systemd gives up restarting) nothing leaves outside the tunnel
// until someone says so.
int cmd_cleanup(const cli::Args& args) {
  client::ClientSettings s;
  try {
    s = load_config(args.config);
  } catch (const config::ConfigError& e) {
    std::cerr << e.what() << "\n";
    return cli::kUsage;
  }
  daemon::NetlinkConfig netlink;
  int rules = netlink.delete_rules_for_table(s.fwmark);
  daemon::NetlinkConfig::Rule main_first;
  main_first.priority = limits::kRulePriority;
  main_first.table = limits::kMainRoutingTable;
  main_first.suppress_prefixlen = 0;
  while (netlink.delete_rule(main_first)) ++rules;
  if (rules) std::cout << "removed " << rules << " routing rule(s) of the full tunnel\n";
  std::vector<std::pair<std::string, std::string>> tables{{"inet", client::client_table_name(s.tun_name)}};
  const bool keep_guard = s.kill_switch && args.command == "cleanup";
  if (!keep_guard) tables.emplace_back("inet", client::guard_table_name(s.tun_name));
  const int rc = cli::cleanup("tund", s.control_socket, s.tun_name, tables);
  // systemd-resolved forgot the TUN with it; a resolvconf entry outlives it.
  if (rc == cli::kOk && !client::tunnel_dns_servers(s.hubs).empty()) {
    const auto r = daemon::run_child_now(daemon::resolvconf_delete_argv(s.tun_name), "", limits::kDnsRevertTimeout);
    if (r.ok()) std::cout << "removed the DNS of " << s.tun_name << " (resolvconf -d)\n";
  }
  if (rc == cli::kOk && keep_guard)
    std::cout << "kept the kill switch (nftables table inet " << client::guard_table_name(s.tun_name)
              << "): nothing leaves outside the tunnel until tund runs again or `tund down` lifts it\n";
  return rc;
}

int print_status(const std::string& json_text, bool as_json) {
  const auto j = nlohmann::json::parse(json_text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    std::cerr << "tund status: the daemon sent an unreadable reply\n";
    return cli::kNotConnected;
  }
  const bool connected = j.value("state", "") == "connected";
  if (as_json) {
    std::cout << j.dump(2) << "\n";
    return connected ? cli::kOk : cli::kNotConnected;
  }
  std::cout << "interface: " << j.value("interface", "") << "\n"
            << "  state: " << j.value("state", "") << "\n"
            << "  vip: " << j.value("vip", "") << "\n"
            << "  active uplink: " << (j.value("active_uplink", "").empty() ? "(system routing)" : j.value("active_uplink", "")) << "\n"
            << "  handovers: " << j.value("handovers", 0);
  if (j.value("handovers", 0) > 0) {
    const auto& h = j["last_handover"];
    std::cout << " (last: " << h.value("from", "") << " -> " << h.value("to", "") << ", " << h.value("reason", "")
              << ", switch exchange " << h.value("duration_us", 0) / 1000.0 << " ms, "
              << j.value("resent_packets", 0) << " packets resent in all)";
  }
  std::cout << "\n";
  for (const auto& h : j["hubs"]) {
    std::cout << "\nhub: " << h.value("name", "") << "\n"
              << "  state: " << h.value("state", "") << " (traffic " << h.value("traffic", "") << ")\n"
              << "  endpoint: " << h.value("endpoint", "") << "\n"
              << "  vip: " << h.value("vip", "") << "\n"
              << "  latest handshake: " << cli::human_age(h.value("last_handshake", std::int64_t{0})) << "\n"
              << "  transfer: " << cli::human_bytes(h.value("rx_bytes", std::uint64_t{0})) << " received, "
              << cli::human_bytes(h.value("tx_bytes", std::uint64_t{0})) << " sent\n";
  }
  if (j.contains("uplinks") && !j["uplinks"].empty()) {
    std::cout << "\nuplinks:\n";
    std::printf("  %-10s %-9s %-5s %-8s %-9s %-7s %-6s %s\n", "name", "kind", "up", "rtt", "loss", "probes", "role", "why");
    for (const auto& u : j["uplinks"]) {
      std::string addrs;
      for (const auto& a : u["addresses"]) addrs += (addrs.empty() ? "" : ",") + a.get<std::string>();
      const std::string rtt = u["rtt_ms"].is_null() ? "-" : std::to_string(u["rtt_ms"].get<double>()).substr(0, 5) + "ms";
      const std::string loss = u["loss"].is_null() ? "-" : std::to_string(static_cast<int>(u["loss"].get<double>() * 100)) + "%";
      std::printf("  %-10s %-9s %-5s %-8s %-9s %-7llu %-6s %s [%s]\n", u.value("name", "").c_str(), u.value("kind", "").c_str(),
                  u.value("up", false) ? "yes" : "no", rtt.c_str(), loss.c_str(),
                  static_cast<unsigned long long>(u.value("probes_sent", std::uint64_t{0})), u.value("role", "").c_str(),
                  u.value("reason", "").c_str(), addrs.c_str());
    }
  }
  if (j.contains("drops") && !j["drops"].empty()) {
    std::cout << "\ndropped:";
    for (const auto& [reason, n] : j["drops"].items()) std::cout << " " << reason << "=" << n;
    std::cout << "\n";
  }
  return connected ? cli::kOk : cli::kNotConnected;
}

}  // namespace

int main(int argc, char** argv) {
  cli::Args args{.program = "tund", .role = config::Role::kClient};
  std::string uplink;
  const auto app = cli::make_app("tund: a VPN client whose sessions survive network handover", args);
  cli::add_command(*app, "genkey", "Print a new private key (base64); use umask 077", args);
  cli::add_command(*app, "pubkey", "Read a private key on standard input, print its public key", args);
  cli::add_daemon_commands(*app, args);
  app->get_subcommand("cleanup")->description(
      "Remove what a daemon that died left behind, except a kill switch (refused while one answers; the unit's "
      "ExecStopPost)");
  auto* sw = cli::add_command(*app, "switch", "Pin traffic to an uplink while it is usable, or back to the policy (auto)", args);
  sw->add_option("UPLINK", uplink, "An uplink's interface, or auto")->type_name("")->required();
  cli::add_config_choice(*sw, args);
  auto* down = cli::add_command(*app, "down", "The same as cleanup, and lift the kill switch", args);
  cli::add_config_choice(*down, args);
  if (const auto rc = cli::parse(*app, argc, argv)) return *rc;

  crypto::init();
  if (args.command == "genkey") return cmd_genkey();
  if (args.command == "pubkey") return cmd_pubkey();
  if (!cli::resolve_config(args)) return cli::kUsage;
  if (args.command == "switch") return cmd_switch(args, uplink);
  if (args.command == "cleanup" || args.command == "down") return cmd_cleanup(args);
  return cli::run_or_status<client::ClientDaemon>(args, load_config, print_status);
}
