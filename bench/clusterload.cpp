// tund-clusterload: N simulated clients of a hub cluster, speaking the
// protocol through the project's session layer from userspace (no TUN), each
// from its own UDP socket, each following its member order as tund does
// (rendezvous hashing of its key; the next member after kMemberSilence).
//
//   tund-clusterload hub-config N SEED LISTEN MEMBER MEMBERS ETCD TUN TABLE
//       prints member MEMBER's config (MEMBERS comma-separated; keys from SEED)
//   tund-clusterload run HUBS PUBKEY N SEED KILL_FILE
//       HUBS: the members' ip:port, comma-separated, in MEMBERS order
//       phase handshake  every client handshakes with its home member (at
//                        most kWindow in flight); prints handshakes/s and the
//                        clients per member
//       phase up         sessions keep their timers (probes every second);
//                        the caller kills a member and writes the kill's
//                        wall-clock time (ns) to KILL_FILE
//       phase done       every client of the dead member is back through
//                        another one; prints how long after the kill the
//                        first, the median and the last were back
#include <sys/epoll.h>
#include <sys/resource.h>

#include <algorithm>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <vector>

#include "bench/sim_clients.hpp"
#include "session/client.hpp"
#include "session/rendezvous.hpp"

namespace {

using namespace tund;
using bench::Clock;
using bench::now;
constexpr std::size_t kWindow = 256;

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  for (std::string part; std::getline(in, part, ',');) out.push_back(part);
  return out;
}

int hub_config(std::size_t n, std::uint64_t seed, const std::string& listen, const std::string& member,
               const std::string& members, const std::string& etcd, const std::string& tun, const std::string& table) {
  std::cout << "private_key_file = \"hub.key\"\nlisten = \"" << listen << "\"\ncontrol_socket = \"" << member
            << ".sock\"\nstate_directory = \".\"\n[tun]\nname = \"" << tun << "\"\naddress = \"10.77.0.1/16\"\n"
            << "[limits]\nunder_load_handshakes = 10000000\n[cluster]\nname = \"bench\"\nmember = \"" << member
            << "\"\nmembers = [";
  const auto m = split(members);
  for (std::size_t i = 0; i < m.size(); ++i) std::cout << (i ? ", " : "") << "\"" << m[i] << "\"";
  std::cout << "]\netcd = [\"" << etcd << "\"]\ntable = " << table << "\n";
  for (std::size_t i = 0; i < n; ++i)
    std::cout << "[[client]]\nname = \"c" << i << "\"\npublic_key = \"" << crypto::key_to_base64(bench::client_key(seed, i).pub)
              << "\"\n";
  return 0;
}

struct SimClient {
  std::unique_ptr<session::Client> client;
  int fd = -1;
  std::vector<std::size_t> order;
  std::size_t at = 0;
  Time moving_since = kNever;
  std::optional<Time> seen_handshake;
  Time sent_at{};
  bool up = false;
  session::ClientSession& s() { return client->session(0); }
  std::size_t member() const { return order[at]; }
};

int run(const std::vector<Endpoint>& hubs, const PublicKey& hub_key, std::size_t n, std::uint64_t seed,
        const std::string& kill_file) {
  rlimit rl{n + 64, n + 64};
  setrlimit(RLIMIT_NOFILE, &rl);
  crypto::SodiumRng rng;
  std::vector<sockaddr_in> to;
  for (const auto& h : hubs) to.push_back(bench::to_sockaddr(h));
  const int ep = epoll_create1(EPOLL_CLOEXEC);
  std::vector<SimClient> clients(n);
  std::vector<std::uint8_t> buf(65536);
  std::vector<std::size_t> per_member(hubs.size());
  const Time t0 = now();
  for (std::size_t i = 0; i < n; ++i) {
    session::ClientConfig cc;
    cc.identity = bench::client_key(seed, i);
    cc.wall_offset = static_cast<WallTime>(std::chrono::system_clock::now().time_since_epoch().count());
    cc.resend.max_packets = 16;
    cc.idle.after = std::chrono::hours(1);  // probing at the active pace: silence is noticed in 1 s
    auto& c = clients[i];
    c.client = std::make_unique<session::Client>(cc, rng);
    c.client->add_hub(hub_key);
    c.order = session::member_order(cc.identity.pub, hubs.size());
    ++per_member[c.member()];
    c.s().set_silence(limits::kMemberSilence);
    c.s().add_path(1, t0);
    c.s().set_active_path(1, t0);
    c.fd = bench::loopback_socket();
    if (c.fd < 0) return std::perror("socket"), 1;
    bench::watch_socket(ep, c.fd, i);
  }
  const auto flush = [&](SimClient& c, Time t) {
    while (const auto tx = c.s().poll_transmit(buf, t)) {
      ::sendto(c.fd, buf.data(), tx->len, 0, reinterpret_cast<sockaddr*>(&to[c.member()]), sizeof to[0]);
      c.sent_at = Clock::now();
    }
  };
  // Everything that is ready: with thousands of sessions probing, answers
  // left waiting would look like silence.
  const auto drain = [&](int timeout_ms) {
    const auto one = [&](std::size_t i, MutableBytes d) {
      clients[i].client->receive(d, 1, now());
      flush(clients[i], now());
    };
    for (int k = bench::receive_ready(ep, timeout_ms, buf, one); k == 256;) k = bench::receive_ready(ep, 0, buf, one);
  };
  std::uint64_t moves = 0;
  // What tund's daemon does for a cluster (tund/client_daemon.cpp follow_cluster).
  const auto tick = [&](SimClient& c, Time t) {
    if (c.s().next_deadline() <= t) c.client->on_timer(t);
    if (c.s().hub_silent(t) && (c.moving_since == kNever || t - c.moving_since >= limits::kMemberSilence)) {
      c.at = (c.at + 1) % c.order.size();
      ++moves;
      c.moving_since = t;
      c.s().rehandshake(t);
    }
    if (c.s().last_handshake() != c.seen_handshake) {
      c.seen_handshake = c.s().last_handshake();
      c.moving_since = kNever;
    }
    flush(c, t);
  };

  std::cout << "phase handshake" << std::endl;
  const auto start = Clock::now();
  std::size_t next = 0, established = 0;
  while (established < n && Clock::now() - start < std::chrono::seconds(120)) {
    while (next < n && next - established < kWindow) {
      clients[next].s().start(now());
      flush(clients[next], now());
      ++next;
    }
    drain(1);
    const Time t = now();
    established = 0;
    for (std::size_t i = 0; i < next; ++i) {
      if (!clients[i].up && clients[i].s().established()) clients[i].up = true;
      established += clients[i].up;
      if (!clients[i].up) tick(clients[i], t);  // retransmits a lost initiation, as tund would
    }
  }
  const double hs = std::chrono::duration<double>(Clock::now() - start).count();
  std::cout << "handshakes " << established << "\nhandshake_seconds " << hs << "\nhandshakes_per_second "
            << static_cast<std::uint64_t>(established / hs) << "\n";
  for (std::size_t m = 0; m < hubs.size(); ++m) std::cout << "clients_member_" << m << " " << per_member[m] << "\n";
  if (established < n) return std::cout << "phase done" << std::endl, 1;
  for (auto& c : clients) c.seen_handshake = c.s().last_handshake();

  std::cout << "phase up" << std::endl;
  std::int64_t killed_ns = 0;
  std::vector<double> back;  // seconds after the kill, one per client of the dead member
  std::size_t victims = 0;
  std::size_t victim = hubs.size();
  const auto deadline_after_kill = std::chrono::seconds(60);
  Clock::time_point killed_at{};
  for (std::size_t round = 0;; ++round) {
    drain(1);
    const Time t = now();
    for (auto& c : clients) {
      tick(c, t);
      const auto hs_at = c.s().last_handshake();
      if (killed_ns && c.order[0] == victim && !c.up && c.member() != victim && hs_at &&
          *hs_at >= Time(killed_at.time_since_epoch())) {
        c.up = true;
        back.push_back(std::chrono::duration<double>(
                           std::chrono::system_clock::now().time_since_epoch() - std::chrono::nanoseconds(killed_ns))
                           .count());
      }
    }
    if (!killed_ns && round % 50 == 0) {
      std::ifstream f(kill_file);
      std::size_t which = 0;
      if (f >> killed_ns >> which) {
        victim = which;
        // The kill's moment on the steady clock (the file says it in wall-clock time).
        killed_at = Clock::now() - (std::chrono::system_clock::now().time_since_epoch() - std::chrono::nanoseconds(killed_ns));
        for (auto& c : clients)
          if (c.order[0] == victim) {
            c.up = false;
            ++victims;
          }
      } else {
        killed_ns = 0;
      }
    }
    if (killed_ns && (back.size() == victims || Clock::now() - killed_at > deadline_after_kill)) break;
  }
  std::sort(back.begin(), back.end());
  std::cout << "member_moves " << moves << "\nfailover_clients " << victims << "\nfailover_back " << back.size() << "\n";
  if (!back.empty())
    std::cout << "failover_first_seconds " << back.front() << "\nfailover_median_seconds " << back[back.size() / 2]
              << "\nfailover_last_seconds " << back.back() << "\n";
  std::cout << "phase done" << std::endl;
  return back.size() == victims ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  crypto::init();
  const std::vector<std::string> a(argv + 1, argv + argc);
  if (a.size() == 9 && a[0] == "hub-config")
    return hub_config(std::stoul(a[1]), std::stoull(a[2]), a[3], a[4], a[5], a[6], a[7], a[8]);
  if (a.size() == 6 && a[0] == "run") {
    std::vector<Endpoint> hubs;
    for (const auto& h : split(a[1])) {
      const auto colon = h.rfind(':');
      in_addr ip{};
      if (colon == std::string::npos || inet_pton(AF_INET, h.substr(0, colon).c_str(), &ip) != 1)
        return std::cerr << "bad hub endpoint " << h << "\n", 2;
      hubs.push_back(Endpoint::v4(ntohl(ip.s_addr), static_cast<std::uint16_t>(std::stoul(h.substr(colon + 1)))));
    }
    PublicKey key{};
    if (!crypto::key_from_base64(a[2], key)) return std::cerr << "bad hub key\n", 2;
    return run(hubs, key, std::stoul(a[3]), std::stoull(a[4]), a[5]);
  }
  std::cerr << "usage: tund-clusterload hub-config N SEED LISTEN MEMBER MEMBERS ETCD TUN TABLE\n"
               "       tund-clusterload run HUB_IP:PORT,... HUB_PUBKEY N SEED KILL_FILE\n";
  return 2;
}
