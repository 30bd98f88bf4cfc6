#include "daemon/cli.hpp"

#include <malloc.h>
#include <unistd.h>

#include "daemon/netlink_config.hpp"
#include "daemon/nftables.hpp"
#include "daemon/watchdog.hpp"

#include <atomic>
#include <cstdio>
#include <ctime>

#include "daemon/asio.hpp"
#include "daemon/log.hpp"

namespace tund::cli {

std::string human_bytes(std::uint64_t n) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(n);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u ? "%.2f %s" : "%.0f %s", v, units[u]);
  return buf;
}

std::string human_age(std::int64_t unix_seconds) {
  if (unix_seconds <= 0) return "never";
  const std::int64_t age = static_cast<std::int64_t>(std::time(nullptr)) - unix_seconds;
  if (age < 120) return std::to_string(age < 0 ? 0 : age) + " s ago";
  if (age < 7200) return std::to_string(age / 60) + " min ago";
  return std::to_string(age / 3600) + " h ago";
}

namespace {
std::atomic<std::uint64_t> g_handler_exceptions{0};
}
std::uint64_t handler_exceptions() { return g_handler_exceptions.load(std::memory_order_relaxed); }
void note_handler_exception() { g_handler_exceptions.fetch_add(1, std::memory_order_relaxed); }

int run_daemon(const std::function<std::shared_ptr<void>(asio::io_context& io)>& make,
               const std::function<void()>& reload, const std::function<void()>& stopping) {
  asio::io_context io(1);
  daemon::SdNotify notify;
  asio::signal_set hup(io, SIGHUP);
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&io, &stopping, &notify](boost::system::error_code ec, int sig) {
    if (!ec) {
      log::notice(std::string("received ") + (sig == SIGINT ? "SIGINT" : "SIGTERM") + ", shutting down");
      notify.stopping();
      stopping();
    }
    io.stop();
  });
  std::function<void()> wait_hup = [&] {
    hup.async_wait([&](boost::system::error_code ec, int) {
      if (ec) return;
      log::notice("received SIGHUP, reloading the config");
      reload();
      wait_hup();
    });
  };
  wait_hup();
  auto daemon = make(io);
  malloc_trim(0);  // give back what reading the config took (a big hub's client list)
  // On this loop, so a handler that never returns stops the pings.
  const daemon::Watchdog watchdog(io, notify);
  // No exception may end the daemon once it runs (every session would go):
  // one that escapes a handler is logged and counted, and the loop goes on.
  for (;;) {
    try {
      io.run();
      break;
    } catch (const std::exception& e) {
      note_handler_exception();
      log::error(std::string("event loop: unexpected exception in a handler: ") + e.what() + "; continuing");
    }
  }
  daemon.reset();
  return kOk;
}

int cleanup(const std::string& program, const std::string& control_socket, const std::string& tun_name,
            const std::vector<std::pair<std::string, std::string>>& nft_tables) {
  if (daemon::control_request(control_socket, "status")) {
    std::cerr << program << " cleanup: a daemon is running at " << control_socket << "; stop it first\n";
    return kNotConnected;
  }
  std::vector<std::string> removed;
  if (::unlink(control_socket.c_str()) == 0) removed.push_back("control socket " + control_socket);
  try {
    daemon::NetlinkConfig netlink;
    if (netlink.delete_link(tun_name)) removed.push_back("interface " + tun_name);
    daemon::Nftables nft;
    for (const auto& [family, name] : nft_tables)
      if (nft.delete_table_if_present(family, name)) removed.push_back("nftables table " + family + " " + name);
  } catch (const std::exception& e) {
    std::cerr << program << " cleanup: " << e.what() << "\n";
    return kNotConnected;
  }
  for (const auto& r : removed) std::cout << "removed " << r << "\n";
  if (removed.empty()) std::cout << "nothing to clean up\n";
  return kOk;
}

}  // namespace tund::cli
