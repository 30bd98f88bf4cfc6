// Path MTU, pure logic: the search (pmtu.hpp) against a path that carries a
// given size, with and without chance losses; MSS clamping and the ICMP
// too-big answers (inner_mtu.hpp), checked with the reference checksums.
#include <gtest/gtest.h>

#include <random>

#include "offload/checksum.hpp"
#include "session/inner_mtu.hpp"
#include "session/pmtu.hpp"
#include "support/packets.hpp"

namespace tund::session {
namespace {

using Packet = std::vector<std::uint8_t>;
constexpr auto kRtt = std::chrono::milliseconds(20);

struct SearchRun {
  std::size_t found = 0;
  std::size_t rounds = 0;
  std::size_t probes = 0;
  Duration took{0};
};

// Runs a search over a path carrying `carried` bytes; `loss` drops probes
// (of any size) at random.
SearchRun search(std::size_t base, std::size_t ceiling, std::size_t carried, double loss = 0, unsigned seed = 1) {
  PmtuSearch s;
  s.set_limits(base, ceiling);
  Time now = Time{} + std::chrono::hours(1);
  s.restart(now);
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(0, 1);
  SearchRun r;
  while (s.searching() && r.rounds < 50) {
    PmtuSearch::Sizes sizes;
    const std::size_t n = s.begin_round(now, 3 * kRtt, sizes);
    if (n == 0) break;
    ++r.rounds;
    r.probes += n;
    const Time answered_at = now + kRtt;
    for (std::size_t i = 0; i < n; ++i)
      if (sizes[i] <= carried && u(rng) >= loss) s.on_answer(sizes[i], answered_at);
    now = s.searching() && s.next_event() > answered_at ? s.next_event() : answered_at;
    s.on_timer(now);
  }
  r.found = s.mtu();
  r.took = s.last_duration();
  return r;
}

TEST(PmtuSearch, TheCeilingIsConfirmedInOneRound) {
  const auto r = search(limits::kPmtuBase4, 1460, 1472);
  EXPECT_EQ(r.found, 1460u);
  EXPECT_EQ(r.rounds, 1u);
  EXPECT_EQ(r.took, kRtt);  // every probe answered: the round ends at once
}

TEST(PmtuSearch, FindsASmallerPathWithinTheGranularity) {
  for (const std::size_t carried : {1252u, 1232u, 1300u, 1400u, 1453u, 1180u}) {
    const auto r = search(limits::kPmtuBase4, 1460, carried);
    EXPECT_LE(r.found, carried) << carried;
    EXPECT_GE(r.found + limits::kPmtuGranularity, carried) << carried;
    EXPECT_LE(r.rounds, 8u) << carried;
    EXPECT_LT(r.took, std::chrono::milliseconds(600)) << carried;
  }
}

TEST(PmtuSearch, ABelowBasePathKeepsTheBase) {
  // Nothing above the base passes: the base is what every path must carry.
  const auto r = search(limits::kPmtuBase6, 1452, 1000);
  EXPECT_EQ(r.found, limits::kPmtuBase6);
}

TEST(PmtuSearch, ChanceLossesAreProbedAgainBeforeTheyCount) {
  // 10% of probes lost at random: the answer stays close to the truth (a
  // size must be lost twice to bound the search).
  std::size_t close = 0;
  for (unsigned seed = 1; seed <= 40; ++seed) {
    const auto r = search(limits::kPmtuBase4, 1460, 1252, 0.1, seed);
    EXPECT_LE(r.found, 1252u);
    close += r.found + 2 * limits::kPmtuGranularity >= 1252;
  }
  EXPECT_GE(close, 36u);  // the rest, a size lost twice by chance, are found again at the next search
}

TEST(PmtuSearch, UntilFoundTheCeilingIsAssumedAndASearchKeepsTheOldValue) {
  PmtuSearch s;
  s.set_limits(limits::kPmtuBase4, 1460);
  EXPECT_EQ(s.mtu(), 1460u);
  EXPECT_FALSE(s.found());
  Time now = Time{} + std::chrono::hours(1);
  s.restart(now);
  PmtuSearch::Sizes sizes;
  ASSERT_GT(s.begin_round(now, kRtt, sizes), 0u);
  EXPECT_EQ(sizes[0], 1460u);  // the ceiling goes first
  s.on_answer(1300, now);      // only a smaller one came back
  s.on_timer(now + kRtt);
  EXPECT_TRUE(s.searching());
}

TEST(PmtuSearch, LostConfirmationsRestartTheSearch) {
  PmtuSearch s;
  s.set_limits(limits::kPmtuBase4, 1460);
  Time now = Time{} + std::chrono::hours(1);
  s.restart(now);
  PmtuSearch::Sizes sizes;
  s.begin_round(now, kRtt, sizes);
  for (auto size : sizes)
    if (size) s.on_answer(size, now);
  ASSERT_TRUE(s.found());
  EXPECT_FALSE(s.wants_check(now));
  now += limits::kPmtuCheckInterval;
  ASSERT_TRUE(s.wants_check(now));
  s.begin_check(now);
  s.on_check(false, now);
  EXPECT_FALSE(s.searching());  // one loss is chance
  s.on_check(true, now);
  s.on_check(false, now);
  EXPECT_FALSE(s.searching());  // an answer in between resets the count
  s.on_check(false, now);
  EXPECT_TRUE(s.searching());   // two in a row: the path carries less now
  EXPECT_EQ(s.mtu(), 1460u);    // what was found stays in use meanwhile
}

Packet syn(int version, std::vector<std::uint8_t> options) {
  test::PacketSpec spec;
  spec.version = version;
  spec.tcp_flags = 0x02;
  spec.tcp_options = std::move(options);
  return test::build_packet(spec, {});
}

std::uint16_t mss_of(const Packet& p) {
  const std::size_t l4 = test::ip_header_len(p);
  for (std::size_t i = l4 + 20; i + 3 < p.size(); ++i)
    if (p[i] == 2 && p[i + 1] == 4) return static_cast<std::uint16_t>(p[i + 2] << 8 | p[i + 3]);
  return 0;
}

TEST(InnerMtu, ClampsTheMssOfSynsWithAValidChecksum) {
  for (int version : {4, 6}) {
    // MSS first; after one NOP (an odd offset); after SACK-permitted.
    for (const auto& options : {std::vector<std::uint8_t>{2, 4, 0x05, 0xb4},
                                std::vector<std::uint8_t>{1, 2, 4, 0x05, 0xb4, 1, 1, 1},
                                std::vector<std::uint8_t>{4, 2, 2, 4, 0x05, 0xb4, 1, 1}}) {
      Packet p = syn(version, options);
      ASSERT_TRUE(test::l4_checksum_ok(p));
      EXPECT_TRUE(clamp_mss(p, 1172, 1152));
      EXPECT_EQ(mss_of(p), version == 4 ? 1172 : 1152);
      EXPECT_TRUE(test::l4_checksum_ok(p)) << "version " << version << " options " << options.size();
      EXPECT_FALSE(clamp_mss(p, 1172, 1152));  // already small enough
    }
  }
}

TEST(InnerMtu, LeavesEverythingButSynsAlone) {
  Packet p = syn(4, {2, 4, 0x05, 0xb4});
  p[4 * 0 + 20 + 13] = 0x10;  // an ACK, not a SYN
  const Packet before = p;
  EXPECT_FALSE(clamp_mss(p, 1000, 1000));
  EXPECT_EQ(p, before);
  test::PacketSpec udp;
  udp.proto = 17;
  Packet u = test::build_packet(udp, std::vector<std::uint8_t>(100, 7));
  EXPECT_FALSE(clamp_mss(u, 1000, 1000));
  Packet bad = syn(4, {2, 9, 0x05, 0xb4});  // an option length running past the header
  EXPECT_FALSE(clamp_mss(bad, 1000, 1000));
  EXPECT_FALSE(clamp_mss(MutableBytes(p.data(), 10), 1000, 1000));
}

TEST(InnerMtu, FragmentationNeededForADfPacket) {
  test::PacketSpec spec;
  Packet big = test::build_packet(spec, std::vector<std::uint8_t>(1360, 1));  // 1400 bytes, DF set
  std::vector<std::uint8_t> out(kTooBigReplyMax);
  const std::size_t n = too_big_reply(big, 1212, out);
  ASSERT_EQ(n, 576u);  // RFC 1812: as much of the original as fits 576 bytes
  const Packet icmp(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(n));
  EXPECT_TRUE(test::ipv4_header_ok(icmp));
  EXPECT_EQ(icmp[9], 1);
  EXPECT_EQ(std::vector<std::uint8_t>(icmp.begin() + 12, icmp.begin() + 16), std::vector<std::uint8_t>(big.begin() + 16, big.begin() + 20));
  EXPECT_EQ(std::vector<std::uint8_t>(icmp.begin() + 16, icmp.begin() + 20), std::vector<std::uint8_t>(big.begin() + 12, big.begin() + 16));
  EXPECT_EQ(icmp[20], 3);
  EXPECT_EQ(icmp[21], 4);
  EXPECT_EQ(icmp[26] << 8 | icmp[27], 1212);
  EXPECT_EQ(test::ref_checksum(icmp.data() + 20, n - 20), 0xffff);
  EXPECT_TRUE(std::equal(big.begin(), big.begin() + 28, icmp.begin() + 28));  // the original's headers quoted

  // Without DF a router fragments (InnerMtu.FragmentsWithoutDf): no answer.
  Packet no_df = big;
  no_df[6] = 0;
  EXPECT_EQ(too_big_reply(no_df, 1212, out), 0u);
  // Never about an ICMP error, nor to a multicast source.
  test::PacketSpec icmp_spec;
  icmp_spec.proto = 1;
  Packet err = test::build_packet(icmp_spec, std::vector<std::uint8_t>(1392, 0));
  err[20] = 3;
  EXPECT_EQ(too_big_reply(err, 1212, out), 0u);
  Packet echo = err;
  echo[20] = 8;  // an echo request is answered
  EXPECT_GT(too_big_reply(echo, 1212, out), 0u);
  Packet multicast = big;
  multicast[12] = 224;
  EXPECT_EQ(too_big_reply(multicast, 1212, out), 0u);
}

// Without DF the tunnel fragments as a router would: pieces of at most the
// inner MTU, offsets in 8-byte units, MF on all but the last, valid header
// checksums, the payload intact when joined; fragment 0 may be written over
// the original once the others are out.
TEST(InnerMtu, FragmentsWithoutDf) {
  test::PacketSpec spec;
  Packet big = test::build_packet(spec, std::vector<std::uint8_t>(1360, 1));  // 1400 bytes
  for (std::size_t i = 28; i < big.size(); ++i) big[i] = static_cast<std::uint8_t>(i * 7);
  EXPECT_EQ(ipv4_fragment_count(big, 1000), 0u);  // DF set: too_big_reply's case
  big[6] = 0;
  offload::fix_ipv4_header_checksum(big.data(), 20);
  ASSERT_EQ(ipv4_fragment_count(big, 1000), 2u);
  EXPECT_EQ(ipv4_fragment_count(big, 1400), 0u);  // fits
  EXPECT_EQ(ipv4_fragment_count(big, 500), 3u);
  const Packet original = big;
  Packet second(1000);
  const std::size_t n1 = ipv4_fragment(big, 1000, 1, second);
  const std::size_t n0 = ipv4_fragment(big, 1000, 0, big);  // in place
  ASSERT_EQ(n0, 996u);  // 20 + 976 (8-byte units)
  ASSERT_EQ(n1, 424u);  // 20 + 404
  EXPECT_EQ(ipv4_fragment(big, 1000, 2, second), 0u);
  second.resize(n1);
  const Packet first(big.begin(), big.begin() + static_cast<std::ptrdiff_t>(n0));
  EXPECT_TRUE(test::ipv4_header_ok(first));
  EXPECT_TRUE(test::ipv4_header_ok(second));
  EXPECT_EQ(load_be16(first.data() + 6), 0x2000);           // MF, offset 0
  EXPECT_EQ(load_be16(second.data() + 6), 976 / 8);         // last: no MF
  EXPECT_EQ(load_be16(second.data() + 4), load_be16(original.data() + 4));  // one identification
  Packet joined(first.begin() + 20, first.end());
  joined.insert(joined.end(), second.begin() + 20, second.end());
  EXPECT_EQ(joined, Packet(original.begin() + 20, original.end()));
  // A fragment fragmented again: offsets add up, MF stays on its last piece.
  Packet piece = original;
  store_be16(piece.data() + 6, 0x2000 | 100);
  Packet out(1000);
  ASSERT_EQ(ipv4_fragment(piece, 1000, 1, out), 424u);
  EXPECT_EQ(load_be16(out.data() + 6), 0x2000 | (100 + 122));
  // Options (not copied into later fragments) and truncated packets: none.
  Packet with_options = original;
  with_options[0] = 0x46;
  EXPECT_EQ(ipv4_fragment_count(with_options, 1000), 0u);
  EXPECT_EQ(ipv4_fragment_count(Bytes(original.data(), 1000), 900), 0u);
}

TEST(InnerMtu, PacketTooBigForIpv6) {
  test::PacketSpec spec;
  spec.version = 6;
  Packet big = test::build_packet(spec, std::vector<std::uint8_t>(1400, 1));
  std::vector<std::uint8_t> out(kTooBigReplyMax);
  const std::size_t n = too_big_reply(big, 1300, out);
  ASSERT_EQ(n, kTooBigReplyMax);  // the whole reply within the IPv6 minimum MTU
  const Packet icmp(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(n));
  EXPECT_EQ(icmp[0] >> 4, 6);
  EXPECT_EQ(icmp[6], 58);
  EXPECT_EQ(icmp[40], 2);
  EXPECT_EQ(load_be32(icmp.data() + 44), 1300u);
  EXPECT_TRUE(test::l4_checksum_ok(icmp));
  // IPv6 links carry 1280: a smaller MTU cannot be told.
  EXPECT_EQ(too_big_reply(big, 1200, out), 0u);
}

TEST(InnerMtu, TheLimiterAllowsABurstThenTheRate) {
  TooBigLimiter l;
  Time now = Time{} + std::chrono::hours(1);
  std::size_t allowed = 0;
  for (int i = 0; i < 1000; ++i) allowed += l.allow(now);
  EXPECT_EQ(allowed, static_cast<std::size_t>(limits::kTooBigBurst));
  now += std::chrono::seconds(1);
  allowed = 0;
  for (int i = 0; i < 1000; ++i) allowed += l.allow(now);
  EXPECT_EQ(allowed, static_cast<std::size_t>(limits::kTooBigBurst));  // refilled up to the burst, no more
}

}  // namespace
}  // namespace tund::session
