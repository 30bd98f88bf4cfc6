#include "daemon/control_socket.hpp"

#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "daemon/json_reply.hpp"
#include "daemon/log.hpp"
#include "tund/limits.hpp"

namespace tund::daemon {

namespace {
using stream = asio::local::stream_protocol;

struct Connection : std::enable_shared_from_this<Connection> {
  Connection(stream::socket s, std::shared_ptr<std::size_t> count)
      : socket(std::move(s)), deadline(socket.get_executor()), active(std::move(count)) {
    ++*active;
  }
  ~Connection() { --*active; }
  stream::socket socket;
  asio::steady_timer deadline;
  asio::streambuf in{limits::kControlMaxRequest + 1};  // +1: the newline
  std::string reply;
  std::shared_ptr<std::size_t> active;
};

void drain(const std::shared_ptr<Connection>& c) {
  c->in.consume(c->in.size());
  c->socket.async_read_some(c->in.prepare(512), [c](boost::system::error_code ec, std::size_t) {
    if (ec) {
      c->deadline.cancel();
      return;
    }
    drain(c);
  });
}

std::string error_reply(const std::string& why) { return to_reply(nlohmann::json{{"error", why}}) + "\n"; }

// Root, the daemon's own user, or a member (primary group) of the socket's group.
bool peer_privileged(int fd, const std::string& path) {
  ucred cred{};
  socklen_t len = sizeof cred;
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) return false;
  if (cred.uid == 0 || cred.uid == ::geteuid()) return true;
  struct stat st{};
  return ::stat(path.c_str(), &st) == 0 && cred.gid == st.st_gid;
}
}  // namespace

ControlServer::ControlServer(asio::io_context& io, std::string path, Handler handler)
    : path_(std::move(path)), handler_(std::move(handler)), acceptor_(io), backoff_(io) {
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path_).parent_path(), ec);
  ::unlink(path_.c_str());  // a stale socket from a crashed run
  acceptor_.open();
  acceptor_.bind(stream::endpoint(path_));
  ::chmod(path_.c_str(), 0660);
  acceptor_.listen();
  accept();
}

ControlServer::~ControlServer() {
  boost::system::error_code ec;
  acceptor_.close(ec);
  backoff_.cancel();
  ::unlink(path_.c_str());
}

void ControlServer::accept() {
  acceptor_.async_accept([this](boost::system::error_code ec, stream::socket s) {
    if (ec == asio::error::operation_aborted) return;
    if (ec) {
      // Out of descriptors or buffers: the error would repeat at once.
      log::warning("control socket: accept: " + ec.message() + "; retrying shortly");
      backoff_.expires_after(limits::kControlAcceptBackoff);
      backoff_.async_wait([this](boost::system::error_code wec) {
        if (!wec) accept();
      });
      return;
    }
    if (*active_ >= limits::kControlMaxConnections) {
      ++refused_;  // closed unanswered: whoever holds the others must wait
    } else {
      serve(std::move(s));
    }
    accept();
  });
}

void ControlServer::serve(stream::socket s) {
  auto c = std::make_shared<Connection>(std::move(s), active_);
  c->deadline.expires_after(limits::kControlDeadline);
  c->deadline.async_wait([c](boost::system::error_code ec) {
    if (ec) return;
    boost::system::error_code ignored;
    c->socket.close(ignored);  // a slow or silent peer: its reads fail now
  });
  const bool privileged = peer_privileged(c->socket.native_handle(), path_);
  asio::async_read_until(c->socket, c->in, '\n', [this, c, privileged](boost::system::error_code rec, std::size_t) {
    if (rec == asio::error::not_found) {
      c->reply = error_reply("request longer than " + std::to_string(limits::kControlMaxRequest) + " bytes");
    } else if (rec) {
      c->deadline.cancel();
      return;  // closed, or the deadline passed
    } else {
      std::istream is(&c->in);
      std::string line;
      std::getline(is, line);
      try {
        c->reply = handler_(line, privileged) + "\n";
      } catch (const std::exception& e) {
        log::error(std::string("control request failed: ") + e.what());
        c->reply = error_reply(std::string("internal error: ") + e.what());
      }
    }
    asio::async_write(c->socket, asio::buffer(c->reply), [c](boost::system::error_code wec, std::size_t) {
      if (wec) {
        c->deadline.cancel();
        return;
      }
      // End our side, then read to the peer's EOF (or the deadline): closing
      // with its unread bytes queued would reset the reply it has not read.
      boost::system::error_code ignored;
      c->socket.shutdown(stream::socket::shutdown_send, ignored);
      drain(c);
    });
  });
}

std::optional<std::string> control_request(const std::string& path, const std::string& request) {
  asio::io_context io;
  stream::socket s(io);
  boost::system::error_code ec;
  s.connect(stream::endpoint(path), ec);
  if (ec) return std::nullopt;
  asio::write(s, asio::buffer(request + "\n"), ec);
  if (ec) return std::nullopt;
  std::string reply;
  std::array<char, 4096> buf;
  for (;;) {
    const std::size_t n = s.read_some(asio::buffer(buf), ec);
    reply.append(buf.data(), n);
    if (ec) break;
  }
  if (ec != asio::error::eof) return std::nullopt;
  while (!reply.empty() && reply.back() == '\n') reply.pop_back();
  return reply;
}

}  // namespace tund::daemon
