// tund-hub: the hub. Subcommands:
//   tund-hub run -c hub.toml [-v]
//   tund-hub status -c hub.toml [--json]
//   tund-hub cleanup -c hub.toml     remove what a crashed daemon left behind
//   tund-hub drain -c hub.toml       a cluster member: move its clients away, then stop
//   tund-hub add-client NAME [--vip A.B.C.D] [--routes P,P] [--endpoint IP:PORT] -c hub.toml
//   tund-hub remove-client NAME -c hub.toml     (see hub/onboarding.hpp)
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "daemon/cli.hpp"
#include "daemon/control_socket.hpp"
#include "daemon/log.hpp"
#include "hub/hub_daemon.hpp"
#include "hub/onboarding.hpp"

namespace {

using namespace tund;

int usage() {
  std::cerr << "usage: tund-hub run -c hub.toml [-v]\n"
               "       tund-hub status -c hub.toml [--json]\n"
               "       tund-hub cleanup -c hub.toml\n"
               "       tund-hub drain -c hub.toml\n"
               "       tund-hub add-client NAME [--vip A.B.C.D] [--routes P,P] [--endpoint IP:PORT] -c hub.toml\n"
               "       tund-hub remove-client NAME -c hub.toml\n";
  return cli::kUsage;
}

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
  const auto path = cli::config_path(args);
  if (path.empty()) return usage();
  const auto settings = load(path);
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
  const auto args = cli::parse_args(argc, argv);
  if (args && args->command == "add-client" && args->positional.size() == 1 && !args->config.empty()) {
    crypto::init();
    hub::AddClientRequest req;
    req.name = args->positional[0];
    const auto opt = [&](const char* k) -> std::optional<std::string> {
      const auto it = args->options.find(k);
      return it == args->options.end() ? std::nullopt : std::optional<std::string>(it->second);
    };
    req.vip = opt("vip");
    req.routes = opt("routes");
    req.endpoint = opt("endpoint");
    return hub::add_client(args->config, req, std::cout, std::cerr);
  }
  if (args && args->command == "remove-client" && args->positional.size() == 1 && !args->config.empty() &&
      args->options.empty())
    return hub::remove_client(args->config, args->positional[0], std::cout, std::cerr);
  if (!args || !args->options.empty()) return usage();
  if (args->command == "cleanup") return cmd_cleanup(*args);
  if (args->command == "drain" && !args->config.empty()) return cmd_drain(*args);
  if (!args || (args->command != "run" && args->command != "status") || args->config.empty()) return usage();
  crypto::init();
  return cli::run_or_status<hub::HubDaemon>(*args, "tund-hub", hub::load_hub_config, print_status);
}
