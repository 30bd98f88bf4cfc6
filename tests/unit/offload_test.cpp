// GSO split and GRO coalescing against hand-built packets (TCP and UDP, IPv4
// and IPv6, options, odd lengths), a round trip split -> coalesce, and a
// fuzz-style run of the splitter on mutated and random input.
#include <gtest/gtest.h>

#include <random>

#include "offload/gro_table.hpp"
#include "offload/gso_split.hpp"
#include "support/packets.hpp"

namespace tund::offload {
namespace {

using test::build_packet;
using test::PacketSpec;
using test::pattern;
using Packet = std::vector<std::uint8_t>;

constexpr std::size_t kSlot = 2048;

struct Split {
  SplitResult result;
  std::vector<Packet> segments;
};

Split split(const VnetHeader& h, const Packet& p, std::size_t slots = 64, std::size_t capacity = 1500) {
  std::vector<std::uint8_t> area(slots * kSlot);
  std::vector<std::size_t> lengths(slots);
  Split s;
  s.result = gso_split(h, Bytes(p.data(), p.size()), SegmentSlots{area.data(), kSlot, capacity, slots, lengths.data()});
  for (std::size_t i = 0; i < s.result.count; ++i)
    s.segments.emplace_back(area.data() + i * kSlot, area.data() + i * kSlot + lengths[i]);
  return s;
}

VnetHeader tso(std::uint8_t type, std::uint16_t mss) {
  VnetHeader h;
  h.flags = kNeedsCsum;
  h.gso_type = type;
  h.gso_size = mss;
  return h;
}

std::size_t l4_header_len(const Packet& p) {
  const std::size_t ihl = test::ip_header_len(p);
  const std::uint8_t proto = (p[0] >> 4) == 4 ? p[9] : p[6];
  return proto == 6 ? std::size_t(p[ihl + 12] >> 4) * 4 : 8;
}
Packet payload_of(const Packet& p) {
  const std::size_t h = test::ip_header_len(p) + l4_header_len(p);
  return Packet(p.begin() + long(h), p.end());
}

// Every segment is a valid packet of the right size; payloads concatenate to
// the original; TCP sequence numbers, IPv4 IDs and flags are per segment.
void expect_valid_split(const Packet& super, const Split& s, std::uint16_t mss) {
  ASSERT_EQ(s.result.error, SplitError::kNone);
  const Packet payload = payload_of(super);
  ASSERT_EQ(s.result.count, (payload.size() + mss - 1) / mss);
  Packet joined;
  const bool v4 = (super[0] >> 4) == 4;
  const std::size_t ihl = test::ip_header_len(super);
  const bool tcp = (v4 ? super[9] : super[6]) == 6;
  for (std::size_t i = 0; i < s.segments.size(); ++i) {
    const Packet& seg = s.segments[i];
    SCOPED_TRACE("segment " + std::to_string(i));
    const Packet pl = payload_of(seg);
    EXPECT_EQ(pl.size(), std::min<std::size_t>(mss, payload.size() - i * mss));
    joined.insert(joined.end(), pl.begin(), pl.end());
    EXPECT_TRUE(test::l4_checksum_ok(seg));
    if (v4) {
      EXPECT_TRUE(test::ipv4_header_ok(seg));
      EXPECT_EQ(load_be16(seg.data() + 2), seg.size());
      EXPECT_EQ(load_be16(seg.data() + 4), std::uint16_t(load_be16(super.data() + 4) + i));
    } else {
      EXPECT_EQ(load_be16(seg.data() + 4) + 40u, seg.size());
    }
    if (tcp) {
      EXPECT_EQ(load_be32(seg.data() + ihl + 4), std::uint32_t(load_be32(super.data() + ihl + 4) + i * mss));
      const std::uint8_t f = seg[ihl + 13], orig = super[ihl + 13];
      const bool last = i + 1 == s.segments.size();
      EXPECT_EQ(f & 0x09, last ? (orig & 0x09) : 0) << "FIN/PSH only on the last";
      EXPECT_EQ(f & 0x80, i == 0 ? (orig & 0x80) : 0) << "CWR only on the first";
      // Options are carried unchanged.
      EXPECT_TRUE(std::equal(seg.begin() + long(ihl + 20), seg.begin() + long(ihl + l4_header_len(seg)),
                             super.begin() + long(ihl + 20)));
    } else {
      EXPECT_EQ(load_be16(seg.data() + ihl + 4), seg.size() - ihl);
    }
  }
  EXPECT_EQ(joined, payload);
}

const std::vector<std::uint8_t> kTimestamps = {1, 1, 8, 10, 0, 0, 0, 42, 0, 0, 0, 7};

TEST(GsoSplit, TcpV4WithOptionsAndFlags) {
  PacketSpec s;
  s.tcp_options = kTimestamps;
  s.tcp_flags = 0x10 | 0x08 | 0x01 | 0x80;  // ACK PSH FIN CWR
  s.seq = 0xfffff000;                       // wraps inside the super-packet
  s.ip_id = 0xfffe;                          // so does the ID
  const Packet super = build_packet(s, pattern(10001));
  expect_valid_split(super, split(tso(kGsoTcpV4, 1388), super), 1388);
}

TEST(GsoSplit, TcpV6OddLengths) {
  PacketSpec s;
  s.version = 6;
  for (std::uint16_t mss : {1, 7, 536, 1220}) {
    for (std::size_t n : {1u, 1219u, 1220u, 1221u, 7777u}) {
      if (n / mss > 60) continue;
      SCOPED_TRACE("mss " + std::to_string(mss) + " payload " + std::to_string(n));
      const Packet super = build_packet(s, pattern(n, std::uint8_t(n)));
      expect_valid_split(super, split(tso(kGsoTcpV6, mss), super), mss);
    }
  }
}

TEST(GsoSplit, UdpV4AndV6) {
  for (int version : {4, 6}) {
    PacketSpec s;
    s.version = version;
    s.proto = 17;
    const Packet super = build_packet(s, pattern(5 * 1200 + 333));
    expect_valid_split(super, split(tso(kGsoUdpL4, 1200), super), 1200);
  }
}

TEST(GsoSplit, TcpV4WithIpOptions) {
  PacketSpec s;
  s.ip_options = {1, 1, 1, 0};  // NOP NOP NOP EOL
  const Packet super = build_packet(s, pattern(4000));
  expect_valid_split(super, split(tso(kGsoTcpV4, 1000), super), 1000);
}

TEST(GsoSplit, CompletesAPartialChecksum) {
  PacketSpec s;
  s.proto = 17;
  Packet p = build_packet(s, pattern(333));
  const Packet want = p;
  // What the kernel hands out with CHECKSUM_PARTIAL: the pseudo-header sum.
  const std::uint16_t partial = test::ref_checksum(nullptr, 0, test::ref_pseudo(p, 17, p.size() - 20));
  p[26] = std::uint8_t(partial >> 8);
  p[27] = std::uint8_t(partial);
  VnetHeader h;
  h.flags = kNeedsCsum;
  h.csum_start = 20;
  h.csum_offset = 6;
  const auto s1 = split(h, p);
  ASSERT_EQ(s1.result.count, 1u);
  EXPECT_EQ(s1.segments[0], want);
  // Without the flag, the packet is copied as it is (padding cut).
  Packet padded = want;
  padded.resize(padded.size() + 3, 0xee);
  const auto s2 = split(VnetHeader{}, padded);
  ASSERT_EQ(s2.result.count, 1u);
  EXPECT_EQ(s2.segments[0], want);
}

TEST(GsoSplit, RefusesWhatDoesNotAddUp) {
  PacketSpec s;
  const Packet good = build_packet(s, pattern(3000));
  EXPECT_EQ(split(tso(kGsoTcpV4, 1000), good, 2).result.error, SplitError::kTooManySegments);
  EXPECT_EQ(split(tso(kGsoTcpV4, 1400), good, 64, 1000).result.error, SplitError::kSegmentTooBig);
  EXPECT_EQ(split(tso(kGsoTcpV6, 1000), good).result.error, SplitError::kMalformed) << "v6 type on a v4 packet";
  EXPECT_EQ(split(tso(kGsoUdp, 1000), good).result.error, SplitError::kUnsupported) << "UFO";
  EXPECT_EQ(split(tso(kGsoTcpV4, 0), good).result.error, SplitError::kMalformed);
  Packet longer = good;
  longer[2] = 0xff;  // IP length beyond the bytes
  EXPECT_EQ(split(tso(kGsoTcpV4, 1000), longer).result.error, SplitError::kMalformed);
  Packet fragment = good;
  fragment[6] |= 0x20;  // MF
  EXPECT_EQ(split(tso(kGsoTcpV4, 1000), fragment).result.error, SplitError::kMalformed);
  Packet doff = good;
  doff[32] = 0xf0;  // TCP header of 60 bytes: fine; 0x40 is 16 bytes: not
  doff[32] = 0x40;
  EXPECT_EQ(split(tso(kGsoTcpV4, 1000), doff).result.error, SplitError::kMalformed);
  VnetHeader bad_csum;
  bad_csum.flags = kNeedsCsum;
  bad_csum.csum_start = 4000;
  const Packet small = build_packet(s, pattern(100));
  EXPECT_EQ(split(bad_csum, small).result.error, SplitError::kMalformed);
  EXPECT_EQ(split(VnetHeader{}, Packet{0x45, 0}).result.error, SplitError::kMalformed);
  EXPECT_EQ(split(VnetHeader{}, Packet{}).result.error, SplitError::kMalformed);
}

// Mutated and random input never crashes, never writes past a slot, and
// whatever comes out fits the slots it was given.
TEST(GsoSplit, FuzzNeverOverrunsAndNeverCrashes) {
  std::mt19937 rng(1234);
  const std::size_t slots = 16, capacity = 700;
  std::vector<std::uint8_t> area(slots * kSlot + 64, 0xa5);
  std::vector<std::size_t> lengths(slots);
  std::size_t produced = 0, refused = 0;
  for (int round = 0; round < 20000; ++round) {
    PacketSpec s;
    s.version = rng() % 2 ? 4 : 6;
    s.proto = rng() % 3 ? 6 : 17;
    if (rng() % 2) s.tcp_options = kTimestamps;
    Packet p = build_packet(s, pattern(rng() % 9000, std::uint8_t(round)));
    for (int flips = static_cast<int>(rng() % 4); flips-- > 0;) p[rng() % p.size()] = std::uint8_t(rng());
    if (rng() % 8 == 0) p.resize(rng() % (p.size() + 1));
    if (rng() % 16 == 0) {
      p.resize(rng() % 200);
      for (auto& b : p) b = std::uint8_t(rng());
    }
    VnetHeader h;
    h.flags = std::uint8_t(rng() % 4);
    const std::uint8_t types[] = {kGsoNone, kGsoTcpV4, kGsoTcpV6, kGsoUdpL4, kGsoUdp, std::uint8_t(rng())};
    h.gso_type = types[rng() % 6];
    h.gso_size = std::uint16_t(rng() % 3 ? 200 + rng() % 1400 : rng());
    h.csum_start = std::uint16_t(rng() % 80);
    h.csum_offset = std::uint16_t(rng() % 20);
    const auto r = gso_split(h, Bytes(p.data(), p.size()), SegmentSlots{area.data(), kSlot, capacity, slots, lengths.data()});
    if (r.error != SplitError::kNone) {
      ++refused;
      EXPECT_EQ(r.count, 0u);
      continue;
    }
    ASSERT_LE(r.count, slots);
    for (std::size_t i = 0; i < r.count; ++i) ASSERT_LE(lengths[i], capacity);
    produced += r.count;
  }
  // The guard bytes past every slot's capacity, and past the last slot, were
  // never written.
  for (std::size_t s = 0; s < slots; ++s)
    for (std::size_t i = s * kSlot + capacity; i < (s + 1) * kSlot; ++i) ASSERT_EQ(area[i], 0xa5) << "slot " << s;
  for (std::size_t i = slots * kSlot; i < area.size(); ++i) ASSERT_EQ(area[i], 0xa5);
  EXPECT_GT(produced, 1000u);
  EXPECT_GT(refused, 1000u);
}

// --- GRO ---------------------------------------------------------------------------

struct Written {
  VnetHeader header;
  Packet packet;
};

std::vector<Written> coalesce(const std::vector<Packet>& in, std::size_t items = 16) {
  GroTable t(items);
  for (const auto& p : in) EXPECT_TRUE(t.add(Bytes(p.data(), p.size())));
  t.finish();
  std::vector<Written> out;
  for (std::size_t i = 0; i < t.size(); ++i) {
    const Bytes b = t.item(i);
    out.push_back({VnetHeader::read(b.data()), Packet(b.begin() + kVnetHeaderSize, b.end())});
  }
  return out;
}

std::vector<Packet> segments_of(PacketSpec s, std::size_t count, std::size_t mss, std::size_t last = 0) {
  std::vector<Packet> v;
  for (std::size_t i = 0; i < count; ++i) {
    const std::size_t n = i + 1 == count && last ? last : mss;
    v.push_back(build_packet(s, pattern(n, std::uint8_t(i))));
    s.seq += static_cast<std::uint32_t>(n);
    ++s.ip_id;
  }
  return v;
}

// What the kernel does with a GSO write: the segments we would get back.
std::vector<Packet> resegment(const Written& w) {
  if (w.header.gso_type == kGsoNone) return {w.packet};
  const auto s = split(w.header, w.packet, 64, 65535);
  EXPECT_EQ(s.result.error, SplitError::kNone);
  return s.segments;
}

TEST(GroTable, MergesInOrderSegmentsOfOneFlowBothVersions) {
  for (int version : {4, 6}) {
    PacketSpec s;
    s.version = version;
    s.tcp_options = kTimestamps;
    const auto in = segments_of(s, 10, 1388, 500);
    const auto out = coalesce(in);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].header.gso_type, version == 4 ? kGsoTcpV4 : kGsoTcpV6);
    EXPECT_EQ(out[0].header.gso_size, 1388);
    EXPECT_EQ(out[0].header.flags, kNeedsCsum);
    EXPECT_EQ(out[0].header.csum_start, version == 4 ? 20 : 40);
    EXPECT_EQ(out[0].header.csum_offset, 16);
    EXPECT_EQ(out[0].header.hdr_len, (version == 4 ? 20 : 40) + 32);
    if (version == 4) {
      EXPECT_TRUE(test::ipv4_header_ok(out[0].packet));
    }
    // Segmenting it again gives back exactly what went in.
    EXPECT_EQ(resegment(out[0]), in);
  }
}

TEST(GroTable, SplitThenCoalesceIsTheIdentity) {
  PacketSpec s;
  s.tcp_options = kTimestamps;
  s.tcp_flags = 0x18;  // ACK PSH
  const Packet super = build_packet(s, pattern(20000));
  const auto parts = split(tso(kGsoTcpV4, 1388), super);
  const auto out = coalesce(parts.segments);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(resegment(out[0]), parts.segments);
  EXPECT_EQ(payload_of(out[0].packet), payload_of(super));
}

TEST(GroTable, KeepsFlowsApartAndEachInOrder) {
  PacketSpec a, b;
  b.sport = 40001;
  const auto fa = segments_of(a, 4, 1000), fb = segments_of(b, 4, 1000);
  std::vector<Packet> in;
  for (int i = 0; i < 4; ++i) {
    in.push_back(fa[i]);
    in.push_back(fb[i]);
  }
  const auto out = coalesce(in);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(resegment(out[0]), fa);
  EXPECT_EQ(resegment(out[1]), fb);
}

TEST(GroTable, StopsWhereTheKernelWould) {
  PacketSpec s;
  auto seg = segments_of(s, 6, 1000);
  {  // a gap in sequence: a new item
    auto in = seg;
    in.erase(in.begin() + 2);
    const auto out = coalesce(in);
    ASSERT_EQ(out.size(), 2u);
    EXPECT_EQ(resegment(out[0]).size(), 2u);
  }
  {  // PSH ends a super-packet, and is kept on it
    auto in = segments_of([] { PacketSpec p; return p; }(), 3, 1000);
    PacketSpec psh;
    psh.seq = 1000 + 3000;
    psh.ip_id = 103;
    psh.tcp_flags = 0x18;
    in.push_back(build_packet(psh, pattern(1000)));
    PacketSpec after = psh;
    after.seq += 1000;
    after.ip_id = 104;
    after.tcp_flags = 0x10;
    in.push_back(build_packet(after, pattern(1000)));
    const auto out = coalesce(in);
    ASSERT_EQ(out.size(), 2u);
    EXPECT_EQ(out[0].packet[33] & 0x08, 0x08);
    EXPECT_EQ(resegment(out[0]), std::vector<Packet>(in.begin(), in.begin() + 4));
  }
  {  // a short segment ends it
    auto in = segments_of(s, 3, 1000, 10);
    PacketSpec next = s;
    next.seq += 2010;
    next.ip_id = 103;
    in.push_back(build_packet(next, pattern(1000)));
    EXPECT_EQ(coalesce(in).size(), 2u);
  }
  {  // different options (a new timestamp), window, ACK or TTL: new item
    for (int field = 0; field < 4; ++field) {
      PacketSpec t = s;
      t.seq += 2000;
      t.ip_id = 102;
      if (field == 0) t.tcp_options = kTimestamps;
      if (field == 1) t.window = 1;
      if (field == 2) t.ack = 1;
      if (field == 3) t.ttl = 1;
      auto in = segments_of(s, 2, 1000);
      in.push_back(build_packet(t, pattern(1000)));
      EXPECT_EQ(coalesce(in).size(), 2u) << "field " << field;
    }
  }
  {  // IPv4 IDs that do not follow on
    auto in = segments_of(s, 2, 1000);
    PacketSpec t = s;
    t.seq += 2000;
    t.ip_id = 7;
    in.push_back(build_packet(t, pattern(1000)));
    EXPECT_EQ(coalesce(in).size(), 2u);
  }
}

TEST(GroTable, NeverMergesAheadOfAnEarlierPacketOfTheFlow) {
  PacketSpec s;
  auto in = segments_of(s, 2, 1000);
  PacketSpec fin = s;
  fin.seq += 2000;
  fin.ip_id = 102;
  fin.tcp_flags = 0x11;  // FIN ACK, no data
  in.push_back(build_packet(fin, {}));
  PacketSpec later = fin;
  later.tcp_flags = 0x10;
  later.ip_id = 103;
  in.push_back(build_packet(later, pattern(1000)));
  const auto out = coalesce(in);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[1].packet, in[2]);
  EXPECT_EQ(out[2].packet, in[3]);
}

TEST(GroTable, ABadChecksumPassesAloneForTheKernelToDrop) {
  PacketSpec s;
  auto in = segments_of(s, 3, 1000);
  in[1][100] ^= 0xff;
  const auto out = coalesce(in);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[1].packet, in[1]);
  EXPECT_EQ(out[1].header.flags, 0) << "not marked valid";
  EXPECT_EQ(out[0].header.flags, kDataValid);
}

TEST(GroTable, OtherPacketsPassUnchangedAndAFullTableSaysSo) {
  PacketSpec udp;
  udp.proto = 17;
  const Packet u = build_packet(udp, pattern(100));
  PacketSpec syn;
  syn.tcp_flags = 0x02;
  const Packet sy = build_packet(syn, {});
  const Packet junk = {1, 2, 3};
  const auto out = coalesce({u, sy, junk});
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].packet, u);
  EXPECT_EQ(out[1].packet, sy);
  EXPECT_EQ(out[2].packet, junk);
  for (const auto& w : out) EXPECT_EQ(w.header.gso_type, kGsoNone);

  GroTable t(2);
  EXPECT_TRUE(t.add(Bytes(u.data(), u.size())));
  EXPECT_TRUE(t.add(Bytes(u.data(), u.size())));
  EXPECT_FALSE(t.add(Bytes(u.data(), u.size())));
  t.clear();
  EXPECT_TRUE(t.add(Bytes(u.data(), u.size())));
}

TEST(GroTable, StaysUnder64KiB) {
  PacketSpec s;
  const auto in = segments_of(s, 60, 1400);
  const auto out = coalesce(in);
  ASSERT_GE(out.size(), 2u);
  for (const auto& w : out) EXPECT_LE(w.packet.size(), 65535u);
  std::vector<Packet> back;
  for (const auto& w : out)
    for (auto& p : resegment(w)) back.push_back(p);
  EXPECT_EQ(back, in);
}

// Found by fuzz/gro.cpp (UBSan: memcpy from a null pointer): an empty packet
// passes alone, as a bare vnet header.
TEST(GroTable, AnEmptyPacketPassesAlone) {
  GroTable t(2);
  ASSERT_TRUE(t.add(Bytes{}));
  t.finish();
  ASSERT_EQ(t.size(), 1u);
  EXPECT_EQ(t.item(0).size(), kVnetHeaderSize);
}

}  // namespace
}  // namespace tund::offload
