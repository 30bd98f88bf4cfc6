/* tund's client engine as a C library (libtund.so.0): the same engine the
 * Linux daemon `tund` runs (engine/client_engine.hpp), with no I/O of its own.
 * The caller owns the TUN (or whatever carries inner IP packets), the UDP
 * sockets, the clock and name resolution; the engine decides everything else
 * (handshakes, keys, which uplink carries the session, probes, resends,
 * handovers). docs/embedding.md walks through a caller; examples/embed/embed.c
 * is one.
 *
 * Contract:
 *  - Time is the caller's monotonic clock in microseconds (CLOCK_MONOTONIC),
 *    passed to every call that may act on it as `now_us`; it never goes back.
 *  - No function throws, aborts or longjmps on any input; errors are the
 *    negative TUND_ERR_* codes. Hostile datagrams are counted and dropped.
 *  - Every buffer is the caller's: the library copies what it keeps and
 *    writes into buffers it is given. The one exception, tund_status_json's
 *    string, is freed by tund_string_free.
 *  - Thread safety: a tund_client is used by one thread at a time (calls on
 *    one client must not overlap; the caller serializes them). Different
 *    clients are independent and may be used from different threads at
 *    once. The library keeps no global state of its own (libsodium's
 *    one-time initialisation, which is thread-safe, aside).
 *  - Uplink ids are the caller's (1 .. 2^30-1; an ifindex does); a datagram
 *    is sent and received "on" an uplink id and an address family.
 */
#ifndef TUND_TUND_H
#define TUND_TUND_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define TUND_EXPORT __attribute__((visibility("default")))
#else
#define TUND_EXPORT
#endif

#define TUND_API_VERSION 1

/* Results: >= 0 success (a length, a count, or TUND_OK), < 0 an error. */
enum {
  TUND_OK = 0,
  TUND_ERR_INVALID = -1,   /* a null pointer, bad id, bad family, bad length */
  TUND_ERR_NOSPACE = -2,   /* the caller's buffer is too small: nothing was taken off the queue */
  TUND_ERR_NOTFOUND = -3,  /* no such uplink, hub or route index */
  TUND_ERR_FULL = -4,      /* too many uplinks (32) */
  TUND_ERR_NOROUTE = -5,   /* an inner packet no hub's routes cover: dropped, counted */
  TUND_ERR_INTERNAL = -6,  /* a bug or out of memory: counted; the client stays usable */
};

/* An outer address: family 4 or 6 (0: none), address in network byte
 * order (IPv4 in the first 4 bytes), port in host order. */
typedef struct tund_addr {
  uint8_t family;
  uint8_t addr[16];
  uint16_t port;
} tund_addr;

/* An IP prefix (a route or a VIP subnet). */
typedef struct tund_prefix {
  uint8_t family; /* 4 or 6 */
  uint8_t addr[16];
  uint8_t len;
} tund_prefix;

typedef struct tund_client tund_client;

/* The library's version ("0.1.0"); static storage. */
TUND_EXPORT const char* tund_version(void);

/* A client from a tund.toml(5) config held in memory (`len` bytes, not
 * necessarily NUL-terminated). What the engine uses: private_key (or
 * private_key_file, relative to the working directory), [[hub]] (name,
 * endpoint or endpoints, public_key, routes, persistent_keepalive,
 * max_vip_subnet), [uplinks], [handover], [tun] mtu, [performance] pacing
 * and allow_aes. The rest (TUN name, control socket, kill switch, gateway,
 * DNS, metrics) is the embedder's business and is read but not acted on.
 * Hub endpoints given as addresses are used at once; names are the caller's
 * to resolve (tund_hub_set_addresses; TUND_EVENT_RESOLVE asks again).
 * `wall_offset_ns`: unix time minus the caller's monotonic time, both in
 * nanoseconds (handshake timestamps must grow across restarts; see
 * docs/embedding.md). On failure returns NULL and writes a NUL-terminated
 * reason ("config:LINE:COLUMN: why") into err (errlen bytes, may be 0). */
TUND_EXPORT tund_client* tund_client_new(const char* toml, size_t len, int64_t wall_offset_ns, char* err,
                                         size_t errlen);
/* Frees everything. NULL is ignored. */
TUND_EXPORT void tund_client_free(tund_client* c);
/* The MTU to give the caller's TUN: the config's [tun] mtu, the largest inner
 * packet tund_inner_packet takes (0 for NULL). */
TUND_EXPORT unsigned tund_tun_mtu(const tund_client* c);

/* Uplink flags. IPV4/IPV6: the uplink has an address and a default route of
 * that family (a path to the hub may work through it). */
enum {
  TUND_UPLINK_UP = 1u << 0,
  TUND_UPLINK_IPV4 = 1u << 1,
  TUND_UPLINK_IPV6 = 1u << 2,
  TUND_UPLINK_METERED = 1u << 3, /* costs money: used only when nothing else works (unless [uplinks] metered overrides) */
};
/* Adds (or replaces) an uplink: `name` for the policy's globs and status,
 * `mtu` its interface MTU (0: unknown). The policy runs at once. */
TUND_EXPORT int tund_uplink_add(tund_client* c, uint32_t id, const char* name, uint32_t flags, unsigned mtu,
                                uint64_t now_us);
TUND_EXPORT int tund_uplink_remove(tund_client* c, uint32_t id, uint64_t now_us);
TUND_EXPORT int tund_uplink_set_up(tund_client* c, uint32_t id, int up, uint64_t now_us);
TUND_EXPORT int tund_uplink_set_metered(tund_client* c, uint32_t id, int metered, uint64_t now_us);
/* A hub member's addresses (hub and member in config order), as the caller
 * resolved its name; replaces what was known. */
TUND_EXPORT int tund_hub_set_addresses(tund_client* c, uint32_t hub, uint32_t member, const tund_addr* addrs, size_t n,
                                       uint64_t now_us);

/* An inner IP packet read from the caller's TUN: routed to its hub, sealed,
 * and queued for tund_poll_transmit. A packet larger than the path carries
 * gets the ICMP error a router would send, queued for tund_poll_inner. */
TUND_EXPORT int tund_inner_packet(tund_client* c, const uint8_t* packet, size_t len, uint64_t now_us);
/* A UDP datagram received on uplink `uplink` from `from`. What it carries
 * for the TUN is queued for tund_poll_inner. */
TUND_EXPORT int tund_outer_datagram(tund_client* c, uint32_t uplink, const tund_addr* from, const uint8_t* data,
                                    size_t len, uint64_t now_us);
/* When the engine next wants tund_on_time (UINT64_MAX: nothing pending). */
TUND_EXPORT uint64_t tund_next_deadline_us(const tund_client* c);
/* Timers: handshakes, keepalives, probes, resends, the policy's hold-downs. */
TUND_EXPORT int tund_on_time(tund_client* c, uint64_t now_us);

/* The next datagram to send: its length (0: none), written into buf, with
 * the uplink and destination to send it through. TUND_ERR_NOSPACE if cap is
 * below its length (65535 always suffices). */
TUND_EXPORT long tund_poll_transmit(tund_client* c, uint8_t* buf, size_t cap, uint32_t* uplink, tund_addr* dest);
/* The next inner packet for the caller's TUN: its length (0: none). */
TUND_EXPORT long tund_poll_inner(tund_client* c, uint8_t* buf, size_t cap);

enum {
  TUND_EVENT_CONNECTED = 1,    /* a hub's session is up and answering */
  TUND_EVENT_DISCONNECTED = 2, /* silent on every path, or keys expired; handshaking again (text: why) */
  TUND_EVENT_PATH_CHANGED = 3, /* the active path moved (from_*, uplink/family; text: why) */
  TUND_EVENT_VIP = 4,          /* a handshake assigned addresses: vip4/vip6; routes by tund_route_get */
  TUND_EVENT_RESOLVE = 5,      /* look `member`'s name up again (the hub may have moved) */
  TUND_EVENT_MEMBER_MOVED = 6, /* following a cluster to `member` (text: why); resolve it if a name */
};
typedef struct tund_event {
  int kind;
  uint32_t hub;     /* in config order */
  uint32_t member;  /* RESOLVE, MEMBER_MOVED, CONNECTED */
  uint32_t uplink;  /* the active path's uplink (0: none) and family */
  uint8_t family;
  uint32_t from_uplink; /* PATH_CHANGED: the path left (0: none) */
  uint8_t from_family;
  tund_prefix vip4;     /* VIP: family 0 when none; len is the VIP subnet's */
  tund_prefix vip6;
  char text[240];       /* NUL-terminated, truncated */
} tund_event;
/* 1 and fills *ev, or 0 when none is pending. Unread events beyond 256 are
 * dropped, oldest first. */
TUND_EXPORT int tund_poll_event(tund_client* c, tund_event* ev);

/* A hub's routes to install on the TUN (its configured routes and the VIP
 * subnet the engine accepted), by index from 0: TUND_OK, or TUND_ERR_NOTFOUND
 * past the last. */
TUND_EXPORT int tund_route_get(const tund_client* c, uint32_t hub, size_t index, tund_prefix* out);

/* The status as JSON (hubs, uplinks and their paths, handovers, drops), the
 * shape of `tund status --json` without its Linux parts; NULL on failure.
 * Free it with tund_string_free. */
TUND_EXPORT char* tund_status_json(const tund_client* c, uint64_t now_us);
TUND_EXPORT void tund_string_free(char* s);

#ifdef __cplusplus
}
#endif

#endif /* TUND_TUND_H */
