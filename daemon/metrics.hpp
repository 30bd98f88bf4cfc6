// Prometheus metrics: the text exposition format (`MetricsText`) and a small
// HTTP endpoint serving it at /metrics (`MetricsServer`, the optional
// `metrics_listen = "127.0.0.1:9586"` of either config).
//
// The server listens on exactly the address given: "[::1]:9586" is IPv6
// loopback only (v6_only, so "[::]:9586" is no IPv4 wildcard either), since a
// wider bind would show the sessions to whoever can reach the host. It
// answers GET /metrics (any query string ignored, as scrapers may add one)
// and 404 for anything else, one request per connection; requests are capped
// at 4 KiB, connections at 16 at a time and 5 s each, so a scraper that
// stalls costs nothing lasting.
//
// Labels name what does not change while a daemon runs (a hub, a client, an
// uplink, a reason; a session's VIP and cipher): what moves at each handover
// or NAT rebinding (a state, the active uplink, the peer's address) is a
// sample's value or left to the status JSON, never a label, so a handover
// creates no new series.
#pragma once

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <string>
#include <utility>

#include "daemon/asio.hpp"
#include "tund/endpoint.hpp"

namespace tund::daemon {

class MetricsText {
 public:
  using Labels = std::initializer_list<std::pair<const char*, std::string>>;
  // Starts a metric family: its # HELP and # TYPE lines.
  void family(const std::string& name, const char* type, const char* help);
  void sample(const std::string& name, Labels labels, double value);
  void sample(const std::string& name, double value) { sample(name, {}, value); }
  // `name{version="0.1.0"} 1`: the build, from project(VERSION) in CMakeLists.txt.
  void build_info(const std::string& name);
  const std::string& text() const { return out_; }

 private:
  std::string out_;
};

class MetricsServer {
 public:
  using Render = std::function<std::string()>;
  // Throws std::system_error when the address cannot be bound.
  MetricsServer(asio::io_context& io, const Endpoint& listen, Render render);
  ~MetricsServer();
  // Where it listens (the port the kernel chose, when given 0).
  asio::ip::tcp::endpoint local_endpoint() const { return acceptor_.local_endpoint(); }

 private:
  void accept();
  asio::io_context& io_;
  Render render_;
  asio::ip::tcp::acceptor acceptor_;
  std::size_t open_ = 0;
};

}  // namespace tund::daemon
