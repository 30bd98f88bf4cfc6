// Prometheus metrics: the text exposition format (`MetricsText`) and a small
// HTTP endpoint serving it at /metrics (`MetricsServer`, the optional
// `metrics_listen = "127.0.0.1:9586"` of either config).
//
// The server answers GET /metrics and 404 for anything else, one request per
// connection; requests are capped at 4 KiB, connections at 16 at a time and
// 5 s each, so a scraper that stalls costs nothing lasting.
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

 private:
  void accept();
  asio::io_context& io_;
  Render render_;
  asio::ip::tcp::acceptor acceptor_;
  std::size_t open_ = 0;
};

}  // namespace tund::daemon
