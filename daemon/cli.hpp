// Small helpers shared by the two command-line front ends.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "daemon/asio.hpp"

namespace tund::cli {

// Exit codes of every command: 0 success / connected, 1 not connected or no
// daemon, 2 usage or config error.
inline constexpr int kOk = 0;
inline constexpr int kNotConnected = 1;
inline constexpr int kUsage = 2;

std::string human_bytes(std::uint64_t n);  // "1.20 MiB"
std::string human_age(std::int64_t unix_seconds);  // "12 s ago", "never"

// Builds the daemon with `make` on a fresh io_context and runs it until SIGINT
// or SIGTERM; the daemon is destroyed (cleaning up what it added to the
// system) before the io_context. Startup exceptions propagate to the caller.
int run_daemon(const std::function<std::shared_ptr<void>(asio::io_context& io)>& make);

}  // namespace tund::cli
