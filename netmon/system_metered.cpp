#include "netmon/system_metered.hpp"

#include <systemd/sd-bus.h>

#include <algorithm>
#include <cstring>

#include "daemon/log.hpp"

namespace tund::netmon {

namespace {
constexpr const char* kService = "org.freedesktop.NetworkManager";
constexpr const char* kDeviceInterface = "org.freedesktop.NetworkManager.Device";

// NMMetered: 0 unknown, 1 yes, 2 no, 3 guessed yes, 4 guessed no.
std::optional<bool> from_nm_metered(std::uint32_t v) {
  if (v == 1 || v == 3) return true;
  if (v == 2 || v == 4) return false;
  return std::nullopt;
}
}  // namespace

SystemMetered::SystemMetered(asio::io_context& io, OnChange on_change)
    : on_change_(std::move(on_change)), loop_(io, [this](int error) { on_lost(error); }) {
  if (!bus()) {
    log::info("metered uplinks: no system bus (" + std::string(strerror(-loop_.open_error())) + "): from the names");
    return;
  }
  // Any device property NetworkManager changes may be Metered: ask again.
  sd_bus_match_signal_async(bus(), nullptr, kService, nullptr, "org.freedesktop.DBus.Properties", "PropertiesChanged",
                            on_properties_changed, nullptr, this);
  loop_.arm();
}

SystemMetered::~SystemMetered() = default;

void SystemMetered::watch(const std::vector<std::string>& names) {
  names_ = names;
  for (auto it = verdicts_.begin(); it != verdicts_.end();)
    it = std::find(names.begin(), names.end(), it->first) == names.end() ? verdicts_.erase(it) : std::next(it);
  if (!bus()) return;
  for (const auto& n : names)
    if (!verdicts_.count(n) && std::find(queue_.begin(), queue_.end(), n) == queue_.end()) queue_.push_back(n);
  if (!asking_) ask_next();
}

std::optional<bool> SystemMetered::metered(const std::string& name) const {
  const auto it = verdicts_.find(name);
  return it == verdicts_.end() ? std::nullopt : it->second;
}

void SystemMetered::ask_all() {
  for (const auto& n : names_)
    if (std::find(queue_.begin(), queue_.end(), n) == queue_.end()) queue_.push_back(n);
  if (!asking_) ask_next();
}

void SystemMetered::ask_next() {
  if (queue_.empty()) {
    asking_ = false;
    return;
  }
  asking_ = true;
  const int r = sd_bus_call_method_async(bus(), nullptr, kService, "/org/freedesktop/NetworkManager", kService,
                                         "GetDeviceByIpIface", on_device, this, "s", queue_.front().c_str());
  if (r < 0) return finish(std::nullopt);
  loop_.arm();
}

int SystemMetered::on_device(sd_bus_message* m, void* self_ptr, sd_bus_error*) {
  auto* self = static_cast<SystemMetered*>(self_ptr);
  // An error: NetworkManager is not running, or does not manage this device.
  if (sd_bus_message_is_method_error(m, nullptr)) {
    self->finish(std::nullopt);
    return 0;
  }
  const char* path = nullptr;
  if (sd_bus_message_read(m, "o", &path) < 0 ||
      sd_bus_call_method_async(self->bus(), nullptr, kService, path, "org.freedesktop.DBus.Properties", "Get",
                               on_metered, self, "ss", kDeviceInterface, "Metered") < 0) {
    ++self->bad_answers_;
    self->finish(std::nullopt);
  }
  return 0;
}

int SystemMetered::on_metered(sd_bus_message* m, void* self_ptr, sd_bus_error*) {
  auto* self = static_cast<SystemMetered*>(self_ptr);
  if (sd_bus_message_is_method_error(m, nullptr)) {
    self->finish(std::nullopt);
    return 0;
  }
  std::uint32_t v = 0;
  if (sd_bus_message_enter_container(m, 'v', "u") < 0 || sd_bus_message_read(m, "u", &v) < 0 || v > 4) {
    ++self->bad_answers_;
    self->finish(std::nullopt);
    return 0;
  }
  self->finish(from_nm_metered(v));
  return 0;
}

int SystemMetered::on_properties_changed(sd_bus_message* m, void* self_ptr, sd_bus_error*) {
  auto* self = static_cast<SystemMetered*>(self_ptr);
  const char* interface = nullptr;
  if (sd_bus_message_read(m, "s", &interface) >= 0 && std::string(interface) == kDeviceInterface) self->ask_all();
  return 0;
}

void SystemMetered::finish(std::optional<bool> verdict) {
  const std::string name = queue_.front();
  queue_.erase(queue_.begin());
  // Only for an interface still watched (the table may have changed meanwhile).
  bool changed = false;
  if (std::find(names_.begin(), names_.end(), name) != names_.end()) {
    const auto it = verdicts_.find(name);
    const bool first = it == verdicts_.end();
    changed = first ? verdict.has_value() : it->second != verdict;
    if (first || changed)
      log::info("metered uplinks: NetworkManager says " + name + " is " +
                (verdict ? (*verdict ? "metered" : "not metered") : "unknown to it"));
    verdicts_[name] = verdict;
  }
  ask_next();
  if (changed) on_change_();
}

void SystemMetered::on_lost(int error) {
  // The bus went away (dbus restarting): no verdicts, the names decide.
  log::warning("metered uplinks: system bus lost (" + std::string(strerror(-error)) + "): from the names");
  const bool had = std::any_of(verdicts_.begin(), verdicts_.end(), [](const auto& v) { return v.second.has_value(); });
  verdicts_.clear();
  queue_.clear();
  asking_ = false;
  if (had) on_change_();
}

}  // namespace tund::netmon
