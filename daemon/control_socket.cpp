#include "daemon/control_socket.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "daemon/log.hpp"

namespace tund::daemon {

namespace {
constexpr std::size_t kMaxRequest = 4096;
using stream = asio::local::stream_protocol;

struct Connection : std::enable_shared_from_this<Connection> {
  explicit Connection(stream::socket s) : socket(std::move(s)) {}
  stream::socket socket;
  asio::streambuf in{kMaxRequest};
  std::string reply;
};
}  // namespace

ControlServer::ControlServer(asio::io_context& io, std::string path, Handler handler)
    : path_(std::move(path)), handler_(std::move(handler)), acceptor_(io) {
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
  ::unlink(path_.c_str());
}

void ControlServer::accept() {
  acceptor_.async_accept([this](boost::system::error_code ec, stream::socket s) {
    if (ec == asio::error::operation_aborted) return;
    if (!ec) {
      auto c = std::make_shared<Connection>(std::move(s));
      asio::async_read_until(c->socket, c->in, '\n', [this, c](boost::system::error_code rec, std::size_t) {
        if (rec) return;  // too long or closed: drop the connection
        std::istream is(&c->in);
        std::string line;
        std::getline(is, line);
        c->reply = handler_(line) + "\n";
        asio::async_write(c->socket, asio::buffer(c->reply), [c](boost::system::error_code, std::size_t) {});
      });
    }
    accept();
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
