// The redundancy policy's selectors (session/redundancy.hpp) on real packet
// bytes, and their config syntax with its errors (daemon/config_check.hpp).
#include <gtest/gtest.h>

#include <toml.hpp>

#include "daemon/config_check.hpp"
#include "session/redundancy.hpp"
#include "support/packets.hpp"

namespace tund::session {
namespace {

using K = RedundancySelector::Kind;

RedundancyPolicy parse(const std::string& list) {
  std::istringstream in("redundant = " + list + "\n");
  return config::read_redundant(toml::parse(in, "r.toml"), "redundant");
}

std::string error_of(const std::string& list) {
  try {
    parse(list);
  } catch (const config::ConfigError& e) {
    return e.what();
  }
  return "accepted";
}

TEST(Redundancy, SelectorsParseFromTheirText) {
  const auto p = parse(R"(["dscp:46", "udp:5004", "tcp:5000-5010", "10.4.0.0/24", "fd04::/64"])");
  ASSERT_EQ(p.size(), 5u);
  EXPECT_EQ(p[0].kind, K::kDscp);
  EXPECT_EQ(p[0].dscp, 46);
  EXPECT_EQ(p[1].kind, K::kUdp);
  EXPECT_EQ(p[1].port_low, 5004);
  EXPECT_EQ(p[1].port_high, 5004);
  EXPECT_EQ(p[2].kind, K::kTcp);
  EXPECT_EQ(p[2].port_high, 5010);
  EXPECT_EQ(p[3].prefix, IpPrefix::v4(0x0a040000, 24));
  EXPECT_EQ(p[4].prefix.family, 6);
  EXPECT_TRUE(parse("[]").empty());
  for (const char* bad : {R"(["dscp:64"])", R"(["dscp:"])", R"(["udp:0"])", R"(["udp:70000"])", R"(["tcp:10-5"])",
                          R"(["sctp:5"])", R"(["10.4.0.1/24"])", R"(["udp:5x"])"})
    EXPECT_NE(error_of(bad).find("r.toml:1:"), std::string::npos) << bad << ": " << error_of(bad);
  std::string many = "[";
  for (int i = 1; i <= 33; ++i) many += "\"udp:" + std::to_string(i) + "\",";
  EXPECT_NE(error_of(many + "]").find("at most 32"), std::string::npos);
}

TEST(Redundancy, PacketsMatchByDscpPortsAndPrefixesAtEitherEnd) {
  test::PacketSpec udp;
  udp.proto = 17;
  udp.sport = 40000;
  udp.dport = 5004;
  const auto p = test::build_packet(udp, std::vector<std::uint8_t>(100, 1));
  EXPECT_TRUE(redundant(parse(R"(["udp:5004"])"), p));
  EXPECT_TRUE(redundant(parse(R"(["udp:39990-40010"])"), p)) << "the source port counts too";
  EXPECT_FALSE(redundant(parse(R"(["tcp:5004"])"), p)) << "UDP is not TCP";
  EXPECT_FALSE(redundant(parse(R"(["udp:5005"])"), p));
  EXPECT_FALSE(redundant({}, p));
  EXPECT_TRUE(redundant(parse(R"(["10.77.0.2/32"])"), p)) << "the source address";
  EXPECT_TRUE(redundant(parse(R"(["10.77.0.1/32"])"), p)) << "the destination address";
  EXPECT_FALSE(redundant(parse(R"(["10.4.0.0/24", "fd00::/8"])"), p));
  auto ef = p;
  ef[1] = 46 << 2;  // DSCP EF
  EXPECT_TRUE(redundant(parse(R"(["dscp:46"])"), ef));
  EXPECT_FALSE(redundant(parse(R"(["dscp:46"])"), p));
  // A later fragment carries no ports.
  auto later = p;
  store_be16(later.data() + 6, 0x0010);
  EXPECT_FALSE(redundant(parse(R"(["udp:5004"])"), later));

  test::PacketSpec tcp6;
  tcp6.version = 6;
  tcp6.dport = 22;
  auto q = test::build_packet(tcp6, std::vector<std::uint8_t>(20, 1));
  EXPECT_TRUE(redundant(parse(R"(["tcp:22"])"), q));
  EXPECT_TRUE(redundant(parse(R"(["fd00::/8"])"), q));
  EXPECT_FALSE(redundant(parse(R"(["10.0.0.0/8"])"), q));
  q[0] = 0x6b;  // traffic class 0xb8: DSCP 46
  q[1] = 0x80;
  EXPECT_TRUE(redundant(parse(R"(["dscp:46"])"), q));
  EXPECT_FALSE(redundant(parse(R"(["dscp:46"])"), Bytes(q.data(), 30))) << "too short for IPv6";
}

}  // namespace
}  // namespace tund::session
