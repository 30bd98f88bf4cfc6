#include "daemon/sd_bus_loop.hpp"

#include <poll.h>
#include <unistd.h>

namespace tund::daemon {

BusLoop::BusLoop(asio::io_context& io, OnLost on_lost) : on_lost_(std::move(on_lost)), fd_(io), timeout_(io) {
  if (const int r = sd_bus_open_system(&bus_); r < 0) {
    bus_ = nullptr;
    open_error_ = r;
    return;
  }
  fd_.assign(::dup(sd_bus_get_fd(bus_)));
}

BusLoop::~BusLoop() {
  if (bus_) sd_bus_close_unref(bus_);
}

void BusLoop::close() {
  sd_bus_close_unref(bus_);
  bus_ = nullptr;
  boost::system::error_code ignored;
  fd_.close(ignored);
  timeout_.cancel();
}

void BusLoop::process() {
  int r;
  while ((r = sd_bus_process(bus_, nullptr)) > 0) {
  }
  if (r < 0) {
    close();
    if (on_lost_) on_lost_(r);
    return;
  }
  arm();
}

void BusLoop::arm() {
  if (!bus_) return;
  const int events = sd_bus_get_events(bus_);
  if (!waiting_ && events > 0) {
    waiting_ = true;
    fd_.async_wait(events & POLLOUT ? asio::posix::stream_descriptor::wait_write : asio::posix::stream_descriptor::wait_read,
                   [this](boost::system::error_code ec) {
                     if (ec == asio::error::operation_aborted) return;
                     waiting_ = false;
                     if (!ec && bus_) process();
                   });
  }
  std::uint64_t usec = 0;
  if (sd_bus_get_timeout(bus_, &usec) >= 0 && usec != UINT64_MAX) {
    // sd-bus gives an absolute CLOCK_MONOTONIC time, which is steady_clock's.
    timeout_.expires_at(std::chrono::steady_clock::time_point(std::chrono::microseconds(usec)));
    timeout_.async_wait([this](boost::system::error_code ec) {
      if (ec == asio::error::operation_aborted) return;
      if (bus_) process();
    });
  }
}

}  // namespace tund::daemon
