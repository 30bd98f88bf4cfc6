// Small helpers shared by the two command-line front ends.
#pragma once

#include <cstdint>
#include <functional>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "daemon/asio.hpp"
#include "daemon/config_check.hpp"
#include "daemon/config_files.hpp"
#include "daemon/control_socket.hpp"
#include "daemon/log.hpp"

namespace tund::cli {

// Exit codes of every command: 0 success / connected, 1 not connected or no
// daemon, 2 usage or config error.
inline constexpr int kOk = 0;
inline constexpr int kNotConnected = 1;
inline constexpr int kUsage = 2;

// What the command line asked for (parsed with CLI11: daemon/cli_options.hpp).
struct Args {
  std::string program;  // "tund" or "tund-hub"
  config::Role role;    // whose configs it reads
  std::string command{};
  std::string config{};  // -c FILE; once resolved (cli_options.hpp), the file every command loads
  std::string name{};    // NAME: /etc/tund/NAME.toml (daemon/config_files.hpp)
  bool json = false;
  bool verbose = false;
};

std::string human_bytes(std::uint64_t n);  // "1.20 MiB"
std::string human_age(std::int64_t unix_seconds);  // "12 s ago", "never"

// Builds the daemon with `make` on a fresh io_context and runs it until SIGINT
// or SIGTERM; the daemon is destroyed (cleaning up what it added to the
// system) before the io_context. Startup exceptions propagate to the caller.
// SIGHUP calls `reload` (on the event loop); SIGINT or SIGTERM sends
// STOPPING=1 and calls `stopping` before the loop ends (an explicit stop, not
// a crash). Under a unit with WatchdogSec= the loop feeds systemd's watchdog
// (daemon/watchdog.hpp).
int run_daemon(const std::function<std::shared_ptr<void>(asio::io_context& io)>& make,
               const std::function<void()>& reload, const std::function<void()>& stopping);
// Exceptions that escaped an event-loop handler since start (status shows it).
std::uint64_t handler_exceptions();
void note_handler_exception();

// The `run` and `status` commands, the same for both programs: load the config
// (errors exit 2), then either ask the running daemon for its status or run
// one. `print` formats a status reply and returns the exit code.
template <class Daemon, class Settings>
int run_or_status(const Args& args, Settings (*load)(const std::string&), int (*print)(const std::string& reply, bool json)) {
  const std::string& program = args.program;
  Settings settings;
  try {
    settings = load(args.config);
  } catch (const config::ConfigError& e) {
    std::cerr << e.what() << "\n";
    return kUsage;
  }
  if (args.command == "status") {
    const auto reply = daemon::control_request(settings.control_socket, "status");
    if (!reply) {
      std::cerr << program << " is not running (no daemon at " << settings.control_socket << ")\n";
      return kNotConnected;
    }
    return print(*reply, args.json);
  }
  log::set_verbose(args.verbose);
  try {
    Daemon* running = nullptr;  // lives exactly as long as the event loop runs
    const std::string path = args.config;
    return run_daemon(
        [&](asio::io_context& io) {
          auto d = std::make_shared<Daemon>(io, std::move(settings));
          running = d.get();
          return d;
        },
        [&running, path, load, program] {
          // A config that does not load changes nothing: the daemon goes on as it was.
          try {
            running->reload(load(path));
          } catch (const config::ConfigError& e) {
            log::error(program + ": reload refused, config unchanged: " + e.what());
            running->reload_failed();
          }
        },
        [&running] {
          if constexpr (requires { running->stopping(); }) running->stopping();
        });
  } catch (const std::exception& e) {
    log::error(program + ": " + e.what());
    return 1;
  }
}

// `cleanup`: removes what a daemon that died without cleaning up left behind
// (its control socket, its TUN device, its nftables tables). Refuses while a
// daemon answers on the control socket. Idempotent: it is systemd's
// ExecStopPost, which runs after clean stops too.
int cleanup(const std::string& program, const std::string& control_socket, const std::string& tun_name,
            const std::vector<std::pair<std::string, std::string>>& nft_tables);

}  // namespace tund::cli
