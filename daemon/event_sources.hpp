// The two event sources every daemon loop needs, on Boost.Asio:
//   FdWatch        calls back each time a file descriptor becomes readable
//                  (the callback drains it in a batch; the watch re-arms)
//   DeadlineTimer  calls back at a core-reported deadline; re-arming to the
//                  same deadline is free, kNever disarms
#pragma once

#include <unistd.h>

#include <functional>

#include "daemon/asio.hpp"
#include "tund/types.hpp"

namespace tund::daemon {

class FdWatch {
 public:
  FdWatch(asio::io_context& io, int fd, std::function<void()> on_readable)
      : desc_(io, ::dup(fd)), on_readable_(std::move(on_readable)) {
    arm();
  }

 private:
  void arm() {
    desc_.async_wait(asio::posix::stream_descriptor::wait_read, [this](boost::system::error_code ec) {
      if (ec) return;
      on_readable_();
      arm();
    });
  }
  asio::posix::stream_descriptor desc_;  // owns a dup of the fd
  std::function<void()> on_readable_;
};

class DeadlineTimer {
 public:
  DeadlineTimer(asio::io_context& io, std::function<void()> on_expiry)
      : timer_(io), on_expiry_(std::move(on_expiry)) {}
  ~DeadlineTimer() { timer_.cancel(); }

  void arm(Time deadline) {
    if (deadline == armed_for_) return;
    armed_for_ = deadline;
    if (deadline == kNever) {
      timer_.cancel();
      return;
    }
    timer_.expires_at(deadline);
    timer_.async_wait([this](boost::system::error_code ec) {
      if (ec) return;
      armed_for_ = kNever;
      on_expiry_();
    });
  }

 private:
  asio::steady_timer timer_;
  std::function<void()> on_expiry_;
  Time armed_for_ = kNever;
};

}  // namespace tund::daemon
