#include "tund/hub_resolver.hpp"

#include <algorithm>
#include <cstring>

#include "daemon/log.hpp"
#include "tund/limits.hpp"

namespace tund::client {

HubResolver::HubResolver(asio::io_context& io, config::HostPort where, OnChange on_change, HubLookupStub* stub)
    : where_(std::move(where)), on_change_(std::move(on_change)), stub_(stub), io_(io), resolver_(io), timer_(io) {
  if (where_.literal) {
    addresses_ = {*where_.literal};
    return;
  }
  start_lookup();
}

HubResolver::~HubResolver() {
  timer_.cancel();
  resolver_.cancel();
  lookup_.reset();
}

const Endpoint* HubResolver::first(std::uint8_t family) const {
  for (const auto& a : addresses_)
    if (a.family == family) return &a;
  return nullptr;
}

void HubResolver::resolve_soon() {
  if (where_.literal || in_flight_) return;
  const auto since = std::chrono::steady_clock::now() - last_lookup_;
  arm(since >= limits::kResolveRetry ? std::chrono::steady_clock::duration::zero() : limits::kResolveRetry - since);
}

void HubResolver::arm(std::chrono::steady_clock::duration after) {
  timer_.expires_after(after);
  timer_.async_wait([this](boost::system::error_code ec) {
    if (!ec) start_lookup();
  });
}

void HubResolver::start_lookup() {
  if (in_flight_) return;
  in_flight_ = true;
  ++lookups_;
  last_lookup_ = std::chrono::steady_clock::now();
  if (stub_) return start_stub_lookup();
  resolver_.async_resolve(where_.host, std::to_string(where_.port), asio::ip::udp::resolver::numeric_service,
                          [this](boost::system::error_code ec, asio::ip::udp::resolver::results_type results) {
    if (ec == asio::error::operation_aborted) return;
    std::vector<Endpoint> found;
    for (const auto& r : results) {
      const auto a = r.endpoint().address();
      Endpoint e;
      if (a.is_v4()) {
        e.family = 4;
        const auto b = a.to_v4().to_bytes();
        std::memcpy(e.addr.data(), b.data(), 4);
      } else if (a.to_v6().is_v4_mapped()) {
        e.family = 4;
        const auto b = a.to_v6().to_bytes();
        std::memcpy(e.addr.data(), b.data() + 12, 4);
      } else {
        e.family = 6;
        const auto b = a.to_v6().to_bytes();
        std::memcpy(e.addr.data(), b.data(), 16);
      }
      found.push_back(e);
    }
    complete(std::move(found), ec ? ec.message() : "");
  });
}

void HubResolver::start_stub_lookup() {
  // /etc/hosts first, as getaddrinfo would ("hosts: files dns").
  if (const auto hosts = daemon::read_resolver_file(stub_->hosts_path)) {
    auto pinned = daemon::hosts_addresses(*hosts, where_.host);
    if (!pinned.empty()) {
      asio::post(io_, [this, alive = std::weak_ptr<bool>(alive_), pinned = std::move(pinned)]() mutable {
        if (!alive.expired()) complete(std::move(pinned), "");
      });
      return;
    }
  }
  const auto servers = stub_->upstream.current();
  log::debug("hub " + where_.host + ": asking " + std::to_string(servers.size()) + " DNS server(s) of " +
             stub_->upstream.source() + " from marked sockets");
  lookup_ = std::make_unique<daemon::DnsLookup>(io_, where_.host, servers, stub_->fwmark, stub_->drops,
                                                [this](std::vector<Endpoint> found, std::string error) {
                                                  complete(std::move(found), error);
                                                });
}

void HubResolver::complete(std::vector<Endpoint> results, const std::string& error) {
  in_flight_ = false;
  arm(limits::kResolveInterval);
  std::vector<Endpoint> found;
  for (auto e : results) {
    e.port = where_.port;
    if (e.unspecified() || std::find(found.begin(), found.end(), e) != found.end()) continue;
    if (found.size() < limits::kResolveMaxAddresses) found.push_back(e);
  }
  if (found.empty()) {
    ++failures_;
    log::warning("hub " + where_.host + ": cannot resolve (" + (error.empty() ? "no addresses" : error) + ")" +
                 (addresses_.empty() ? "" : ", keeping the addresses known"));
    if (addresses_.empty()) arm(limits::kResolveRetry);
    return;
  }
  if (found == addresses_) return;
  addresses_ = std::move(found);
  std::string list;
  for (const auto& a : addresses_) list += (list.empty() ? "" : ", ") + a.to_string();
  log::info("hub " + where_.host + " resolves to " + list);
  on_change_(addresses_);
}

}  // namespace tund::client
