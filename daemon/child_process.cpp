#include "daemon/child_process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

extern char** environ;

namespace tund::daemon {

namespace {

// Starts argv with `input` on its stdin; the pid, or -1 with `error` set.
// The input goes through a socket pair, not a pipe: a child that exits
// without reading it must not raise SIGPIPE in the daemon (MSG_NOSIGNAL).
pid_t spawn(const std::vector<std::string>& argv, const std::string& input, int& error) {
  error = 0;
  if (argv.empty()) {
    error = EINVAL;
    return -1;
  }
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
    error = errno;
    return -1;
  }
  // Our end never blocks: input beyond the socket's buffer (hundreds of KiB,
  // far beyond a resolv.conf fragment) is not sent rather than wait on a
  // child that does not read.
  ::fcntl(sv[0], F_SETFL, ::fcntl(sv[0], F_GETFL) | O_NONBLOCK);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, sv[1], STDIN_FILENO);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addclosefrom_np(&actions, STDERR_FILENO + 1);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  error = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(sv[1]);
  if (error) {
    ::close(sv[0]);
    return -1;
  }
  for (std::size_t sent = 0; sent < input.size();) {
    const ssize_t n = ::send(sv[0], input.data() + sent, input.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // full, or the child closed its stdin: its exit status will tell
    sent += static_cast<std::size_t>(n);
  }
  ::close(sv[0]);
  return pid;
}

ChildResult from_status(int status, bool killed) {
  ChildResult r;
  r.timed_out = killed;
  if (WIFEXITED(status)) r.exit_status = WEXITSTATUS(status);
  return r;
}

int pidfd_open(pid_t pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }

}  // namespace

std::string ChildResult::describe() const {
  if (spawn_error == ENOENT) return "not found";
  if (spawn_error) return std::string("cannot start it: ") + std::strerror(spawn_error);
  if (timed_out) return "killed: no exit within its time";
  if (exit_status < 0) return "killed by a signal";
  return "exit status " + std::to_string(exit_status);
}

ChildRun::ChildRun(asio::io_context& io, Done done) : pidfd_(io), timer_(io), done_(std::move(done)) {}

std::shared_ptr<ChildRun> ChildRun::start(asio::io_context& io, const std::vector<std::string>& argv,
                                          const std::string& input, std::chrono::steady_clock::duration timeout,
                                          Done done) {
  auto run = std::make_shared<ChildRun>(io, std::move(done));
  int error = 0;
  run->pid_ = spawn(argv, input, error);
  if (run->pid_ < 0) {
    ChildResult r;
    r.spawn_error = error;
    asio::post(io, [run, r] { run->finish(r); });
    return run;
  }
  const int fd = pidfd_open(run->pid_);
  if (fd < 0) {
    // No pidfd (a kernel before 5.3): wait here, bounded by the child's own brevity.
    int status = 0;
    ::waitpid(run->pid_, &status, 0);
    asio::post(io, [run, r = from_status(status, false)] { run->finish(r); });
    return run;
  }
  run->pidfd_.assign(fd);
  run->pidfd_.async_wait(asio::posix::stream_descriptor::wait_read, [run](boost::system::error_code) { run->reap(); });
  run->timer_.expires_after(timeout);
  run->timer_.async_wait([run](boost::system::error_code ec) {
    if (ec || run->pid_ < 0) return;
    run->killed_ = true;
    ::kill(run->pid_, SIGKILL);  // its pidfd becomes readable: reap() follows
  });
  return run;
}

void ChildRun::reap() {
  if (pid_ < 0) return;
  int status = 0;
  if (::waitpid(pid_, &status, WNOHANG) != pid_) {
    // Woken before the exit (should not happen with a pidfd): wait again.
    pidfd_.async_wait(asio::posix::stream_descriptor::wait_read,
                      [self = shared_from_this()](boost::system::error_code) { self->reap(); });
    return;
  }
  pid_ = -1;
  timer_.cancel();
  boost::system::error_code ignored;
  pidfd_.close(ignored);
  finish(from_status(status, killed_));
}

void ChildRun::finish(const ChildResult& r) {
  if (auto d = std::move(done_)) d(r);
}

ChildResult run_child_now(const std::vector<std::string>& argv, const std::string& input,
                          std::chrono::steady_clock::duration timeout) {
  ChildResult r;
  const pid_t pid = spawn(argv, input, r.spawn_error);
  if (pid < 0) return r;
  const int fd = pidfd_open(pid);
  bool killed = false;
  if (fd >= 0) {
    pollfd p{fd, POLLIN, 0};
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(timeout).count();
    int n;
    while ((n = ::poll(&p, 1, static_cast<int>(ms))) < 0 && errno == EINTR) {
    }
    if (n == 0) {
      killed = true;
      ::kill(pid, SIGKILL);
    }
    ::close(fd);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return from_status(status, killed);
}

}  // namespace tund::daemon
