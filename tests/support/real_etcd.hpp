// A real etcd for unit tests (Debian's etcd-server): started on 127.0.0.1 on
// two free ports with a data directory of its own, given the flags a test
// adds (TLS, token TTL), and stopped and removed when the object goes. Also
// makes the throwaway certificates of scripts/etcd-certs.
#pragma once

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace tund::test {

// Whether scripts/etcd-certs can run here (it needs the openssl command).
inline bool have_openssl() { return std::system("command -v openssl >/dev/null 2>&1") == 0; }

// scripts/etcd-certs into `dir` (ca.pem, server.*, client.*), SAN IP:127.0.0.1.
inline bool make_certs(const std::filesystem::path& dir) {
  const std::string cmd = "bash '" TUND_SOURCE_DIR "/scripts/etcd-certs' '" + dir.string() + "' IP:127.0.0.1";
  return std::system(cmd.c_str()) == 0;
}

class RealEtcd {
 public:
  // `tls_dir`: serve TLS with its server certificate and ask clients for one
  // its CA signed ("" for plain HTTP). `extra`: more flags.
  explicit RealEtcd(const std::string& tls_dir = "", std::vector<std::string> extra = {}) {
    const auto ports = free_ports();
    const int client = ports.first, peer = ports.second;
    endpoint_ = "127.0.0.1:" + std::to_string(client);
    dir_ = std::filesystem::temp_directory_path() / ("tund-etcd-" + std::to_string(getpid()) + "-" + std::to_string(client));
    std::filesystem::remove_all(dir_);
    const std::string scheme = tls_dir.empty() ? "http://" : "https://";
    const std::string peer_url = "http://127.0.0.1:" + std::to_string(peer);
    std::vector<std::string> args{"etcd", "--name", "t", "--data-dir", dir_.string(),
                                  "--listen-client-urls", scheme + endpoint_, "--advertise-client-urls", scheme + endpoint_,
                                  "--listen-peer-urls", peer_url, "--initial-advertise-peer-urls", peer_url,
                                  "--initial-cluster", "t=" + peer_url, "--log-level", "error",
                                  "--experimental-watch-progress-notify-interval", "200ms"};  // as limits.hpp advises, shorter
    if (!tls_dir.empty())
      for (const std::string a : {"--cert-file=server.pem", "--key-file=server.key", "--trusted-ca-file=ca.pem"})
        args.push_back(a.substr(0, a.find('=') + 1) + tls_dir + "/" + a.substr(a.find('=') + 1));
    if (!tls_dir.empty()) args.push_back("--client-cert-auth");
    args.insert(args.end(), extra.begin(), extra.end());
    pid_ = fork();
    if (pid_ == 0) {
      if (const int null = open("/dev/null", O_WRONLY); null >= 0) dup2(null, 2);  // raft's chatter
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv("/usr/bin/etcd", argv.data());
      _exit(127);
    }
  }
  ~RealEtcd() {
    stop();
    std::filesystem::remove_all(dir_);
  }
  RealEtcd(const RealEtcd&) = delete;
  RealEtcd& operator=(const RealEtcd&) = delete;

  bool started() const { return pid_ > 0; }
  const std::string& endpoint() const { return endpoint_; }  // "127.0.0.1:port"
  void stop() {
    if (pid_ <= 0) return;
    kill(pid_, SIGTERM);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

 private:
  // Two ports the kernel just called free (etcd binds them a moment later),
  // both held until both are known, so they differ.
  static std::pair<int, int> free_ports() {
    int fds[2], ports[2] = {0, 0};
    for (int i = 0; i < 2; ++i) {
      fds[i] = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      socklen_t len = sizeof a;
      if (::bind(fds[i], reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
          ::getsockname(fds[i], reinterpret_cast<sockaddr*>(&a), &len) == 0)
        ports[i] = ntohs(a.sin_port);
    }
    for (const int fd : fds) ::close(fd);
    return {ports[0], ports[1]};
  }

  std::string endpoint_;
  std::filesystem::path dir_;
  pid_t pid_ = -1;
};

}  // namespace tund::test
