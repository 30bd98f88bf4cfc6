// tund: the client. Subcommands:
//   tund genkey                      base64 private key on stdout
//   tund pubkey < private.key        base64 public key on stdout
//   tund run -c client.toml [-v]     the daemon, in the foreground
//   tund status -c client.toml [--json]
#include <sys/stat.h>
#include <unistd.h>

#include <iostream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "crypto/primitives.hpp"
#include "daemon/cli.hpp"
#include "daemon/control_socket.hpp"
#include "daemon/log.hpp"
#include "tund/client_daemon.hpp"

namespace {

using namespace tund;

int usage() {
  std::cerr << "usage: tund genkey\n"
               "       tund pubkey < private.key\n"
               "       tund run -c client.toml [-v]\n"
               "       tund status -c client.toml [--json]\n";
  return cli::kUsage;
}

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
            << "  handovers: " << j.value("handovers", 0) << "\n";
  for (const auto& h : j["hubs"]) {
    std::cout << "\nhub: " << h.value("name", "") << "\n"
              << "  state: " << h.value("state", "") << "\n"
              << "  endpoint: " << h.value("endpoint", "") << "\n"
              << "  vip: " << h.value("vip", "") << "\n"
              << "  latest handshake: " << cli::human_age(h.value("last_handshake", std::int64_t{0})) << "\n"
              << "  transfer: " << cli::human_bytes(h.value("rx_bytes", std::uint64_t{0})) << " received, "
              << cli::human_bytes(h.value("tx_bytes", std::uint64_t{0})) << " sent\n";
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
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) return usage();
  const std::string cmd = args[0];
  std::string config;
  bool as_json = false, verbose = false;
  for (std::size_t i = 1; i < args.size(); ++i) {
    if ((args[i] == "-c" || args[i] == "--config") && i + 1 < args.size()) config = args[++i];
    else if (args[i] == "--json") as_json = true;
    else if (args[i] == "-v" || args[i] == "--verbose") verbose = true;
    else return usage();
  }
  crypto::init();
  if (cmd == "genkey" && args.size() == 1) return cmd_genkey();
  if (cmd == "pubkey" && args.size() == 1) return cmd_pubkey();
  if ((cmd != "run" && cmd != "status") || config.empty()) return usage();

  client::ClientSettings settings;
  try {
    settings = client::load_client_config(config);
  } catch (const config::ConfigError& e) {
    std::cerr << e.what() << "\n";
    return cli::kUsage;
  }
  if (cmd == "status") {
    const auto reply = daemon::control_request(settings.control_socket, "status");
    if (!reply) {
      std::cerr << "tund is not running (no daemon at " << settings.control_socket << ")\n";
      return cli::kNotConnected;
    }
    return print_status(*reply, as_json);
  }
  log::set_verbose(verbose);
  try {
    return cli::run_daemon(
        [&](asio::io_context& io) { return std::make_shared<client::ClientDaemon>(io, std::move(settings)); });
  } catch (const std::exception& e) {
    log::error(std::string("tund: ") + e.what());
    return 1;
  }
}
