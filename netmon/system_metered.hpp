// Which uplinks the system says are metered: NetworkManager's per-device
// Metered property (a phone's hotspot on wlan0 is metered, it knows from the
// connection profile or the hotspot's DHCP hint; a fixed LTE router on eth1
// is not), read over the system bus (sd-bus) inside the caller's Asio loop:
// no thread, no blocking call. Each watched interface is asked
// GetDeviceByIpIface, then its device's Metered; every PropertiesChanged
// NetworkManager emits asks again. `on_change` runs when a verdict changed.
//
// No system bus, no NetworkManager, or an interface it does not manage: no
// verdict (std::nullopt), and the policy falls back to the name globs. An
// answer of the wrong shape is no verdict and is counted, never trusted.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <systemd/sd-bus.h>

#include "daemon/asio.hpp"
#include "daemon/sd_bus_loop.hpp"

namespace tund::netmon {

class SystemMetered {
 public:
  using OnChange = std::function<void()>;
  SystemMetered(asio::io_context& io, OnChange on_change);
  ~SystemMetered();
  SystemMetered(const SystemMetered&) = delete;
  SystemMetered& operator=(const SystemMetered&) = delete;

  // The interfaces to know about (the uplink table's); asks for new ones.
  void watch(const std::vector<std::string>& names);
  std::optional<bool> metered(const std::string& name) const;
  bool on_bus() const { return bus() != nullptr; }
  std::uint64_t bad_answers() const { return bad_answers_; }

 private:
  static int on_device(sd_bus_message* m, void* self, sd_bus_error* error);
  static int on_metered(sd_bus_message* m, void* self, sd_bus_error* error);
  static int on_properties_changed(sd_bus_message* m, void* self, sd_bus_error* error);
  void ask_all();
  void ask_next();
  void finish(std::optional<bool> verdict);
  void on_lost(int error);
  sd_bus* bus() const { return loop_.bus(); }

  OnChange on_change_;
  daemon::BusLoop loop_;
  std::vector<std::string> names_;
  std::map<std::string, std::optional<bool>> verdicts_;
  // One question at a time, in order: the reply names no interface.
  std::vector<std::string> queue_;
  bool asking_ = false;
  std::uint64_t bad_answers_ = 0;
};

}  // namespace tund::netmon
