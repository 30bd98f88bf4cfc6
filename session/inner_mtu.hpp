// What the tunnel does to inner packets when the active path carries less
// than they need (see pmtu.hpp for how a path's MTU is found):
//   clamp_mss      a TCP SYN's MSS option is lowered to what the path carries,
//                  so new connections never send too much (both directions:
//                  each end clamps what it seals and what it delivers)
//   too_big_reply  a packet that does not fit gets the ICMP error a router
//                  would send: IPv4 "fragmentation needed" (only with DF set),
//                  IPv6 "Packet Too Big"; its sender's stack lowers the path
//                  MTU and resends smaller, as it would for any router
//   ipv4_fragment  an IPv4 packet without DF that does not fit is split into
//                  fragments that do (RFC 791), as a router would; the
//                  receiving host reassembles
//   outer_fragments_owed  an IPv6 packet up to 1280 bytes (the MTU IPv6
//                  promises every link, RFC 8200 §5) on a path that carries
//                  less: the tunnel is that link, so it is sealed anyway and
//                  its datagram sent with outer IP fragmentation allowed
//                  (RFC 4459's choice), never refused
// Pure functions over packet bytes; checksums are updated, never trusted.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>

#include "tund/limits.hpp"
#include "tund/types.hpp"

namespace tund::session {

// The MSS that fits an inner MTU (40 bytes of IPv4 and TCP headers, 60 of IPv6).
inline std::uint16_t mss_for(std::size_t inner_mtu, std::uint8_t ip_version) {
  const std::size_t headers = ip_version == 6 ? 60 : 40;
  return static_cast<std::uint16_t>(inner_mtu > headers + 536 ? inner_mtu - headers : 536);
}

// Lowers the MSS option of a TCP SYN (or SYN-ACK) to at most `mss`, fixing
// the TCP checksum incrementally (RFC 1624). True when it changed anything.
bool clamp_mss(MutableBytes packet, std::uint16_t mss_v4, std::uint16_t mss_v6);

// Writes into `out` the ICMP error telling the sender of `original` that the
// path carries `inner_mtu` bytes; returns its length, 0 when none is due (an
// IPv4 packet without DF, an ICMP error, a non-first fragment, a source that
// cannot be answered, an IPv6 MTU below 1280). The error comes from the
// original destination: the sender's stack accepts it as it would a router's.
std::size_t too_big_reply(Bytes original, std::size_t inner_mtu, MutableBytes out);
inline constexpr std::size_t kTooBigReplyMax = 1280;  // room `out` needs

// How many fragments an IPv4 packet without DF becomes on a path carrying
// `inner_mtu` bytes: 0 when it needs none, has DF (too_big_reply's case),
// carries options, or is not one whole IPv4 packet.
std::size_t ipv4_fragment_count(Bytes packet, std::size_t inner_mtu);
// Writes fragment `index` of `packet` into `out` and returns its length (0:
// no such fragment, or no room). `out` may be `packet`'s own buffer for index
// 0 once the later fragments are written: they read past the first's end.
std::size_t ipv4_fragment(Bytes packet, std::size_t inner_mtu, std::size_t index, MutableBytes out);

// Whether `packet` is an IPv6 packet the tunnel owes its 1280 bytes although
// it exceeds the path's `inner_mtu`.
inline bool outer_fragments_owed(Bytes packet, std::size_t inner_mtu) {
  return packet.size() > inner_mtu && packet.size() <= limits::kIpv6MinimumMtu && !packet.empty() &&
         (packet[0] >> 4) == 6;
}

// Whether a sealed packet of `inner_len` bytes is beyond what the path
// carries (`inner_mtu`, 0: no limit known), so its datagram needs outer
// fragments (SealResult::fragment): only one owed (above), or one kept from
// before the path shrank, which DF would lose there.
inline bool beyond_path(std::size_t inner_len, std::size_t inner_mtu) { return inner_mtu && inner_len > inner_mtu; }

// ICMP errors into the TUN at most limits::kTooBigPerSecond (burst
// kTooBigBurst), as a router limits them: an application blasting oversized
// datagrams gets some answers, not one per packet.
class TooBigLimiter {
 public:
  bool allow(Time now) {
    const double elapsed = std::chrono::duration<double>(now - last_).count();
    tokens_ = std::min(limits::kTooBigBurst, tokens_ + (elapsed > 0 ? elapsed : 0) * limits::kTooBigPerSecond);
    last_ = now;
    if (tokens_ < 1) return false;
    tokens_ -= 1;
    return true;
  }

 private:
  double tokens_ = limits::kTooBigBurst;
  Time last_{};
};

}  // namespace tund::session
