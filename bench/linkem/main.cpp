// linkem: the lab's link emulator. Forwards Ethernet frames between two
// interfaces of each link (AF_PACKET, no addresses on them) through the model
// of model.hpp, one direction each way, and takes new parameters at run time
// on a control socket.
//
//   linkem run [--control SOCKET] [--seed N] NAME:IF_A:IF_B[:PROFILE]...
//   linkem ctl SOCKET COMMAND...     set NAME up|down|both WORD... | load NAME PROFILE | stats
//
// Side A is the client's (its "up" direction is A to B). On SIGTERM or SIGINT
// the counters are printed and it exits 0; a usage or profile error exits 2.
#include <fcntl.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <string>
#include <vector>

#include "model.hpp"
#include "profile.hpp"
#include "stats.hpp"

namespace linkem {
namespace {

constexpr std::size_t kSlotBytes = 2048;  // an Ethernet frame of MTU 1500 and more; offloads must be off
constexpr std::size_t kBatch = 64;
constexpr std::size_t kBatchesPerWake = 8;  // then serve the other side, so neither starves

Time now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return Time(std::int64_t(ts.tv_sec) * 1000000000 + ts.tv_nsec);
}

[[noreturn]] void die(const std::string& what, int code = 1) {
  std::fprintf(stderr, "linkem: %s\n", what.c_str());
  std::exit(code);
}

// Frame buffers, allocated once: a free list of fixed-size slots.
class Pool {
 public:
  explicit Pool(std::size_t slots) : bytes_(slots * kSlotBytes), length_(slots) {
    free_.reserve(slots);
    for (std::size_t i = slots; i-- > 0;) free_.push_back(std::uint32_t(i));
  }
  bool empty() const { return free_.empty(); }
  std::uint32_t take() {
    const std::uint32_t s = free_.back();
    free_.pop_back();
    return s;
  }
  void give(std::uint32_t s) { free_.push_back(s); }
  std::uint8_t* data(std::uint32_t s) { return bytes_.data() + std::size_t(s) * kSlotBytes; }
  std::uint32_t& length(std::uint32_t s) { return length_[s]; }
  std::size_t capacity() const { return length_.size(); }

 private:
  std::vector<std::uint8_t> bytes_;
  std::vector<std::uint32_t> length_;
  std::vector<std::uint32_t> free_;
};

int open_port(const std::string& ifname) {
  const unsigned index = if_nametoindex(ifname.c_str());
  if (index == 0) die(ifname + ": no such interface", 2);
  const int fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, htons(ETH_P_ALL));
  if (fd < 0) die("socket(AF_PACKET): " + std::string(std::strerror(errno)) + " (needs root)");
  const int one = 1, buffer = 4 << 20;
  // Our own sends must not come back to us as input; sends skip the qdisc.
  setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof one);
  setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof one);
  setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &buffer, sizeof buffer);
  setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &buffer, sizeof buffer);
  sockaddr_ll sll{};
  sll.sll_family = AF_PACKET;
  sll.sll_protocol = htons(ETH_P_ALL);
  sll.sll_ifindex = int(index);
  if (bind(fd, reinterpret_cast<sockaddr*>(&sll), sizeof sll) < 0)
    die("bind " + ifname + ": " + std::strerror(errno));
  return fd;
}

struct Port {
  std::string ifname;
  int fd = -1;
  std::vector<std::uint32_t> tx;  // slots due to leave through this port
};

struct Link {
  std::string name;
  Port a, b;
  Direction up, down;  // up: a -> b
  Link(std::size_t slots, std::uint64_t seed) : up(slots, seed), down(slots, seed * 7919 + 1) {}
};

class Emulator {
 public:
  Emulator(std::size_t slots) : pool_(slots) {}

  void add_link(const std::string& spec, std::uint64_t seed) {
    std::vector<std::string> parts;
    for (std::size_t s = 0, c; s <= spec.size(); s = c + 1) {
      c = spec.find(':', s);
      if (c == std::string::npos) c = spec.size();
      parts.push_back(spec.substr(s, c - s));
    }
    if (parts.size() < 3 || parts.size() > 4 || parts[0].empty())
      die("a link is NAME:IF_A:IF_B[:PROFILE], got \"" + spec + "\"", 2);
    auto& link = *links_.emplace_back(std::make_unique<Link>(pool_.capacity(), seed + links_.size()));
    link.name = parts[0];
    link.a.ifname = parts[1];
    link.b.ifname = parts[2];
    if (parts.size() == 4) {
      std::string error;
      if (!load(link, parts[3], error)) die(error, 2);
    }
    link.a.fd = open_port(link.a.ifname);
    link.b.fd = open_port(link.b.ifname);
  }

  void run(const std::string& control_path);

 private:
  bool load(Link& link, const std::string& file, std::string& error) {
    const auto profile = load_profile(file, error);
    if (!profile) return false;
    const Time now = now_ns();
    link.up.set(profile->up, now);
    link.down.set(profile->down, now);
    return true;
  }
  Link* find(std::string_view name) {
    for (auto& l : links_)
      if (l->name == name) return l.get();
    return nullptr;
  }
  void receive(Port& from, Direction& dir, Time now);
  void transmit(Port& to);
  void serve_control(int listener);
  std::string command(std::string_view line);

  Pool pool_;
  std::vector<std::unique_ptr<Link>> links_;
  Lateness lateness_;
  std::uint64_t oversize_ = 0, no_buffer_ = 0, send_errors_ = 0, receive_errors_ = 0;
  mutable std::uint64_t socket_drops_ = 0;

 public:
  std::string stats() const;
};

void Emulator::receive(Port& from, Direction& dir, Time now) {
  mmsghdr msgs[kBatch];
  iovec iov[kBatch];
  std::uint32_t slots[kBatch];
  for (std::size_t round = 0; round < kBatchesPerWake; ++round) {
    std::size_t n = 0;
    while (n < kBatch && !pool_.empty()) {
      slots[n] = pool_.take();
      iov[n] = {pool_.data(slots[n]), kSlotBytes};
      msgs[n] = {};
      msgs[n].msg_hdr.msg_iov = &iov[n];
      msgs[n].msg_hdr.msg_iovlen = 1;
      ++n;
    }
    if (n == 0) {  // every buffer is held by the links: read one frame to drop it
      std::uint8_t sink[kSlotBytes];
      if (recv(from.fd, sink, sizeof sink, MSG_DONTWAIT | MSG_TRUNC) > 0) ++no_buffer_;
      return;
    }
    const int got = recvmmsg(from.fd, msgs, unsigned(n), MSG_DONTWAIT, nullptr);
    if (got < 0 && errno != EAGAIN && errno != EINTR) ++receive_errors_;  // ENETDOWN: the link went down; keep going
    const std::size_t used = got > 0 ? std::size_t(got) : 0;
    for (std::size_t i = 0; i < used; ++i) {
      const std::uint32_t len = msgs[i].msg_len;
      if ((msgs[i].msg_hdr.msg_flags & MSG_TRUNC) || len > kSlotBytes || len < ETH_HLEN) {
        ++oversize_;
        pool_.give(slots[i]);
        continue;
      }
      pool_.length(slots[i]) = len;
      if (!dir.arrive(now, slots[i], len - ETH_HLEN)) pool_.give(slots[i]);
    }
    for (std::size_t i = used; i < n; ++i) pool_.give(slots[i]);
    if (used < n) return;
  }
}

void Emulator::transmit(Port& to) {
  std::size_t sent = 0;
  while (sent < to.tx.size()) {
    mmsghdr msgs[kBatch];
    iovec iov[kBatch];
    const std::size_t n = std::min(kBatch, to.tx.size() - sent);
    for (std::size_t i = 0; i < n; ++i) {
      const std::uint32_t s = to.tx[sent + i];
      iov[i] = {pool_.data(s), pool_.length(s)};
      msgs[i] = {};
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
    }
    const int done = sendmmsg(to.fd, msgs, unsigned(n), MSG_DONTWAIT);
    // A frame the interface would not take (down, full) is lost, as on a wire.
    const std::size_t taken = done > 0 ? std::size_t(done) : 0;
    if (taken < n) {
      ++send_errors_;
      sent += taken + 1;  // skip the refused frame
    } else {
      sent += n;
    }
  }
  for (std::uint32_t s : to.tx) pool_.give(s);
  to.tx.clear();
}

std::string Emulator::command(std::string_view line) {
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
  const std::size_t sp = line.find(' ');
  const std::string_view verb = line.substr(0, sp);
  std::string_view rest = sp == std::string_view::npos ? std::string_view{} : line.substr(sp + 1);
  if (verb == "stats") return stats();
  const std::size_t sp2 = rest.find(' ');
  Link* link = find(rest.substr(0, sp2));
  if (!link) return "error: no link named \"" + std::string(rest.substr(0, sp2)) + "\"\n";
  rest = sp2 == std::string_view::npos ? std::string_view{} : rest.substr(sp2 + 1);
  if (verb == "load") {
    std::string error;
    return load(*link, std::string(rest), error) ? "ok\n" : "error: " + error + "\n";
  }
  if (verb != "set") return "error: commands are set, load and stats\n";
  std::string_view words;
  const auto which = parse_which(rest, words);
  if (!which) return "error: set NAME up|down|both key=value...\n";
  Params up = link->up.params(), down = link->down.params();
  for (Params* p : {&up, &down}) {
    if ((*which == Which::up && p != &up) || (*which == Which::down && p != &down)) continue;
    if (auto e = apply_words(words, std::filesystem::current_path(), *p))
      return "error: column " + std::to_string(e->column) + ": " + e->reason + "\n";
  }
  const Time now = now_ns();
  if (*which != Which::down) link->up.set(up, now);
  if (*which != Which::up) link->down.set(down, now);
  return "ok\n";
}

void Emulator::serve_control(int listener) {
  const int c = accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
  if (c < 0) return;
  // The lab's own commands arrive whole at once; a client that dawdles holds
  // the forwarder up for at most this long.
  timeval tv{0, 200000};
  setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(c, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  std::string line;
  char buf[1024];
  while (line.find('\n') == std::string::npos && line.size() < 8192) {
    const ssize_t n = read(c, buf, sizeof buf);
    if (n <= 0) break;
    line.append(buf, std::size_t(n));
  }
  const std::string reply = command(line.substr(0, line.find('\n')));
  (void)!write(c, reply.data(), reply.size());
  close(c);
}

std::string Emulator::stats() const {
  std::string out;
  for (const auto& l : links_)
    for (const auto* d : {&l->up, &l->down}) {
      const Counters& c = d->counters();
      out += l->name + (d == &l->up ? " up" : " down") + " in=" + std::to_string(c.frames_in) +
             " out=" + std::to_string(c.frames_out) + " bytes_in=" + std::to_string(c.bytes_in) +
             " bytes_out=" + std::to_string(c.bytes_out) + " drop_queue=" + std::to_string(c.drop_queue) +
             " drop_loss=" + std::to_string(c.drop_loss) + " drop_outage=" + std::to_string(c.drop_outage) +
             " queue_peak=" + std::to_string(c.queue_peak_bytes) + " queued=" + std::to_string(d->queued_bytes()) +
             "\n";
    }
  // Frames the kernel dropped because our receive buffer was full: the
  // emulator fell behind (PACKET_STATISTICS counts since the last read).
  for (const auto& l : links_)
    for (const Port* p : {&l->a, &l->b}) {
      tpacket_stats st{};
      socklen_t len = sizeof st;
      if (getsockopt(p->fd, SOL_PACKET, PACKET_STATISTICS, &st, &len) == 0) socket_drops_ += st.tp_drops;
    }
  out += "all " + lateness_.text() + " socket_drops=" + std::to_string(socket_drops_) +
         " oversize=" + std::to_string(oversize_) +
         " no_buffer=" + std::to_string(no_buffer_) + " send_errors=" + std::to_string(send_errors_) +
         " receive_errors=" + std::to_string(receive_errors_) + "\n";
  return out;
}

void Emulator::run(const std::string& control_path) {
  const int ep = epoll_create1(EPOLL_CLOEXEC);
  auto watch = [&](int fd, std::uint64_t tag) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = tag;
    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
  };
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGINT);
  sigprocmask(SIG_BLOCK, &mask, nullptr);
  const int sfd = signalfd(-1, &mask, SFD_CLOEXEC);
  constexpr std::uint64_t kSignal = ~0ull, kControl = ~0ull - 1;
  watch(sfd, kSignal);
  int listener = -1;
  if (!control_path.empty()) {
    listener = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un sun{};
    sun.sun_family = AF_UNIX;
    if (control_path.size() >= sizeof sun.sun_path) die("control socket path too long", 2);
    std::memcpy(sun.sun_path, control_path.data(), control_path.size());
    unlink(control_path.c_str());
    if (bind(listener, reinterpret_cast<sockaddr*>(&sun), sizeof sun) < 0 || listen(listener, 8) < 0)
      die("control socket " + control_path + ": " + std::strerror(errno));
    watch(listener, kControl);
  }
  for (std::size_t i = 0; i < links_.size(); ++i) {
    watch(links_[i]->a.fd, i * 2);
    watch(links_[i]->b.fd, i * 2 + 1);
  }
  // Timers as exact as the kernel allows: the default slack of 50 us would be
  // a quarter of the delay budget.
  prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
  std::printf("linkem: forwarding %zu link(s)\n", links_.size());
  std::fflush(stdout);
  epoll_event events[16];
  for (;;) {
    Time next = Time::max();
    for (const auto& l : links_) next = std::min({next, l->up.next_event(), l->down.next_event()});
    timespec timeout{}, *t = nullptr;
    if (next != Time::max()) {
      const Time wait = std::max(Time{0}, next - now_ns());
      timeout = {time_t(wait.count() / 1000000000), long(wait.count() % 1000000000)};
      t = &timeout;
    }
    const int n = epoll_pwait2(ep, events, 16, t, nullptr);
    const Time now = now_ns();
    for (int i = 0; i < n; ++i) {
      const std::uint64_t tag = events[i].data.u64;
      if (tag == kSignal) {
        std::fputs(stats().c_str(), stdout);
        return;
      }
      if (tag == kControl) {
        serve_control(listener);
        continue;
      }
      Link& l = *links_[tag / 2];
      if (tag % 2 == 0) receive(l.a, l.up, now);
      else receive(l.b, l.down, now);
    }
    const Time after = now_ns();
    for (auto& l : links_) {
      auto to_port = [&](Port& p) {
        return [&, this](std::uint32_t slot, Time due) {
          lateness_.add(after - due);
          p.tx.push_back(slot);
        };
      };
      auto drop = [this](std::uint32_t slot) { pool_.give(slot); };
      l->up.run(after, to_port(l->b), drop);
      l->down.run(after, to_port(l->a), drop);
      transmit(l->b);
      transmit(l->a);
    }
  }
}

int ctl(const std::string& path, const std::string& line) {
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un sun{};
  sun.sun_family = AF_UNIX;
  if (path.size() >= sizeof sun.sun_path) die("control socket path too long", 2);
  std::memcpy(sun.sun_path, path.data(), path.size());
  if (connect(fd, reinterpret_cast<sockaddr*>(&sun), sizeof sun) < 0) die(path + ": " + std::strerror(errno));
  const std::string request = line + "\n";
  if (write(fd, request.data(), request.size()) != ssize_t(request.size())) die("write: " + std::string(std::strerror(errno)));
  std::string reply;
  char buf[4096];
  for (ssize_t n; (n = read(fd, buf, sizeof buf)) > 0;) reply.append(buf, std::size_t(n));
  std::fputs(reply.c_str(), stdout);
  return reply.rfind("error", 0) == 0 ? 1 : 0;
}

int usage() {
  std::fputs("usage: linkem run [--control SOCKET] [--seed N] [--slots N] NAME:IF_A:IF_B[:PROFILE]...\n"
             "       linkem ctl SOCKET set NAME up|down|both key=value... | load NAME PROFILE | stats\n",
             stderr);
  return 2;
}

}  // namespace
}  // namespace linkem

int main(int argc, char** argv) {
  using namespace linkem;
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.size() >= 3 && args[0] == "ctl") {
    std::string line;
    for (std::size_t i = 2; i < args.size(); ++i) line += (i > 2 ? " " : "") + args[i];
    return ctl(args[1], line);
  }
  if (args.empty() || args[0] != "run") return usage();
  std::string control;
  std::uint64_t seed = 1;
  std::size_t slots = 16384;
  std::vector<std::string> links;
  for (std::size_t i = 1; i < args.size(); ++i) {
    const bool has_value = i + 1 < args.size();
    if (args[i] == "--control" && has_value) control = args[++i];
    else if (args[i] == "--seed" && has_value) seed = std::strtoull(args[++i].c_str(), nullptr, 10);
    else if (args[i] == "--slots" && has_value) slots = std::strtoull(args[++i].c_str(), nullptr, 10);
    else if (args[i].rfind("--", 0) == 0) return usage();
    else links.push_back(args[i]);
  }
  if (links.empty() || slots < kBatch) return usage();
  Emulator emulator(slots);
  for (const auto& l : links) emulator.add_link(l, seed);
  emulator.run(control);
  return 0;
}
