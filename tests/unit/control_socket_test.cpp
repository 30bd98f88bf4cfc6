// The control socket on a real unix socket: whatever a local process sends,
// the server answers or refuses with a reason and keeps serving.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <filesystem>
#include <thread>

#include "daemon/control_socket.hpp"
#include "daemon/json_reply.hpp"
#include "tund/limits.hpp"

namespace tund {
namespace {

int raw_connect(const std::string& path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::snprintf(a.sun_path, sizeof a.sun_path, "%s", path.c_str());
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// Reads until EOF (or `limit` ms pass); what came, and whether EOF was seen.
std::pair<std::string, bool> read_all(int fd, int limit_ms = 5000) {
  timeval tv{limit_ms / 1000, (limit_ms % 1000) * 1000};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::string out;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n == 0) return {out, true};
    if (n < 0) return {out, false};
    out.append(buf, static_cast<std::size_t>(n));
  }
}

class ControlSocket : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = (std::filesystem::temp_directory_path() / ("tund-ctl-" + std::to_string(::getpid()) + ".sock")).string();
    server_ = std::make_unique<daemon::ControlServer>(io_, path_, [this](const std::string& r, bool privileged) {
      ++handled_;
      last_privileged_ = privileged;
      if (r == "throw") throw std::runtime_error("handler failed");
      return daemon::to_reply(nlohmann::json{{"echo", r}});
    });
    thread_ = std::thread([this] { io_.run(); });
  }
  void TearDown() override {
    asio::post(io_, [this] { server_.reset(); });
    io_.stop();
    thread_.join();
  }
  std::string ask(const std::string& bytes) {
    const int fd = raw_connect(path_);
    EXPECT_GE(fd, 0);
    EXPECT_EQ(::write(fd, bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
    auto [reply, eof] = read_all(fd);
    ::close(fd);
    EXPECT_TRUE(eof);
    return reply;
  }

  asio::io_context io_;
  std::string path_;
  std::unique_ptr<daemon::ControlServer> server_;
  std::thread thread_;
  std::atomic<int> handled_{0};
  std::atomic<bool> last_privileged_{false};
};

TEST_F(ControlSocket, InvalidUtf8IsReplacedNeverThrown) {
  const auto reply = ask(std::string("status \xff\xfe\xc3(\n"));
  const auto j = nlohmann::json::parse(reply);  // valid JSON, valid UTF-8
  EXPECT_NE(j["echo"].get<std::string>().find("\xef\xbf\xbd"), std::string::npos) << "U+FFFD replaces the bad bytes";
  EXPECT_TRUE(last_privileged_) << "the test runs as the daemon's own user";
}

TEST_F(ControlSocket, AnOverlongRequestIsRefusedWithAReason) {
  const auto reply = ask(std::string(limits::kControlMaxRequest + 100, 'a') + "\n");
  EXPECT_NE(reply.find("longer than"), std::string::npos) << reply;
  EXPECT_EQ(handled_, 0);
  EXPECT_EQ(nlohmann::json::parse(ask("status\n"))["echo"], "status");
}

TEST_F(ControlSocket, AThrowingHandlerGetsAnErrorReplyAndTheServerGoesOn) {
  EXPECT_NE(ask("throw\n").find("internal error"), std::string::npos);
  EXPECT_EQ(nlohmann::json::parse(ask("status\n"))["echo"], "status");
}

TEST_F(ControlSocket, SilentConnectionsAreCappedAndTimedOut) {
  std::vector<int> idle;
  for (std::size_t i = 0; i < limits::kControlMaxConnections + 4; ++i) idle.push_back(raw_connect(path_));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  // The ones over the cap were closed at once, unanswered.
  std::size_t closed_at_once = 0;
  for (int fd : idle) closed_at_once += read_all(fd, 50).second ? 1 : 0;
  EXPECT_EQ(closed_at_once, 4u);
  EXPECT_EQ(server_->refused(), 4u);
  // The rest are closed by the deadline; then the server answers again.
  std::this_thread::sleep_for(limits::kControlDeadline + std::chrono::milliseconds(300));
  std::size_t closed_late = 0;
  for (int fd : idle) {
    closed_late += read_all(fd, 50).second ? 1 : 0;
    ::close(fd);
  }
  EXPECT_EQ(closed_late, idle.size());
  EXPECT_EQ(nlohmann::json::parse(ask("status\n"))["echo"], "status");
  EXPECT_EQ(handled_, 1);
}

}  // namespace
}  // namespace tund
