// The unix control socket: one request line in ("status", "switch wlan0"),
// one reply out (JSON), then the connection closes. Requests are capped in
// size; the socket is created mode 0660 in a directory the daemon creates.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "daemon/asio.hpp"

namespace tund::daemon {

class ControlServer {
 public:
  using Handler = std::function<std::string(const std::string& request)>;
  // Throws std::system_error when the path cannot be bound.
  ControlServer(asio::io_context& io, std::string path, Handler handler);
  ~ControlServer();

 private:
  void accept();
  std::string path_;
  Handler handler_;
  asio::local::stream_protocol::acceptor acceptor_;
};

// Client side (the CLI): sends `request`, returns the reply, or nothing when no
// daemon listens at `path`.
std::optional<std::string> control_request(const std::string& path, const std::string& request);

}  // namespace tund::daemon
