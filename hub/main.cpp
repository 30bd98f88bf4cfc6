// tund-hub: the hub. Subcommands (CONFIG is NAME for /etc/tund/NAME.toml,
// -c FILE, or nothing for the only hub config in /etc/tund; HUB is -c FILE or
// nothing, since NAME there is the client's):
//   tund-hub run CONFIG [-v]
//   tund-hub status CONFIG [--json]
//   tund-hub cleanup CONFIG          remove what a crashed daemon left behind
//   tund-hub drain CONFIG            a cluster member: move its clients away, then stop
//   tund-hub add-client NAME [--vip A.B.C.D] [--routes P,P] [--endpoint IP:PORT] HUB
//   tund-hub remove-client NAME HUB  (see hub/onboarding.hpp)
// The options are parsed by daemon/cli_options (CLI11).
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "daemon/cli.hpp"
#include "daemon/cli_options.hpp"
#include "daemon/control_socket.hpp"
#include "daemon/log.hpp"
#include "hub/hub_daemon.hpp"
#include "hub/onboarding.hpp"

namespace {

using namespace tund;

int print_status(const std::string& text, bool as_json) {
  const auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    std::cerr << "tund-hub status: the daemon sent an unreadable reply\n";
    return cli::kNotConnected;
  }
  if (as_json) {
    std::cout << j.dump(2) << "\n";
    return cli::kOk;
  }
  std::cout << "interface: " << j.value("interface", "") << " " << j.value("address", "") << "\n"
            << "  listening: " << j.value("listen", "") << "\n"
            << "  public key: " << j.value("public_key", "") << "\n"
            << "  sessions: " << j["sessions"].size() << " of " << j["clients"].size() << " clients\n"
            << "  session buffers: " << cli::human_bytes(j.value("resend_buffer_bytes", std::uint64_t{0}))
            << " resend, " << cli::human_bytes(j.value("staged_bytes", std::uint64_t{0})) << " staged\n";
  for (const auto& s : j["sessions"]) {
    std::cout << "\nclient: " << s.value("name", "") << "\n"
              << "  vip: " << s.value("vip", "") << "\n"
              << "  endpoint: " << s.value("endpoint", "") << "\n"
              << "  latest handshake: " << cli::human_age(s.value("last_handshake", std::int64_t{0})) << "\n"
              << "  transfer: " << cli::human_bytes(s.value("rx_bytes", std::uint64_t{0})) << " received, "
              << cli::human_bytes(s.value("tx_bytes", std::uint64_t{0})) << " sent\n";
  }
  if (const auto& c = j["cluster"]; c.is_object())
    std::cout << "\ncluster: " << c.value("name", "") << ", member " << c.value("member", "") << " ("
              << (c.value("serving", false) ? "serving" : "not serving: no etcd lease") << "), home block "
              << c.value("home_block", "") << ", " << c.value("sessions_claimed", 0) << " session(s) claimed, "
              << c.value("etcd_errors", 0) << " etcd error(s)\n";
  if (!j["drops"].empty()) {
    std::cout << "\ndropped:";
    for (const auto& [reason, n] : j["drops"].items()) std::cout << " " << reason << "=" << n;
    std::cout << "\n";
  }
  return cli::kOk;
}

// The config for a command that only talks to the daemon or the system; a
// config error is printed (the caller exits 2).
std::optional<hub::HubSettings> load(const std::string& path) {
  try {
    return hub::load_hub_config(path);
  } catch (const config::ConfigError& e) {
    std::cerr << e.what() << "\n";
    return std::nullopt;
  }
}

int cmd_cleanup(const cli::Args& args) {
  const auto settings = load(args.config);
  if (!settings) return cli::kUsage;
  const auto& s = *settings;
  return cli::cleanup("tund-hub", s.control_socket, s.tun_name, {{"ip", hub::nat_table_name(s.tun_name)}});
}

// Asks the running member to drain, then waits for it to stop (its clients
// gone to other members, or the drain's deadline).
int cmd_drain(const cli::Args& args) {
  const auto settings = load(args.config);
  if (!settings) return cli::kUsage;
  const auto& s = *settings;
  const auto reply = daemon::control_request(s.control_socket, "drain");
  if (!reply) {
    std::cerr << "tund-hub is not running (no daemon at " << s.control_socket << ")\n";
    return cli::kNotConnected;
  }
  const auto j = nlohmann::json::parse(*reply, nullptr, false);
  if (!j.is_object() || !j.value("ok", false)) {
    std::cerr << "tund-hub drain: " << (j.is_object() ? j.value("error", *reply) : *reply) << "\n";
    return j.is_object() && j.value("error", "").find("[cluster]") != std::string::npos ? cli::kUsage : cli::kNotConnected;
  }
  std::cout << "draining " << j.value("sessions", 0) << " session(s)\n";
  const auto until = std::chrono::steady_clock::now() + limits::kDrainDeadline + std::chrono::seconds(2);
  while (std::chrono::steady_clock::now() < until) {
    if (!daemon::control_request(s.control_socket, "status")) {
      std::cout << "drained: the member has stopped\n";
      return cli::kOk;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::cerr << "tund-hub drain: the member is still running after the drain's deadline\n";
  return cli::kNotConnected;
}

}  // namespace

int main(int argc, char** argv) {
  cli::Args args{.program = "tund-hub", .role = config::Role::kHub};
  hub::AddClientRequest req;  // add-client's; remove-client's NAME too
  const auto app = cli::make_app("tund-hub: the server side of tund (sessions, VIPs, NAT)", args);
  cli::add_daemon_commands(*app, args);
  auto* drain = cli::add_command(
      *app, "drain", "A cluster member: move its clients to other members, take no new ones, then stop", args);
  cli::add_config_choice(*drain, args);
  auto* add = cli::add_command(*app, "add-client",
                               "Onboard a client: write its file, reload a running hub, print its whole config", args);
  add->add_option("NAME", req.name, "The client's name")->type_name("")->required();
  add->add_option("--vip", req.vip, "Its VIP (default: the lowest free one)")->type_name("A.B.C.D");
  add->add_option("--routes", req.routes, "What it sends through the hub (default: the [nat] masquerade networks)")
      ->type_name("P,P...");
  add->add_option("--endpoint", req.endpoint, "Where it reaches the hub (default: listen, unless a wildcard)")
      ->type_name("IP:PORT");
  cli::add_config_option(*add, args);
  auto* remove = cli::add_command(*app, "remove-client", "Remove a client that add-client added, and reload a running hub", args);
  remove->add_option("NAME", req.name, "The client's name")->type_name("")->required();
  cli::add_config_option(*remove, args);
  if (const auto rc = cli::parse(*app, argc, argv)) return *rc;

  if (!cli::resolve_config(args)) return cli::kUsage;
  crypto::init();
  if (args.command == "add-client") return hub::add_client(args.config, req, std::cout, std::cerr);
  if (args.command == "remove-client") return hub::remove_client(args.config, req.name, std::cout, std::cerr);
  if (args.command == "cleanup") return cmd_cleanup(args);
  if (args.command == "drain") return cmd_drain(args);
  return cli::run_or_status<hub::HubDaemon>(args, hub::load_hub_config, print_status);
}
