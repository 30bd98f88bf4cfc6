// Wire format: exact sizes, classification, control frame round trips, and
// rejection of every truncation, extension and unknown type.
#include <gtest/gtest.h>

#include <vector>

#include "session/control.hpp"
#include "session/ip_packet.hpp"
#include "tund/wire.hpp"

namespace tund {
namespace {

using wire::MessageType;

TEST(Wire, SizesMatchTheLayout) {
  EXPECT_EQ(wire::initiation::kSize, 160u);
  EXPECT_EQ(wire::response::kSize, 128u);
  EXPECT_EQ(wire::cookie_reply::kSize, 64u);
  EXPECT_EQ(wire::transport::kOverhead, 32u);
  // Nothing unauthenticated is answered with more bytes than it carried.
  EXPECT_LT(wire::response::kSize, wire::initiation::kSize);
  EXPECT_LT(wire::cookie_reply::kSize, wire::initiation::kSize);
}

std::vector<std::uint8_t> message(MessageType t, std::size_t n) {
  std::vector<std::uint8_t> m(n, 0xab);
  wire::write_header(m.data(), t);
  return m;
}

TEST(Wire, ClassifyRejectsEveryWrongLength) {
  struct Case {
    MessageType type;
    std::size_t size;
  };
  for (const Case c : {Case{MessageType::kInitiation, wire::initiation::kSize},
                       Case{MessageType::kResponse, wire::response::kSize},
                       Case{MessageType::kCookieReply, wire::cookie_reply::kSize}}) {
    for (std::size_t n = 0; n <= c.size + 8; ++n) {
      const auto m = message(c.type, std::max<std::size_t>(n, 4));
      const auto got = wire::classify(Bytes(m.data(), n));
      if (n == c.size) {
        EXPECT_EQ(got, c.type);
      } else {
        EXPECT_FALSE(got) << "type " << int(c.type) << " size " << n;
      }
    }
  }
  const auto data = message(MessageType::kData, 64);
  for (std::size_t n = 0; n < wire::transport::kMinSize; ++n)
    EXPECT_FALSE(wire::classify(Bytes(data.data(), n))) << n;
  EXPECT_FALSE(wire::classify(message(MessageType::kData, 39)));  // no room for the data sequence
  EXPECT_EQ(wire::classify(message(MessageType::kData, 40)), MessageType::kData);
  EXPECT_EQ(wire::classify(message(MessageType::kData, 1500)), MessageType::kData);
  // A copy (sent on suspicion) has the data layout.
  EXPECT_FALSE(wire::classify(message(MessageType::kDataCopy, 39)));
  EXPECT_EQ(wire::classify(message(MessageType::kDataCopy, 40)), MessageType::kDataCopy);
  EXPECT_FALSE(wire::classify(message(MessageType::kControl, 32)));  // no room for a frame header
  EXPECT_EQ(wire::classify(message(MessageType::kControl, 36)), MessageType::kControl);
  // Padded path MTU probes make control messages up to one datagram.
  EXPECT_EQ(wire::classify(message(MessageType::kControl, 1500)), MessageType::kControl);
  EXPECT_EQ(wire::classify(message(MessageType::kControl, wire::control::kMaxDatagram)), MessageType::kControl);
  EXPECT_FALSE(wire::classify(message(MessageType::kControl, wire::control::kMaxDatagram + 1)));
}

TEST(Wire, ClassifyRejectsUnknownTypesAndReservedBytes) {
  for (int t = 0; t < 256; ++t) {
    if (t >= 1 && t <= 7) continue;
    auto m = message(MessageType::kData, 148);
    m[0] = static_cast<std::uint8_t>(t);
    EXPECT_FALSE(wire::classify(m)) << t;
  }
  for (int i = 1; i < 4; ++i) {
    auto m = message(MessageType::kInitiation, wire::initiation::kSize);
    m[i] = 1;
    EXPECT_FALSE(wire::classify(m));
  }
}

TEST(Control, RoundTripEveryKind) {
  using session::ControlFrame;
  std::vector<ControlFrame> frames(6);
  frames[0].kind = wire::ControlKind::kKeepalive;
  frames[1].kind = wire::ControlKind::kPathProbe;
  frames[1].probe.probe_id = 0xdeadbeef;
  frames[1].probe.flags = wire::control::kProbeFlagBonded;
  frames[1].probe.challenge = {1, 2, 3, 4, 5, 6, 7, 8};
  frames[2] = frames[1];
  frames[2].kind = wire::ControlKind::kProbeReply;
  frames[3].kind = wire::ControlKind::kAck;
  frames[3].ack.flags = wire::control::kAckFlagSwitch;
  frames[3].ack.highest = 1ull << 50;
  for (std::size_t i = 0; i < frames[3].ack.bitmap.size(); ++i) frames[3].ack.bitmap[i] = std::uint8_t(i * 7);
  frames[4].kind = wire::ControlKind::kPathMtu;
  frames[4].path_mtu = 1452;
  frames[5].kind = wire::ControlKind::kMove;

  for (const auto& f : frames) {
    std::uint8_t buf[wire::control::kMaxSize];
    const std::size_t n = session::encode_control(f, buf);
    ASSERT_EQ(n, wire::control_frame_size(f.kind));
    const auto back = session::decode_control(Bytes(buf, n));
    ASSERT_TRUE(back);
    EXPECT_EQ(back->kind, f.kind);
    const bool probe = f.kind == wire::ControlKind::kPathProbe || f.kind == wire::ControlKind::kProbeReply;
    EXPECT_EQ(back->probe, probe ? f.probe : session::Probe{});
    EXPECT_EQ(back->probe.flags, probe ? f.probe.flags : 0u);
    if (f.kind == wire::ControlKind::kAck) {
      EXPECT_EQ(back->ack, f.ack);
    }
    EXPECT_EQ(back->path_mtu, f.path_mtu);
    // Every truncation is refused, and every extension but a probe's zero padding.
    std::uint8_t big[wire::control::kMaxSize + 8] = {};
    std::copy(buf, buf + n, big);
    for (std::size_t len = 0; len <= n + 8; ++len) {
      if (len == n) continue;
      const auto d = session::decode_control(Bytes(big, len));
      if (probe && len > n) {
        ASSERT_TRUE(d) << "kind " << int(f.kind) << " len " << len;
        EXPECT_EQ(d->probe.padding, len - n);
      } else {
        EXPECT_FALSE(d) << "kind " << int(f.kind) << " len " << len;
      }
    }
    if (probe) {
      big[n + 5] = 1;  // padding must be zeros
      EXPECT_FALSE(session::decode_control(Bytes(big, n + 8)));
      ControlFrame padded = f;
      padded.probe.padding = 1400;
      std::vector<std::uint8_t> wide(session::encoded_size(padded));
      ASSERT_EQ(session::encode_control(padded, wide.data()), n + 1400);
      const auto again = session::decode_control(wide);
      ASSERT_TRUE(again);
      EXPECT_EQ(again->probe, padded.probe);
    }
    if (probe) {
      // A flag this build does not know is refused, as the reserved word was.
      auto copy = std::vector<std::uint8_t>(buf, buf + n);
      copy[wire::control::kProbeFlags] |= 2;
      EXPECT_FALSE(session::decode_control(copy));
    }
    // Non-zero reserved bytes are refused.
    for (std::size_t r : {std::size_t{1}, std::size_t{2}, std::size_t{3}}) {
      auto copy = std::vector<std::uint8_t>(buf, buf + n);
      copy[r] = 1;
      EXPECT_FALSE(session::decode_control(copy));
    }
  }
  std::uint8_t unknown[4] = {9, 0, 0, 0};
  EXPECT_FALSE(session::decode_control(Bytes(unknown, 4)));
}

TEST(InnerPacket, ParsesAndTrimsByHeaderLength) {
  std::vector<std::uint8_t> p(40, 0);
  p[0] = 0x45;
  store_be16(p.data() + 2, 28);
  store_be32(p.data() + 12, 0x0a4d0002);
  store_be32(p.data() + 16, 0x0a040002);
  const auto info = session::parse_inner(p);
  ASSERT_TRUE(info);
  EXPECT_EQ(info->length, 28u);
  EXPECT_EQ(info->src4, 0x0a4d0002u);
  EXPECT_EQ(info->dst4, 0x0a040002u);
  // Length beyond the bytes, header shorter than 20, bad version: refused.
  store_be16(p.data() + 2, 41);
  EXPECT_FALSE(session::parse_inner(p));
  store_be16(p.data() + 2, 28);
  p[0] = 0x44;
  EXPECT_FALSE(session::parse_inner(p));
  p[0] = 0x55;
  EXPECT_FALSE(session::parse_inner(p));
  for (std::size_t n = 0; n < 20; ++n) EXPECT_FALSE(session::parse_inner(Bytes(p.data(), n)));
  std::vector<std::uint8_t> v6(48, 0);
  v6[0] = 0x60;
  store_be16(v6.data() + 4, 8);
  const auto i6 = session::parse_inner(v6);
  ASSERT_TRUE(i6);
  EXPECT_EQ(i6->length, 48u);
  store_be16(v6.data() + 4, 9);
  EXPECT_FALSE(session::parse_inner(v6));
}

}  // namespace
}  // namespace tund
