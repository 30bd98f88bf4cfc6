// Running a helper program (resolvconf, for a tunnel's DNS where
// systemd-resolved is absent) without a shell: argv[0] found on PATH, `input`
// on its standard input, its output discarded, its errors on the daemon's
// stderr (the journal), none of the daemon's other descriptors. Bounded in
// time: killed after `timeout`. Either on the event loop (ChildRun: its exit
// wakes the loop through a pidfd) or, at a stop or in a one-shot command,
// waiting for it (run_child_now).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "daemon/asio.hpp"

namespace tund::daemon {

struct ChildResult {
  int spawn_error = 0;     // an errno: ENOENT when the program is not installed
  int exit_status = -1;    // its exit code; -1 when it did not exit by itself
  bool timed_out = false;  // killed at its timeout
  bool ok() const { return !spawn_error && !timed_out && exit_status == 0; }
  std::string describe() const;  // "exit status 1", "not found", ...
};

class ChildRun : public std::enable_shared_from_this<ChildRun> {
 public:
  using Done = std::function<void(const ChildResult&)>;
  // `done` runs once, on the loop (never from start itself).
  static std::shared_ptr<ChildRun> start(asio::io_context& io, const std::vector<std::string>& argv,
                                         const std::string& input, std::chrono::steady_clock::duration timeout,
                                         Done done);
  // `done` will not run; the child is still reaped, or killed at its timeout.
  void abandon() { done_ = nullptr; }

  ChildRun(asio::io_context& io, Done done);  // use start()

 private:
  void finish(const ChildResult& r);
  void reap();
  pid_t pid_ = -1;
  bool killed_ = false;
  asio::posix::stream_descriptor pidfd_;
  asio::steady_timer timer_;
  Done done_;
};

ChildResult run_child_now(const std::vector<std::string>& argv, const std::string& input,
                          std::chrono::steady_clock::duration timeout);

}  // namespace tund::daemon
