// The unix control socket: one request line in ("status", "switch wlan0"),
// one reply out (JSON), then the connection closes. The socket is mode 0660
// in a directory the daemon creates, and everything that connects is still
// treated as input that may be hostile:
//   - a request is at most limits::kControlMaxRequest bytes (else refused
//     with a reason), and is answered within limits::kControlDeadline or the
//     connection is closed
//   - at most limits::kControlMaxConnections at once; an accept error backs
//     off for limits::kControlAcceptBackoff instead of spinning
//   - `privileged` (SO_PEERCRED: root, the daemon's own user or the socket's
//     group) is passed on, so handlers refuse mutating commands otherwise
//   - a handler that throws gets an error reply; the daemon keeps running
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "daemon/asio.hpp"

namespace tund::daemon {

class ControlServer {
 public:
  using Handler = std::function<std::string(const std::string& request, bool privileged)>;
  // Throws std::system_error when the path cannot be bound.
  ControlServer(asio::io_context& io, std::string path, Handler handler);
  ~ControlServer();

  std::uint64_t refused() const { return refused_; }

 private:
  void accept();
  void serve(asio::local::stream_protocol::socket s);
  std::string path_;
  Handler handler_;
  asio::local::stream_protocol::acceptor acceptor_;
  asio::steady_timer backoff_;
  // Shared with connections, which may outlive a handler call.
  std::shared_ptr<std::size_t> active_ = std::make_shared<std::size_t>(0);
  std::uint64_t refused_ = 0;
};

// Client side (the CLI): sends `request`, returns the reply, or nothing when no
// daemon listens at `path`.
std::optional<std::string> control_request(const std::string& path, const std::string& request);

}  // namespace tund::daemon
