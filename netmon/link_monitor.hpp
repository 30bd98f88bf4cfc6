// Keeps an UplinkTable current from rtnetlink, inside the caller's Asio loop
// (no thread, no blocking read):
//   - a libnl socket subscribed to link, address and route groups (v4 and v6)
//     wakes the loop; pending events are drained and the table is rebuilt from
//     one fresh dump (link, address, route caches). A rebuild is cheap for a
//     handful of interfaces and can never drift from the kernel.
//   - the table is also re-read every `refresh` period and after ENOBUFS (an
//     overrun means events were lost).
// `on_change` runs only when the table actually changed.
// Interfaces whose names match `exclude` (the tunnel's own TUN devices) and
// loopback/ARPHRD_NONE devices are never in the table.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "daemon/asio.hpp"
#include "netmon/uplink_table.hpp"

struct nl_sock;

namespace tund::netmon {

class LinkMonitor {
 public:
  using OnChange = std::function<void(const UplinkTable&)>;
  LinkMonitor(asio::io_context& io, std::vector<std::string> exclude, OnChange on_change,
              std::chrono::milliseconds refresh = std::chrono::seconds(2));
  ~LinkMonitor();

  const UplinkTable& table() const { return table_; }
  // Re-reads now (also what events, the period and overruns do).
  void refresh();

 private:
  void wait_events();
  void arm_periodic();
  UplinkTable dump() const;

  nl_sock* events_ = nullptr;  // subscribed, non-blocking
  nl_sock* query_ = nullptr;   // for dumps
  std::vector<std::string> exclude_;
  OnChange on_change_;
  std::chrono::milliseconds period_;
  asio::posix::stream_descriptor fd_;
  asio::steady_timer timer_;
  UplinkTable table_;
};

// The kind of an interface, from sysfs (DEVTYPE, wireless/) or, where the
// kernel says nothing (veth, virtual devices), from its name.
UplinkKind detect_kind(const std::string& name);

}  // namespace tund::netmon
