// A fake etcd for unit tests: an HTTP/1.1 server on 127.0.0.1 (a free port)
// in threads of its own, answering each POST as the test's handler says, so
// a test can send what a broken or hostile etcd would (a huge plain body, a
// deeply nested line, a bad key, silence) and what a slow one would (delays).
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace tund::test {

class FakeEtcd {
 public:
  struct Answer {
    std::string head;                    // sent as is: status line, headers, the body's start
    std::size_t filler = 0;              // then this many copies of filler_byte, in pieces
    char filler_byte = 'a';
    std::string tail;                    // then this
    std::chrono::milliseconds delay{0};  // before anything is sent
    bool hold = false;                   // then keep the connection open and silent
    bool never = false;                  // send nothing at all, hold the connection
  };
  using Handler = std::function<Answer(const std::string& path, const std::string& body)>;

  // 200 with a JSON body, kept alive.
  static Answer json(const std::string& body, std::chrono::milliseconds delay = {}) {
    Answer a;
    a.head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
             "\r\n\r\n" + body;
    a.delay = delay;
    return a;
  }
  // A watch's answer: chunked, one chunk per line; then held open.
  static Answer stream(const std::vector<std::string>& lines) {
    Answer a;
    a.head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
    for (const auto& l : lines) a.head += chunk(l + "\n");
    a.hold = true;
    return a;
  }
  static std::string chunk(const std::string& data) {
    char size[32];
    std::snprintf(size, sizeof size, "%zx\r\n", data.size());
    return size + data + "\r\n";
  }

  explicit FakeEtcd(Handler h) : handler_(std::move(h)) {
    listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (::bind(listener_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(listener_, 16) != 0 ||
        ::getsockname(listener_, reinterpret_cast<sockaddr*>(&a), &len) != 0)
      std::abort();
    port_ = ntohs(a.sin_port);
    acceptor_ = std::thread([this] { accept_loop(); });
  }
  ~FakeEtcd() {
    stop_ = true;
    acceptor_.join();  // every loop polls stop_ at least every 20 ms
    for (auto& t : threads_) t.join();  // no more are added once the acceptor is gone
    ::close(listener_);
  }
  FakeEtcd(const FakeEtcd&) = delete;
  FakeEtcd& operator=(const FakeEtcd&) = delete;

  std::string endpoint() const { return "127.0.0.1:" + std::to_string(port_); }
  // Requests seen so far, (path, body), in arrival order.
  std::vector<std::pair<std::string, std::string>> requests() const {
    std::lock_guard<std::mutex> l(mutex_);
    return requests_;
  }
  // The Authorization header of each request (etcd's auth token; "" when
  // none), with its path, in arrival order.
  std::vector<std::pair<std::string, std::string>> tokens() const {
    std::lock_guard<std::mutex> l(mutex_);
    return tokens_;
  }
  std::size_t count(const std::string& path) const {
    const auto r = requests();
    return static_cast<std::size_t>(std::count_if(r.begin(), r.end(), [&](const auto& p) { return p.first == path; }));
  }

 private:
  bool wait_readable(int fd) const {
    while (!stop_) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 20) > 0) return true;
    }
    return false;
  }
  void accept_loop() {
    while (wait_readable(listener_)) {
      const int fd = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;
      std::lock_guard<std::mutex> l(mutex_);
      threads_.emplace_back([this, fd] {
        serve(fd);
        ::close(fd);
      });
    }
  }
  bool send_all(int fd, const char* p, std::size_t n) const {
    while (n > 0 && !stop_) {
      const ssize_t w = ::send(fd, p, n, MSG_NOSIGNAL);
      if (w < 0) {
        if (errno == EINTR) continue;
        return false;
      }
      p += w;
      n -= static_cast<std::size_t>(w);
    }
    return n == 0;
  }
  void serve(int fd) {
    std::string in;
    char buf[65536];
    while (true) {
      // One request: headers, then Content-Length bytes of body.
      std::size_t end;
      while ((end = in.find("\r\n\r\n")) == std::string::npos) {
        if (!wait_readable(fd)) return;
        const ssize_t r = ::recv(fd, buf, sizeof buf, 0);
        if (r <= 0) return;
        in.append(buf, static_cast<std::size_t>(r));
      }
      const std::string head = in.substr(0, end);
      std::size_t length = 0;
      if (const auto cl = head.find("Content-Length: "); cl != std::string::npos) length = std::stoul(head.substr(cl + 16));
      while (in.size() < end + 4 + length) {
        if (!wait_readable(fd)) return;
        const ssize_t r = ::recv(fd, buf, sizeof buf, 0);
        if (r <= 0) return;
        in.append(buf, static_cast<std::size_t>(r));
      }
      const auto sp = head.find(' ');
      std::string path = head.substr(sp + 1, head.find(' ', sp + 1) - sp - 1);
      if (path.rfind("/v3/", 0) == 0) path = path.substr(4);
      const std::string body = in.substr(end + 4, length);
      in.erase(0, end + 4 + length);
      std::string token;
      if (const auto at = head.find("\r\nAuthorization: "); at != std::string::npos)
        token = head.substr(at + 17, head.find("\r\n", at + 2) - at - 17);
      {
        std::lock_guard<std::mutex> l(mutex_);
        requests_.emplace_back(path, body);
        tokens_.emplace_back(path, token);
      }
      const Answer a = handler_(path, body);
      const auto until = std::chrono::steady_clock::now() + a.delay;
      while (!stop_ && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(std::chrono::milliseconds(2));
      if (a.never) {
        while (!stop_) std::this_thread::sleep_for(std::chrono::milliseconds(20));
        return;
      }
      if (!send_all(fd, a.head.data(), a.head.size())) return;
      const std::string piece(std::min<std::size_t>(a.filler, 1 << 16), a.filler_byte);
      for (std::size_t left = a.filler; left > 0;) {
        const std::size_t n = std::min(left, piece.size());
        if (!send_all(fd, piece.data(), n)) return;
        left -= n;
      }
      if (!send_all(fd, a.tail.data(), a.tail.size())) return;
      if (a.hold) {
        // Silent, but reading (so the client's close is seen) until the end.
        while (wait_readable(fd))
          if (::recv(fd, buf, sizeof buf, 0) <= 0) return;
        return;
      }
    }
  }

  Handler handler_;
  int listener_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  mutable std::mutex mutex_;
  std::thread acceptor_;
  std::vector<std::thread> threads_;
  std::vector<std::pair<std::string, std::string>> requests_;
  std::vector<std::pair<std::string, std::string>> tokens_;
};

}  // namespace tund::test
