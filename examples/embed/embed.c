/* A second shell around tund's client engine: a tunnel client in plain C that
 * uses nothing of tund but its C API (include/tund/tund.h, libtund.so.0).
 * It opens its own TUN and one UDP socket per uplink named on the command
 * line, watches the uplinks' links with a small rtnetlink socket, and feeds
 * the engine; the engine decides everything else (handshakes, the uplink,
 * probes, handovers).
 *
 *   embed CONFIG.toml TUN UPLINK... [--status FILE]
 *
 * IPv4 only (uplinks and inner addresses); the TUN's address and routes are
 * set with ip(8) when the hub assigns them. SIGTERM or SIGINT: a clean exit.
 * Written for tests/netns/embed_test.sh and as a reading example
 * (docs/embedding.md); not a replacement for tund.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "tund/tund.h"

#define MAX_UPLINKS 8
#define BUF_SIZE 65536
#define BATCH 64 /* packets read per wakeup from one descriptor, so none starves the others */

struct uplink {
  char name[IFNAMSIZ];
  uint32_t id; /* ifindex */
  int fd;
  uint32_t flags; /* TUND_UPLINK_* as last told to the engine */
};

static volatile sig_atomic_t stop;
static void on_signal(int sig) { (void)sig; stop = 1; }

static uint64_t now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* Unix time minus the monotonic clock, in nanoseconds: handshake timestamps. */
static int64_t wall_offset_ns(void) {
  struct timespec wall, mono;
  clock_gettime(CLOCK_REALTIME, &wall);
  clock_gettime(CLOCK_MONOTONIC, &mono);
  return ((int64_t)wall.tv_sec - mono.tv_sec) * 1000000000 + ((int64_t)wall.tv_nsec - mono.tv_nsec);
}

static char* read_file(const char* path, size_t* len) {
  FILE* f = fopen(path, "rb");
  if (!f) return NULL;
  char* text = NULL;
  size_t cap = 0, n = 0, got;
  do {
    if (n == cap) {
      char* more = realloc(text, cap = cap ? cap * 2 : 4096);
      if (!more) break;
      text = more;
    }
    got = fread(text + n, 1, cap - n, f);
    n += got;
  } while (got > 0);
  fclose(f);
  *len = n;
  return text;
}

/* The TUN, with the MTU the engine takes (larger packets would be refused). */
static int open_tun(const char* name, unsigned mtu) {
  int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return -1;
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
  snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", name);
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (ioctl(fd, TUNSETIFF, &ifr) < 0 || s < 0 || (ifr.ifr_mtu = (int)mtu, ioctl(s, SIOCSIFMTU, &ifr) < 0)) {
    if (s >= 0) close(s);
    close(fd);
    return -1;
  }
  close(s);
  return fd;
}

static int open_uplink_socket(const char* dev) {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  /* Bound to its interface: the datagram leaves through this uplink
   * whatever the routing table says. */
  if (setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, dev, (socklen_t)strlen(dev)) < 0) {
    close(fd);
    return -1;
  }
  return fd;
}

/* Listens to link, address and route changes (the handover's trigger). */
static int open_rtnetlink(void) {
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (fd < 0) return -1;
  struct sockaddr_nl sa;
  memset(&sa, 0, sizeof sa);
  sa.nl_family = AF_NETLINK;
  sa.nl_groups = RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV4_ROUTE;
  if (bind(fd, (struct sockaddr*)&sa, sizeof sa) < 0) {
    close(fd);
    return -1;
  }
  return fd;
}

/* A default IPv4 route leaves through `dev` (/proc/net/route: destination 0). */
static int has_default_route(const char* dev) {
  FILE* f = fopen("/proc/net/route", "r");
  if (!f) return 0;
  char line[256], iface[IFNAMSIZ + 1];
  unsigned long dest;
  int found = 0;
  while (!found && fgets(line, sizeof line, f))
    if (sscanf(line, "%16s %lx", iface, &dest) == 2 && dest == 0 && strcmp(iface, dev) == 0) found = 1;
  fclose(f);
  return found;
}

/* The uplink's state as the engine's flags: up and running, an IPv4 address, a default route. */
static uint32_t uplink_flags(const char* dev, unsigned* mtu) {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  struct ifreq ifr;
  uint32_t flags = 0;
  memset(&ifr, 0, sizeof ifr);
  snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", dev);
  if (ioctl(fd, SIOCGIFFLAGS, &ifr) == 0 && (ifr.ifr_flags & IFF_UP) && (ifr.ifr_flags & IFF_RUNNING))
    flags |= TUND_UPLINK_UP;
  if (ioctl(fd, SIOCGIFADDR, &ifr) == 0 && has_default_route(dev)) flags |= TUND_UPLINK_IPV4;
  if (ioctl(fd, SIOCGIFMTU, &ifr) == 0) *mtu = (unsigned)ifr.ifr_mtu;
  close(fd);
  return flags;
}

static void sync_uplinks(tund_client* c, struct uplink* up, int n, int force) {
  for (int i = 0; i < n; ++i) {
    unsigned mtu = 0;
    const uint32_t flags = uplink_flags(up[i].name, &mtu);
    if (!force && flags == up[i].flags) continue;
    up[i].flags = flags;
    tund_uplink_add(c, up[i].id, up[i].name, flags, mtu, now_us());
  }
}

static void run(const char* command) {
  if (system(command) != 0) fprintf(stderr, "embed: failed: %s\n", command);
}

/* The hub's assignment: the VIP on the TUN, the TUN up, the hub's routes through it. */
static void configure_tun(tund_client* c, const char* tun, const tund_event* ev) {
  char cmd[256], addr[INET6_ADDRSTRLEN];
  if (ev->vip4.family != 4) return;
  inet_ntop(AF_INET, ev->vip4.addr, addr, sizeof addr);
  snprintf(cmd, sizeof cmd, "ip addr replace %s/32 dev %s && ip link set %s up", addr, tun, tun);
  run(cmd);
  tund_prefix r;
  for (size_t i = 0; tund_route_get(c, ev->hub, i, &r) == TUND_OK; ++i) {
    if (r.family != 4) continue;
    char net[INET6_ADDRSTRLEN];
    inet_ntop(AF_INET, r.addr, net, sizeof net);
    snprintf(cmd, sizeof cmd, "ip route replace %s/%u dev %s src %s", net, r.len, tun, addr);
    run(cmd);
  }
  fprintf(stderr, "embed: vip %s on %s\n", addr, tun);
}

static const char* uplink_name(const struct uplink* up, int n, uint32_t id) {
  for (int i = 0; i < n; ++i)
    if (up[i].id == id) return up[i].name;
  return "(none)";
}

static void write_status(tund_client* c, const char* path) {
  if (!path) return;
  char* json = tund_status_json(c, now_us());
  if (!json) return;
  char tmp[512];
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  FILE* f = fopen(tmp, "w");
  if (f) {
    fputs(json, f);
    fclose(f);
    rename(tmp, path);
  }
  tund_string_free(json);
}

/* Everything the engine has for the caller: datagrams, inner packets, events. */
static void drain(tund_client* c, int tun, const char* tun_name, struct uplink* up, int n, uint8_t* buf,
                  const char* status) {
  uint32_t id;
  tund_addr to;
  long len;
  while ((len = tund_poll_transmit(c, buf, BUF_SIZE, &id, &to)) > 0) {
    if (to.family != 4) continue;
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons(to.port);
    memcpy(&sa.sin_addr, to.addr, 4);
    for (int i = 0; i < n; ++i)
      if (up[i].id == id) sendto(up[i].fd, buf, (size_t)len, 0, (struct sockaddr*)&sa, sizeof sa);
  }
  while ((len = tund_poll_inner(c, buf, BUF_SIZE)) > 0)
    if (write(tun, buf, (size_t)len) < 0 && errno != EAGAIN) perror("embed: tun write");
  tund_event ev;
  int any = 0;
  while (tund_poll_event(c, &ev) == 1) {
    any = 1;
    switch (ev.kind) {
      case TUND_EVENT_CONNECTED: fprintf(stderr, "embed: hub %u connected via %s\n", ev.hub, uplink_name(up, n, ev.uplink)); break;
      case TUND_EVENT_DISCONNECTED: fprintf(stderr, "embed: hub %u lost (%s)\n", ev.hub, ev.text); break;
      case TUND_EVENT_PATH_CHANGED:
        fprintf(stderr, "embed: hub %u uplink %s -> %s (%s)\n", ev.hub, uplink_name(up, n, ev.from_uplink),
                uplink_name(up, n, ev.uplink), ev.text);
        break;
      case TUND_EVENT_VIP: configure_tun(c, tun_name, &ev); break;
      default: break; /* RESOLVE, MEMBER_MOVED: this example takes addresses only */
    }
  }
  if (any) write_status(c, status);
}

int main(int argc, char** argv) {
  const char* status = NULL;
  if (argc >= 3 && strcmp(argv[argc - 2], "--status") == 0) {
    status = argv[argc - 1];
    argc -= 2;
  }
  if (argc < 4 || argc - 3 > MAX_UPLINKS) {
    fprintf(stderr, "usage: embed CONFIG.toml TUN UPLINK... [--status FILE]  (libtund %s)\n", tund_version());
    return 2;
  }
  size_t text_len = 0;
  char* text = read_file(argv[1], &text_len);
  if (!text) {
    perror(argv[1]);
    return 1;
  }
  char err[512];
  tund_client* c = tund_client_new(text, text_len, wall_offset_ns(), err, sizeof err);
  free(text);
  if (!c) {
    fprintf(stderr, "embed: %s\n", err);
    return 1;
  }
  const char* tun_name = argv[2];
  const int tun = open_tun(tun_name, tund_tun_mtu(c));
  const int nl = open_rtnetlink();
  if (tun < 0 || nl < 0) {
    perror("embed: tun or rtnetlink");
    return 1;
  }
  struct uplink up[MAX_UPLINKS];
  const int n = argc - 3;
  for (int i = 0; i < n; ++i) {
    snprintf(up[i].name, sizeof up[i].name, "%s", argv[3 + i]);
    up[i].id = if_nametoindex(up[i].name);
    up[i].fd = open_uplink_socket(up[i].name);
    up[i].flags = 0;
    if (!up[i].id || up[i].fd < 0) {
      fprintf(stderr, "embed: uplink %s: %s\n", up[i].name, strerror(errno));
      return 1;
    }
  }
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);

  static uint8_t buf[BUF_SIZE];
  sync_uplinks(c, up, n, 1);
  fprintf(stderr, "embed: %s up, %d uplink(s), libtund %s\n", tun_name, n, tund_version());
  uint64_t next_status = 0;
  while (!stop) {
    drain(c, tun, tun_name, up, n, buf, status);
    const uint64_t now = now_us();
    if (now >= next_status) {
      write_status(c, status);
      next_status = now + 1000000;
    }
    /* Due timers run after the descriptors are looked at (a wait of 0),
     * never instead: a busy engine must not starve the sockets. */
    const uint64_t deadline = tund_next_deadline_us(c);
    uint64_t wait = deadline > now ? deadline - now : 0;
    if (wait > next_status - now) wait = next_status - now;
    struct pollfd fds[MAX_UPLINKS + 2];
    fds[0] = (struct pollfd){.fd = tun, .events = POLLIN};
    fds[1] = (struct pollfd){.fd = nl, .events = POLLIN};
    for (int i = 0; i < n; ++i) fds[2 + i] = (struct pollfd){.fd = up[i].fd, .events = POLLIN};
    /* Rounded up: waking before the deadline would only spin. */
    if (poll(fds, (nfds_t)(n + 2), (int)((wait + 999) / 1000)) < 0) {
      if (errno == EINTR) continue;
      perror("embed: poll");
      break;
    }
    if (fds[1].revents & POLLIN) {
      while (recv(nl, buf, BUF_SIZE, 0) > 0) {
      }
      sync_uplinks(c, up, n, 0);
    }
    for (int k = 0; k < BATCH && (fds[0].revents & POLLIN); ++k) {
      const ssize_t len = read(tun, buf, BUF_SIZE);
      if (len <= 0) break;
      tund_inner_packet(c, buf, (size_t)len, now_us());
      drain(c, tun, tun_name, up, n, buf, status);
    }
    for (int i = 0; i < n; ++i) {
      for (int k = 0; k < BATCH && (fds[2 + i].revents & POLLIN); ++k) {
        struct sockaddr_in from;
        socklen_t fl = sizeof from;
        const ssize_t len = recvfrom(up[i].fd, buf, BUF_SIZE, 0, (struct sockaddr*)&from, &fl);
        if (len < 0) break;
        tund_addr a;
        memset(&a, 0, sizeof a);
        a.family = 4;
        memcpy(a.addr, &from.sin_addr, 4);
        a.port = ntohs(from.sin_port);
        tund_outer_datagram(c, up[i].id, &a, buf, (size_t)len, now_us());
        drain(c, tun, tun_name, up, n, buf, status);
      }
    }
    const uint64_t after = now_us();
    if (tund_next_deadline_us(c) <= after) tund_on_time(c, after);
  }
  write_status(c, status);
  tund_client_free(c);
  for (int i = 0; i < n; ++i) close(up[i].fd);
  close(nl);
  close(tun);
  fprintf(stderr, "embed: stopped\n");
  return 0;
}
