#include "daemon/resolved_link.hpp"

#include <sys/socket.h>

#include <cstring>

#include "tund/limits.hpp"

namespace tund::daemon {

namespace {

constexpr const char* kService = "org.freedesktop.resolve1";
constexpr const char* kPath = "/org/freedesktop/resolve1";
constexpr const char* kManager = "org.freedesktop.resolve1.Manager";

std::uint64_t usec(std::chrono::steady_clock::duration d) {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(d).count());
}

// resolved not running (and not activatable), or no bus to ask it on.
bool is_absent(const sd_bus_error* e) {
  return e && e->name &&
         (std::strcmp(e->name, SD_BUS_ERROR_SERVICE_UNKNOWN) == 0 || std::strcmp(e->name, SD_BUS_ERROR_NAME_HAS_NO_OWNER) == 0 ||
          std::strcmp(e->name, SD_BUS_ERROR_NO_SERVER) == 0 || std::strcmp(e->name, SD_BUS_ERROR_DISCONNECTED) == 0);
}

std::string describe(const sd_bus_error* e) {
  if (!e || !e->name) return "no answer";
  return std::string(e->name) + (e->message ? std::string(": ") + e->message : "");
}

}  // namespace

ResolvedPlan resolved_plan(const LinkDns& dns) {
  ResolvedPlan p;
  for (const auto& s : dns.servers)
    p.dns.emplace_back(s.family == 4 ? AF_INET : AF_INET6,
                       std::vector<std::uint8_t>(s.addr.begin(), s.addr.begin() + (s.family == 4 ? 4 : 16)));
  for (const auto& d : dns.domains) p.domains.emplace_back(d.name, d.routing_only);
  p.default_route = dns.default_route;
  return p;
}

ResolvedLink::ResolvedLink(asio::io_context& io)
    : io_(io), loop_(io, [this](int error) { end(false, true, "system bus lost (" + std::string(strerror(-error)) + ")"); }) {}

int ResolvedLink::build(Call call, sd_bus_message** m) const {
  static constexpr const char* kMethods[] = {"SetLinkDNS", "SetLinkDomains", "SetLinkDefaultRoute", "RevertLink"};
  int r = sd_bus_message_new_method_call(loop_.bus(), m, kService, kPath, kManager, kMethods[static_cast<int>(call)]);
  if (r >= 0) r = sd_bus_message_append(*m, "i", ifindex_);
  switch (call) {
    case Call::kDns:
      if (r >= 0) r = sd_bus_message_open_container(*m, 'a', "(iay)");
      for (const auto& [family, bytes] : plan_.dns) {
        if (r >= 0) r = sd_bus_message_open_container(*m, 'r', "iay");
        if (r >= 0) r = sd_bus_message_append(*m, "i", family);
        if (r >= 0) r = sd_bus_message_append_array(*m, 'y', bytes.data(), bytes.size());
        if (r >= 0) r = sd_bus_message_close_container(*m);
      }
      if (r >= 0) r = sd_bus_message_close_container(*m);
      break;
    case Call::kDomains:
      if (r >= 0) r = sd_bus_message_open_container(*m, 'a', "(sb)");
      for (const auto& [name, routing] : plan_.domains)
        if (r >= 0) r = sd_bus_message_append(*m, "(sb)", name.c_str(), static_cast<int>(routing));
      if (r >= 0) r = sd_bus_message_close_container(*m);
      break;
    case Call::kDefaultRoute:
      if (r >= 0) r = sd_bus_message_append(*m, "b", static_cast<int>(plan_.default_route));
      break;
    case Call::kRevert: break;
  }
  return r;
}

void ResolvedLink::set(int ifindex, const ResolvedPlan& plan, Done done) {
  ifindex_ = ifindex;
  plan_ = plan;
  calls_ = {Call::kDns, Call::kDomains, Call::kDefaultRoute};
  done_ = std::move(done);
  ++generation_;
  send_next();
}

void ResolvedLink::revert(int ifindex, Done done) {
  ifindex_ = ifindex;
  calls_ = {Call::kRevert};
  done_ = std::move(done);
  ++generation_;
  send_next();
}

void ResolvedLink::send_next() {
  if (!loop_.bus()) {
    // Never from inside set(): the caller's state is not settled yet.
    const std::string why = "no system bus (" + std::string(strerror(-loop_.open_error())) + ")";
    asio::post(io_, [this, g = generation_, why] {
      if (g == generation_) end(false, true, why);
    });
    return;
  }
  if (calls_.empty()) return end(true, false, "");
  sd_bus_message* m = nullptr;
  int r = build(calls_.front(), &m);
  calls_.erase(calls_.begin());
  if (r >= 0) r = sd_bus_call_async(loop_.bus(), nullptr, m, on_reply, this, usec(limits::kDnsApplyTimeout));
  sd_bus_message_unref(m);
  if (r < 0) {
    const std::string why = "cannot call systemd-resolved (" + std::string(strerror(-r)) + ")";
    asio::post(io_, [this, g = generation_, why] {
      if (g == generation_) end(false, false, why);
    });
    return;
  }
  loop_.arm();
}

int ResolvedLink::on_reply(sd_bus_message* m, void* self_ptr, sd_bus_error*) {
  auto* self = static_cast<ResolvedLink*>(self_ptr);
  if (!self->done_) return 0;  // nothing waits (replaced, or ended by a lost bus)
  if (const sd_bus_error* e = sd_bus_message_get_error(m)) {
    self->end(false, is_absent(e), describe(e));
    return 0;
  }
  self->send_next();
  return 0;
}

void ResolvedLink::end(bool ok, bool absent, const std::string& error) {
  calls_.clear();
  if (auto d = std::move(done_)) d(ok, absent, error);
}

bool ResolvedLink::revert_now(int ifindex, std::string& error) {
  if (!loop_.bus()) {
    error = "no system bus";
    return false;
  }
  ifindex_ = ifindex;
  done_ = nullptr;
  calls_.clear();
  ++generation_;
  sd_bus_message* m = nullptr;
  sd_bus_message* reply = nullptr;
  sd_bus_error e = SD_BUS_ERROR_NULL;
  int r = build(Call::kRevert, &m);
  if (r >= 0) r = sd_bus_call(loop_.bus(), m, usec(limits::kDnsRevertTimeout), &e, &reply);
  if (r < 0) error = e.name ? describe(&e) : std::string(strerror(-r));
  sd_bus_error_free(&e);
  sd_bus_message_unref(reply);
  sd_bus_message_unref(m);
  return r >= 0;
}

}  // namespace tund::daemon
