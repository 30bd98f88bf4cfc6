// tund-hubload: N simulated clients speaking the protocol to a real tund-hub
// from userspace, without TUN devices, each from its own UDP socket (its own
// source port). It uses the project's own session layer, so what it sends is
// exactly what tund sends.
//
//   tund-hubload hub-config N SEED LISTEN   prints a hub config with N clients
//                                           (keys derived from SEED; hub key in hub.key)
//   tund-hubload run HUB PUBKEY N SEED FORWARD_SECONDS
//       phase 1  every client handshakes (at most kWindow initiations in flight);
//                prints the handshakes per second
//       phase 2  "idle": sessions up and quiet for kIdleSeconds (the caller reads
//                the hub's memory now)
//       phase 3  every client sends 1400-byte inner UDP packets round-robin for
//                FORWARD_SECONDS (or until its pre-sealed packets run out);
//                prints what was sent (the caller counts what the hub
//                delivered to its TUN). The packets are sealed before the
//                clock starts and go out kBurst at a time per client, one
//                sendmsg of UDP GSO segments each: sealing and one sendto a
//                packet made the generator, not the hub, the bottleneck
//                (62k packets/s).
//       phase 4  "echo": every client sends ECHO (default 32) 1400-byte ICMP
//                echo requests to the hub's own address, paced below what the
//                hub forwards; the hub's kernel answers each, so the hub seals
//                that many packets toward every client and keeps them for
//                resending (the clients never acknowledge, as when their acks
//                are lost). Prints what was sent and how many answers came
//                back. ("phase seal" before it: the forwarding is over, the
//                echo requests are being sealed.) Then "done": the caller
//                waits for the sessions to go idle and reads the hub's memory
//                after their traffic.
// Output: one "key value" line per figure, and "phase NAME" lines.
#include <arpa/inet.h>
#include <linux/udp.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <memory>
#include <thread>
#include <vector>

#include "bench/sim_clients.hpp"
#include "crypto/primitives.hpp"
#include "offload/checksum.hpp"
#include "session/client.hpp"
#include "tund/wire.hpp"

namespace {

using namespace tund;
using bench::Clock;
using bench::client_key;
using bench::now;
constexpr std::size_t kWindow = 256;              // initiations in flight
constexpr auto kRetry = std::chrono::seconds(1);  // resend an unanswered initiation
constexpr int kIdleSeconds = 3;
constexpr std::size_t kInner = 1400;
constexpr std::size_t kSlot = kInner + 64;  // a sealed packet: inner + header, sequence and tag
constexpr std::size_t kBurst = 32;          // packets per client per sendmsg (UDP GSO segments)
// Echo requests go out this many clients at a time, then the replies are
// read for kEchoPause: about 80,000 requests/s, which a hub that seals as
// many answers keeps up with (a full socket would drop what is measured).
constexpr std::size_t kEchoClients = 64;
constexpr auto kEchoPause = std::chrono::milliseconds(25);

struct SimClient {
  std::unique_ptr<session::Client> client;
  int fd = -1;
  Clock::time_point sent_at{};
  bool done = false;
};

int hub_config(std::size_t n, std::uint64_t seed, const std::string& listen) {
  std::cout << "private_key_file = \"hub.key\"\nlisten = \"" << listen << "\"\ncontrol_socket = \"hub.sock\"\nstate_directory = \".\"\n"
            << "[tun]\nname = \"hl0\"\naddress = \"10.77.0.1/16\"\n"
            << "[limits]\n# measuring capacity: cookies only far above it\nunder_load_handshakes = 10000000\n";
  for (std::size_t i = 0; i < n; ++i) {
    const auto k = client_key(seed, i);
    std::cout << "[[client]]\nname = \"c" << i << "\"\npublic_key = \"" << crypto::key_to_base64(k.pub) << "\"\n";
  }
  return 0;
}

// Inner packets from a client's VIP to the hub's own address (10.77.0.1),
// kInner bytes: UDP to the discard port (the kernel drops it), or an ICMP
// echo request (the kernel answers it, back through the hub).
void ipv4_header(std::uint8_t* p, std::uint32_t vip, std::uint8_t protocol) {
  std::memset(p, 0, kInner);
  p[0] = 0x45;
  store_be16(p + 2, kInner);
  p[8] = 64;
  p[9] = protocol;
  store_be32(p + 12, vip);
  store_be32(p + 16, 0x0a4d0001);
  offload::fix_ipv4_header_checksum(p, 20);
}
void udp_to_discard(std::uint8_t* p, std::uint32_t vip, std::size_t) {
  ipv4_header(p, vip, 17);
  store_be16(p + 20, 40000);
  store_be16(p + 22, 9);
  store_be16(p + 24, kInner - 20);
}
void echo_request(std::uint8_t* p, std::uint32_t vip, std::size_t seq) {
  ipv4_header(p, vip, 1);
  p[20] = 8;  // echo request, code 0
  store_be16(p + 24, static_cast<std::uint16_t>(vip));
  store_be16(p + 26, static_cast<std::uint16_t>(seq));
  store_be16(p + 22, static_cast<std::uint16_t>(~offload::checksum_fold(offload::checksum_add(Bytes(p + 20, kInner - 20)))));
}

// Every client's packets, sealed before the clock starts (`per` slots a client).
struct Presealed {
  std::size_t per;
  std::vector<std::uint8_t> pool;
  std::vector<std::size_t> lens;
  Presealed(std::size_t clients, std::size_t per_client)
      : per(per_client), pool(clients * per_client * kSlot), lens(clients * per_client, 0) {}

  // Seals `count` (at most per) packets a client, written by make(inner, vip, index).
  template <class Make>
  void seal(std::vector<SimClient>& clients, std::size_t count, Make&& make) {
    std::fill(lens.begin(), lens.end(), 0);
    for (std::size_t i = 0; i < clients.size(); ++i) {
      auto& s = clients[i].client->session(0);
      for (std::size_t j = 0; j < std::min(count, per); ++j) {
        std::uint8_t* slot = pool.data() + (i * per + j) * kSlot;
        make(slot + wire::transport::kDataOffset, s.vip().vip, j);
        const auto r = s.seal(MutableBytes(slot, kSlot), kInner, now());
        if (r.kind == session::SealResult::Kind::kSend) lens[i * per + j] = r.len;
      }
    }
  }

  // Client i's packets [first, first + kBurst) in one sendmsg, as UDP GSO
  // segments (all one length): the kernel's per-datagram cost on the
  // generator's side of loopback goes, and the hub's GRO socket takes them as
  // a real NIC's coalesced burst of one flow would reach it. Packets sent.
  std::size_t send_burst(const SimClient& c, std::size_t i, std::size_t first, sockaddr_in& to) {
    iovec iovs[kBurst];
    std::size_t k = 0, seg = 0;
    for (std::size_t b = first; b < std::min(per, first + kBurst); ++b) {
      const std::size_t len = lens[i * per + b];
      if (!len || (seg && len != seg)) continue;
      seg = len;
      iovs[k++] = {pool.data() + (i * per + b) * kSlot, len};
    }
    if (!k) return 0;
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(std::uint16_t))];
    msghdr m{};
    m.msg_name = &to;
    m.msg_namelen = sizeof to;
    m.msg_iov = iovs;
    m.msg_iovlen = k;
    m.msg_control = control;
    m.msg_controllen = sizeof control;
    cmsghdr* cm = CMSG_FIRSTHDR(&m);
    cm->cmsg_level = IPPROTO_UDP;
    cm->cmsg_type = UDP_SEGMENT;
    cm->cmsg_len = CMSG_LEN(sizeof(std::uint16_t));
    const auto gso = static_cast<std::uint16_t>(seg);
    std::memcpy(CMSG_DATA(cm), &gso, sizeof gso);
    return ::sendmsg(c.fd, &m, 0) > 0 ? k : 0;
  }
};

int run(const Endpoint& hub, const PublicKey& hub_key, std::size_t n, std::uint64_t seed, int forward_s) {
  rlimit rl{n + 64, n + 64};
  setrlimit(RLIMIT_NOFILE, &rl);
  crypto::SodiumRng rng;
  sockaddr_in to = bench::to_sockaddr(hub);
  const int ep = epoll_create1(EPOLL_CLOEXEC);

  // Every client's initiation is built before the clock starts.
  std::vector<SimClient> clients(n);
  std::vector<std::uint8_t> buf(65536);
  std::vector<std::vector<std::uint8_t>> initiations(n);
  const Time t0 = now();
  for (std::size_t i = 0; i < n; ++i) {
    session::ClientConfig cc;
    cc.identity = client_key(seed, i);
    cc.wall_offset = static_cast<WallTime>(std::chrono::system_clock::now().time_since_epoch().count());
    cc.resend.max_packets = 64;
    auto& c = clients[i];
    c.client = std::make_unique<session::Client>(cc, rng);
    const auto slot = c.client->add_hub(hub_key);
    auto& s = c.client->session(slot);
    s.add_path(1, t0);
    s.set_active_path(1, t0);
    s.start(t0);
    const auto tx = s.poll_transmit(buf, t0);
    if (!tx) return std::cerr << "no initiation\n", 1;
    initiations[i].assign(buf.begin(), buf.begin() + static_cast<long>(tx->len));
    c.fd = bench::loopback_socket();
    if (c.fd < 0) return std::perror("socket"), 1;
    bench::watch_socket(ep, c.fd, i);
  }

  std::uint64_t delivered = 0;  // inner packets from the hub (echo replies)
  std::vector<std::uint8_t> reply(2048);
  auto drain = [&](int timeout_ms, std::size_t& established) {
    bench::receive_ready(ep, timeout_ms, buf, [&](std::size_t i, MutableBytes d) {
      auto& c = clients[i];
      if (c.client->receive(d, 1, now()).kind == session::ReceiveResult::Kind::kDeliver) ++delivered;
      if (!c.done && c.client->session(0).established()) {
        c.done = true;
        ++established;
        // What the client owes the hub now, as tund sends it: the new
        // session's confirmation (until then the hub holds it pending).
        while (const auto tx = c.client->session(0).poll_transmit(reply, now()))
          ::sendto(c.fd, reply.data(), tx->len, 0, reinterpret_cast<sockaddr*>(&to), sizeof to);
      }
    });
  };

  // Phase 1: handshakes.
  std::cout << "phase handshake" << std::endl;
  std::size_t next = 0, established = 0, retries = 0;
  const auto start = Clock::now();
  while (established < n) {
    const auto t = Clock::now();
    while (next < n && next - established < kWindow) {
      ::sendto(clients[next].fd, initiations[next].data(), initiations[next].size(), 0,
               reinterpret_cast<sockaddr*>(&to), sizeof to);
      clients[next].sent_at = t;
      ++next;
    }
    drain(1, established);
    // Lost initiations (a full socket buffer) are sent again, as tund would.
    if (next == n || next - established >= kWindow) {
      for (std::size_t i = 0; i < next; ++i) {
        auto& c = clients[i];
        if (!c.done && t - c.sent_at > kRetry) {
          ::sendto(c.fd, initiations[i].data(), initiations[i].size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to);
          c.sent_at = t;
          ++retries;
        }
      }
    }
    if (Clock::now() - start > std::chrono::seconds(120)) break;
  }
  const double hs_s = std::chrono::duration<double>(Clock::now() - start).count();
  std::cout << "handshakes " << established << "\nhandshake_seconds " << hs_s << "\nhandshakes_per_second "
            << static_cast<std::uint64_t>(established / hs_s) << "\nhandshake_retries " << retries << std::endl;
  if (established < n) return 1;

  // Phase 2: idle.
  std::cout << "phase idle" << std::endl;
  std::this_thread::sleep_for(std::chrono::seconds(kIdleSeconds));

  // Phase 3: forwarding, every session in turn. Sealed beforehand (PRESEAL
  // packets a client, default 64), so the hub's work is all that is timed.
  const char* env = std::getenv("PRESEAL");
  const std::size_t per = env ? std::max<std::size_t>(kBurst, std::strtoul(env, nullptr, 10)) : 64;
  Presealed packets(n, per);
  packets.seal(clients, per, udp_to_discard);
  std::size_t dummy = 0;
  drain(0, dummy);
  std::cout << "phase forward" << std::endl;
  std::uint64_t sent = 0;
  const auto fstart = Clock::now();
  const auto fend = fstart + std::chrono::seconds(forward_s);
  for (std::size_t j = 0; j < per && Clock::now() < fend; j += kBurst) {
    for (std::size_t i = 0; i < n; ++i) {
      sent += packets.send_burst(clients[i], i, j, to);
      if (i % 1024 == 0) drain(0, dummy);  // acks and keepalives back
    }
  }
  const double fs = std::chrono::duration<double>(Clock::now() - fstart).count();
  std::cout << "forward_sent " << sent << "\nforward_seconds " << fs << "\nforward_sent_per_second "
            << static_cast<std::uint64_t>(sent / fs) << std::endl;
  std::cout << "phase seal" << std::endl;  // the forwarding is over (the caller's window ends here)

  // Phase 4: traffic toward the clients, which the hub keeps for resending.
  const char* echo_env = std::getenv("ECHO");
  const std::size_t echo = std::min(per, echo_env ? std::strtoul(echo_env, nullptr, 10) : 32);
  packets.seal(clients, echo, echo_request);
  drain(0, dummy);
  delivered = 0;
  std::cout << "phase echo" << std::endl;
  std::uint64_t echo_sent = 0;
  const auto read_replies = [&](std::chrono::milliseconds d) {
    for (const auto until = Clock::now() + d; Clock::now() < until;) drain(1, dummy);
  };
  for (std::size_t j = 0; j < echo; j += kBurst)
    for (std::size_t i = 0; i < n; ++i) {
      echo_sent += packets.send_burst(clients[i], i, j, to);
      if ((i + 1) % kEchoClients == 0) read_replies(kEchoPause);
    }
  read_replies(std::chrono::milliseconds(1000));  // the last answers
  std::cout << "echo_sent " << echo_sent << "\necho_replies " << delivered << std::endl;
  std::cout << "phase done" << std::endl;
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  crypto::init();
  const std::vector<std::string> a(argv + 1, argv + argc);
  if (a.size() == 4 && a[0] == "hub-config") return hub_config(std::stoul(a[1]), std::stoull(a[2]), a[3]);
  if (a.size() == 6 && a[0] == "run") {
    const auto colon = a[1].rfind(':');
    in_addr ip{};
    PublicKey key{};
    if (colon == std::string::npos || inet_pton(AF_INET, a[1].substr(0, colon).c_str(), &ip) != 1 ||
        !crypto::key_from_base64(a[2], key))
      return std::cerr << "bad hub endpoint or key\n", 2;
    const Endpoint hub = Endpoint::v4(ntohl(ip.s_addr), static_cast<std::uint16_t>(std::stoul(a[1].substr(colon + 1))));
    return run(hub, key, std::stoul(a[3]), std::stoull(a[4]), std::stoi(a[5]));
  }
  std::cerr << "usage: tund-hubload hub-config N SEED LISTEN | run HUB_IP:PORT HUB_PUBKEY N SEED FORWARD_SECONDS\n";
  return 2;
}
