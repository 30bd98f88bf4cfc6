// Config checking and VIP assignment: pure logic, no daemons.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "crypto/primitives.hpp"
#include "hub/hub_config.hpp"
#include "hub/vip_pool.hpp"
#include "support/real_etcd.hpp"
#include "support/sim.hpp"
#include "tund/client_config.hpp"

namespace tund {
namespace {

using config::Prefix;

TEST(VipPool, ExplicitFirstThenLowestFreeInOrder) {
  const Prefix hub{0x0a4d0001, 24};
  const auto r = hub::assign_vips(hub, {{std::nullopt, std::nullopt}, {0x0a4d0002, std::nullopt}, {std::nullopt, std::nullopt}});
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.vips, (std::vector<std::uint32_t>{0x0a4d0003, 0x0a4d0002, 0x0a4d0004}));
}

TEST(VipPool, RefusesHubNetworkBroadcastOutsideAndDuplicates) {
  const Prefix hub{0x0a4d0001, 24};
  for (std::uint32_t bad : {0x0a4d0001u, 0x0a4d0000u, 0x0a4d00ffu, 0x0a4e0002u}) {
    const auto r = hub::assign_vips(hub, {{std::nullopt, std::nullopt}, {bad, std::nullopt}});
    EXPECT_FALSE(r.ok()) << config::ipv4_to_string(bad);
    EXPECT_EQ(r.bad_index, 1u);
  }
  const auto dup = hub::assign_vips(hub, {{0x0a4d0005, std::nullopt}, {0x0a4d0005, std::nullopt}});
  EXPECT_FALSE(dup.ok());
  EXPECT_EQ(dup.bad_index, 1u);
}

TEST(VipPool, LeasesSurviveReorderingButNeverBeatTheConfig) {
  const Prefix hub{0x0a4d0001, 24};
  // A new client listed first; the old one keeps .2 from its lease.
  const auto r = hub::assign_vips(hub, {{std::nullopt, std::nullopt}, {std::nullopt, 0x0a4d0002}});
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.vips, (std::vector<std::uint32_t>{0x0a4d0003, 0x0a4d0002}));
  // An explicit VIP wins over someone else's lease; a lease outside the subnet is ignored.
  const auto e = hub::assign_vips(hub, {{0x0a4d0002, std::nullopt}, {std::nullopt, 0x0a4d0002}, {std::nullopt, 0x0a4e0009}});
  ASSERT_TRUE(e.ok()) << e.error;
  EXPECT_EQ(e.vips, (std::vector<std::uint32_t>{0x0a4d0002, 0x0a4d0003, 0x0a4d0004}));
}

TEST(VipPool, ExhaustionIsAClearError) {
  const Prefix hub{0x0a4d0001, 30};  // .1 hub, .2 the only client address
  const auto r = hub::assign_vips(hub, {{std::nullopt, std::nullopt}, {std::nullopt, std::nullopt}});
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.bad_index, 1u);
  EXPECT_NE(r.error.find("no free address"), std::string::npos);
}

class ConfigFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    crypto::init();
    dir_ = std::filesystem::temp_directory_path() / ("tund-config-test-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    write("k.key", crypto::key_to_base64(test::keypair_from_seed(1).priv));
    pub_ = crypto::key_to_base64(test::keypair_from_seed(2).pub);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string write(const std::string& name, const std::string& text) {
    const auto p = (dir_ / name).string();
    std::ofstream(p) << text;
    return p;
  }
  // Loads a client config and returns the error text ("" when it loads).
  std::string client_error(const std::string& text) {
    try {
      client::load_client_config(write("c.toml", text));
      return "";
    } catch (const config::ConfigError& e) {
      return e.what();
    }
  }
  // Loads a hub config from `text` as file `name`: the error text, or "accepted".
  std::string hub_error(const std::string& name, const std::string& text) {
    try {
      hub::load_hub_config(write(name, text));
    } catch (const config::ConfigError& e) {
      return e.what();
    }
    return "accepted";
  }
  std::filesystem::path dir_;
  std::string pub_;
};

TEST_F(ConfigFiles, ValidClientConfigLoads) {
  const auto path = write("ok.toml", "private_key_file = \"k.key\"\n[tun]\nmtu = 1400\n[[hub]]\nname = \"a\"\n"
                                     "endpoint = \"10.3.0.2:51900\"\npublic_key = \"" + pub_ + "\"\nroutes = [\"10.4.0.0/24\"]\n");
  const auto s = client::load_client_config(path);
  EXPECT_EQ(s.mtu, 1400u);
  EXPECT_EQ(s.tun_name, "tun0");
  ASSERT_EQ(s.hubs.size(), 1u);
  EXPECT_EQ(s.hubs[0].endpoint.to_string(), "10.3.0.2:51900");
  EXPECT_EQ(s.hubs[0].routes[0].to_string(), "10.4.0.0/24");
  EXPECT_FALSE(s.hubs[0].ipv4_default);
}

TEST_F(ConfigFiles, AFullIpv4TunnelKnowsItAndIpv6OutsideIsABoolean) {
  const std::string hub = "[[hub]]\nname = \"a\"\nendpoint = \"10.3.0.2:51900\"\npublic_key = \"" + pub_ + "\"\n";
  const auto s = client::load_client_config(
      write("full.toml", "private_key_file = \"k.key\"\nipv6_outside = true\n" + hub + "routes = [\"0.0.0.0/0\"]\n"));
  ASSERT_EQ(s.hubs.size(), 1u);
  EXPECT_TRUE(s.hubs[0].ipv4_default);
  EXPECT_FALSE(s.hubs[0].ipv6_default);
  EXPECT_TRUE(s.ipv6_outside);
  const auto err = client_error("private_key_file = \"k.key\"\nipv6_outside = \"yes\"\n" + hub);
  EXPECT_NE(err.find("c.toml:2:16: 'ipv6_outside' must be true or false"), std::string::npos) << err;
}

// Found by fuzz/config.cpp: invalid UTF-8 inside a literal string made
// toml11 3.7.1 read past its buffer (ASan). Refused before parsing, with a place.
TEST_F(ConfigFiles, BytesThatAreNotUtf8AreRefusedWithTheirPlace) {
  EXPECT_NE(client_error("private_key_file = \"k.key\"\nname = ' \"k3.k\xda" "ey\"='\n").find("c.toml:2:15: not UTF-8"),
            std::string::npos) << client_error("private_key_file = \"k.key\"\nname = ' \"k3.k\xda" "ey\"='\n");
  EXPECT_EQ(config::first_invalid_utf8("plain, \xc3\xa9t\xc3\xa9, \xf0\x9f\x9a\x80"), std::nullopt);
  EXPECT_EQ(config::first_invalid_utf8("ab\xc0\xaf"), 2u) << "overlong";
  EXPECT_EQ(config::first_invalid_utf8("ab\xed\xa0\x80"), 2u) << "surrogate";
  EXPECT_EQ(config::first_invalid_utf8("abc\xe2\x82"), 3u) << "cut short";
  EXPECT_EQ(config::first_invalid_utf8("\xff"), 0u);
}

TEST_F(ConfigFiles, EveryErrorNamesFileLineColumn) {
  const std::string hub = "[[hub]]\nname = \"a\"\nendpoint = \"10.3.0.2:51900\"\npublic_key = \"" + pub_ + "\"\n";
  struct Case {
    std::string text;
    std::string expect;
  };
  const Case cases[] = {
      {"private_key_file = \"k.key\"\n[tun]\nmtu = \"big\"\n" + hub, "c.toml:3:7: 'mtu' must be an integer"},
      {"private_key_file = \"k.key\"\nfoo = 1\n" + hub, "c.toml:2:7: unknown key 'foo'"},
      {"private_key_file = 7\n" + hub, "c.toml:1:20: 'private_key_file' must be a string"},
      {"private_key_file = \"nope.key\"\n" + hub, "c.toml:1:20: cannot read private key file"},
      {"private_key_file = \"k.key\"\n[[hub]]\nname = \"a\"\nendpoint = \"10.3.0.2\"\npublic_key = \"" + pub_ + "\"\n",
       "c.toml:4:12: endpoint '10.3.0.2' is not ip:port"},
      {"private_key_file = \"k.key\"\n" + hub + "routes = [\"10.4.0.1/24\"]\n", "c.toml:6:10: route '10.4.0.1/24'"},
      {"private_key_file = \"k.key\"\n[tun]\nmtu = 100\n" + hub, "c.toml:3:7: 'mtu' must be between 576 and 65000"},
      {"private_key_file = \"k.key\"\n", "c.toml: at least one [[hub]] is required"},
      {"private_key_file = \"k.key\"\n[[hub]]\nname = \"a\"\nendpoint = \"10.3.0.2:1\"\npublic_key = \"" +
           std::string(43, 'A') + "=\"\n",
       "low-order point"},
  };
  for (const auto& c : cases) {
    const auto err = client_error(c.text);
    EXPECT_NE(err.find(c.expect), std::string::npos) << "got: " << err << "\nexpected: " << c.expect;
  }
}

TEST_F(ConfigFiles, HandoverLimitsAreConfigurable) {
  const auto s = client::load_client_config(write("h.toml",
      "private_key_file = \"k.key\"\n[handover]\nresend_max_bytes = 65536\nresend_max_packets = 64\n"
      "resend_max_age_ms = 250\n[[hub]]\nname = \"a\"\nendpoint = \"10.3.0.2:1\"\npublic_key = \"" + pub_ + "\"\n"));
  EXPECT_EQ(s.resend.max_bytes, 65536u);
  EXPECT_EQ(s.resend.max_packets, 64u);
  EXPECT_EQ(s.resend.max_age, std::chrono::milliseconds(250));
  EXPECT_NE(client_error("private_key_file = \"k.key\"\n[handover]\nresend_total_bytes = 1\n").find("unknown key 'resend_total_bytes'"),
            std::string::npos) << "the hub-wide cap is a hub setting";
}

TEST_F(ConfigFiles, PerformanceTableIsReadAndChecked) {
  const std::string hub = "[[hub]]\nname = \"a\"\nendpoint = \"10.3.0.2:1\"\npublic_key = \"" + pub_ + "\"\n";
  const auto s = client::load_client_config(write("p.toml", "private_key_file = \"k.key\"\n" + hub +
      "[performance]\noffload = false\ncrypto_threads = 3\ncipher = \"chacha20-poly1305\"\n"));
  EXPECT_FALSE(s.data_path.offload);
  EXPECT_EQ(s.data_path.crypto_threads, 3u);
  EXPECT_FALSE(s.data_path.allow_aes);
  const auto d = client::load_client_config(write("d.toml", "private_key_file = \"k.key\"\n" + hub));
  EXPECT_TRUE(d.data_path.offload);
  EXPECT_TRUE(d.data_path.allow_aes);
  EXPECT_NE(client_error("private_key_file = \"k.key\"\n" + hub + "[performance]\ncipher = \"rot13\"\n")
                .find("c.toml:7:10: cipher must be"), std::string::npos);
  EXPECT_NE(client_error("private_key_file = \"k.key\"\nmetrics_listen = \"localhost\"\n" + hub)
                .find("c.toml:2:18: metrics_listen 'localhost' is not ip:port"), std::string::npos);
  EXPECT_NE(client_error("private_key_file = \"k.key\"\n" + hub + "[performance]\ncrypto_threads = 99\n")
                .find("c.toml:7:18: 'crypto_threads' must be between 0 and 64"), std::string::npos);
}

TEST_F(ConfigFiles, HubConfigAssignsVipsAndChecksExposeTargets) {
  const auto base = "private_key_file = \"k.key\"\nlisten = \"0.0.0.0:51900\"\n[tun]\naddress = \"10.77.0.1/24\"\n"
                    "[[client]]\nname = \"phone\"\npublic_key = \"" + pub_ + "\"\n";
  const auto s = hub::load_hub_config(write("h.toml", base + "[[expose]]\nlisten = \"10.4.0.1:8080\"\nto = \"phone:80\"\n"));
  ASSERT_EQ(s.clients.size(), 1u);
  EXPECT_EQ(s.clients[0].vip, 0x0a4d0002u);
  ASSERT_EQ(s.exposes.size(), 1u);
  EXPECT_EQ(s.exposes[0].port, 80);
  try {
    hub::load_hub_config(write("h2.toml", base + "[[expose]]\nlisten = \"10.4.0.1:8080\"\nto = \"tablet:80\"\n"));
    FAIL() << "an expose to an unknown client must be refused";
  } catch (const config::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("h2.toml:10:6: no [[client]] is named 'tablet'"), std::string::npos) << e.what();
  }
}

TEST_F(ConfigFiles, ClusterMembersOnBothSidesAndTheirErrors) {
  const auto hub = "private_key_file = \"k.key\"\nlisten = \"0.0.0.0:51900\"\n[[client]]\nname = \"phone\"\npublic_key = \"" +
                   pub_ + "\"\n";
  const auto cluster = std::string("[cluster]\nname = \"edge\"\nmember = \"b\"\nmembers = [\"a\", \"b\"]\netcd = [\"127.0.0.1:2379\"]\n");
  const auto s = hub::load_hub_config(write("m.toml", hub + cluster));
  ASSERT_TRUE(s.cluster);
  EXPECT_EQ(s.cluster->index, 1u);
  EXPECT_EQ(s.cluster->table, limits::kClusterRouteTable);
  EXPECT_EQ(s.cluster->etcd, std::vector<std::string>{"127.0.0.1:2379"});
  EXPECT_NE(hub_error("m1.toml", hub + "[cluster]\nname = \"edge\"\nmember = \"c\"\nmembers = [\"a\", \"b\"]\netcd = [\"e:1\"]\n")
                .find("m1.toml:8:10: member 'c' is not in members"), std::string::npos);
  EXPECT_NE(hub_error("m2.toml", hub + "[cluster]\nname = \"a/b\"\nmember = \"a\"\nmembers = [\"a\"]\netcd = [\"e:1\"]\n")
                .find("m2.toml:7:8: 'a/b': 1 to 64 characters"), std::string::npos);
  EXPECT_NE(hub_error("m3.toml", hub + "[cluster]\nname = \"x\"\nmember = \"a\"\nmembers = [\"a\", \"a\"]\netcd = [\"e:1\"]\n")
                .find("member 'a' is named twice"), std::string::npos);
  EXPECT_NE(hub_error("m4.toml", hub + "[cluster]\nname = \"x\"\nmember = \"a\"\nmembers = [\"a\"]\netcd = [\"nope\"]\n")
                .find("etcd endpoint 'nope' is not host:port"), std::string::npos);
  EXPECT_NE(hub_error("m5.toml", hub + "vip = \"10.77.0.9\"\n" + cluster).find("m5.toml:6:7: a cluster member takes VIPs from etcd"),
            std::string::npos);

  // The client: a cluster's members as endpoints, or one endpoint, never both.
  const auto head = std::string("private_key_file = \"k.key\"\n[[hub]]\nname = \"c\"\npublic_key = \"") + pub_ + "\"\n";
  const auto c = client::load_client_config(write("c1.toml", head + "endpoints = [\"10.3.0.2:51900\", \"hub-b.example:51900\"]\n"));
  ASSERT_EQ(c.hubs[0].endpoints.size(), 2u);
  EXPECT_EQ(c.hubs[0].endpoint.to_string(), "10.3.0.2:51900");
  EXPECT_EQ(c.hubs[0].endpoints[1].host, "hub-b.example");
  EXPECT_NE(client_error(head + "endpoint = \"10.3.0.2:1\"\nendpoints = [\"10.3.0.2:2\"]\n").find("not both"), std::string::npos);
  EXPECT_NE(client_error(head + "endpoints = []\n").find("endpoints: 1 to 64 members"), std::string::npos);
}

// [cluster]'s etcd_* keys: files relative to the config, loaded as the etcd
// clients will load them, secrets refused when group or others may read them;
// each error at its value's line and column. The password is never shown.
TEST_F(ConfigFiles, ClusterEtcdTlsAndUserKeysAreCheckedAtLoad) {
  if (!test::have_openssl()) GTEST_SKIP() << "openssl is not installed (./scripts/setup installs it)";
  ASSERT_TRUE(test::make_certs(dir_ / "certs"));
  ASSERT_TRUE(test::make_certs(dir_ / "other"));  // a key of another certificate
  const auto hub = "private_key_file = \"k.key\"\nlisten = \"0.0.0.0:51900\"\n[[client]]\nname = \"phone\"\npublic_key = \"" +
                   pub_ + "\"\n[cluster]\nname = \"edge\"\nmember = \"b\"\nmembers = [\"a\", \"b\"]\netcd = [\"127.0.0.1:2379\"]\n";
  const auto secret = [&](const std::string& name, const std::string& text, std::filesystem::perms mode) {
    write(name, text);
    std::filesystem::permissions(dir_ / name, mode);
  };
  const auto owner_only = std::filesystem::perms::owner_read | std::filesystem::perms::owner_write;
  secret("pw", "s3cret-pw\n", owner_only);
  const std::string tls = "etcd_ca = \"certs/ca.pem\"\netcd_cert = \"certs/client.pem\"\netcd_key = \"certs/client.key\"\n";
  const std::string user = "etcd_user = \"tund\"\netcd_password_file = \"pw\"\n";
  const auto s = hub::load_hub_config(write("t.toml", hub + tls + user));
  ASSERT_TRUE(s.cluster);
  const auto& sec = s.cluster->etcd_security;
  EXPECT_EQ(sec.ca_file, (dir_ / "certs/ca.pem").string());
  EXPECT_EQ(sec.key_file, (dir_ / "certs/client.key").string());
  EXPECT_EQ(sec.user, "tund");
  EXPECT_EQ(sec.password, "s3cret-pw");  // its newline is not part of it
  EXPECT_FALSE(hub::load_hub_config(write("p.toml", hub)).cluster->etcd_security.tls());

  const auto error = [&](const std::string& extra) {
    const auto e = hub_error("e.toml", hub + extra);
    EXPECT_EQ(e.find("s3cret"), std::string::npos) << e;
    return e;
  };
  const auto has = [](const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos ? ::testing::AssertionSuccess() : ::testing::AssertionFailure() << text;
  };
  EXPECT_TRUE(has(error("etcd_ca = \"certs/ca.pem\"\netcd_cert = \"certs/client.pem\"\n"),
                  "e.toml:12:13: etcd_cert and etcd_key go together: both or neither"));
  EXPECT_TRUE(has(error("etcd_cert = \"certs/client.pem\"\netcd_key = \"certs/client.key\"\n"),
                  "e.toml:11:13: a client certificate needs TLS: set etcd_ca too"));
  EXPECT_TRUE(has(error("etcd_ca = \"nope.pem\"\n"),
                  "e.toml:11:11: '" + (dir_ / "nope.pem").string() + "': cannot read it: No such file or directory"));
  EXPECT_TRUE(has(error("etcd_ca = \"k.key\"\n"), "e.toml:11:11: '" + (dir_ / "k.key").string() + "': not a PEM CA certificate"));
  EXPECT_TRUE(has(error("etcd_ca = \"/dev/zero\"\n"), "e.toml:11:11: '/dev/zero': not a regular file"));
  EXPECT_TRUE(has(error("etcd_ca = \"certs/ca.pem\"\netcd_cert = \"k.key\"\netcd_key = \"certs/client.key\"\n"),
                  "e.toml:12:13: '" + (dir_ / "k.key").string() + "': not a PEM certificate"));
  EXPECT_TRUE(has(error("etcd_ca = \"certs/ca.pem\"\netcd_cert = \"certs/client.pem\"\netcd_key = \"other/client.key\"\n"),
                  "e.toml:13:12: '" + (dir_ / "other/client.key").string() + "': does not belong to the certificate"));
  std::filesystem::permissions(dir_ / "certs/client.key", owner_only | std::filesystem::perms::group_read | std::filesystem::perms::others_read);
  EXPECT_TRUE(has(error(tls), "e.toml:13:12: '" + (dir_ / "certs/client.key").string() +
                                  "' is open to group or others (mode 644): refused; chmod 600 it"));
  std::filesystem::permissions(dir_ / "certs/client.key", owner_only);

  EXPECT_TRUE(has(error("etcd_user = \"tund\"\n"), "e.toml:11:13: etcd_user and etcd_password_file go together"));
  secret("pw", "s3cret-pw\n", owner_only | std::filesystem::perms::group_read);
  EXPECT_TRUE(has(error(user), "e.toml:12:22: '" + (dir_ / "pw").string() + "' is open to group or others (mode 640)"));
  secret("pw", "\n", owner_only);
  EXPECT_TRUE(has(error(user), "e.toml:12:22: '" + (dir_ / "pw").string() + "' holds no password"));
  secret("pw", "s3cret-pw\nand more\n", owner_only);
  EXPECT_TRUE(has(error(user), "holds more than one line"));
  secret("pw", std::string(limits::kEtcdPasswordMax + 1, 'x'), owner_only);
  EXPECT_TRUE(has(error(user), "holds over " + std::to_string(limits::kEtcdPasswordMax) + " bytes: not a password"));
}

TEST_F(ConfigFiles, HubIpv6InsideAndItsErrors) {
  const auto head = std::string("private_key_file = \"k.key\"\nlisten = [\"0.0.0.0:51900\", \"[::1]:51901\"]\n[tun]\n");
  const auto client = "[[client]]\nname = \"phone\"\npublic_key = \"" + pub_ + "\"\nvip = \"10.77.0.5\"\n";
  const auto s = hub::load_hub_config(write("h6.toml", head + "address = [\"10.77.0.1/24\", \"fd77::1/64\"]\n" + client +
                                                      "[nat]\nmasquerade = [\"fd04::/64\"]\n"
                                                      "[[expose]]\nlisten = \"[::]:8080\"\nto = \"phone:80\"\n"));
  ASSERT_EQ(s.listen.size(), 2u);
  EXPECT_EQ(s.listen[1].to_string(), "[::1]:51901");
  ASSERT_TRUE(s.tun_address6);
  EXPECT_EQ(s.tun_address6->to_string(), "fd77::1/64");
  EXPECT_EQ((config::Prefix6{s.clients[0].vip6, 128}.address_string()), "fd77::5");  // the IPv4 VIP's host part
  ASSERT_EQ(s.masquerade6.size(), 1u);
  EXPECT_EQ(s.exposes[0].listen.family, 6);
  EXPECT_NE(hub_error("e1.toml", head + "address = []\n").find("needs an IPv4 or an IPv6 prefix"), std::string::npos);
  EXPECT_NE(hub_error("e2.toml", head + "address = [\"10.77.0.1/24\", \"fd77::1/64\", \"fd78::1/64\"]\n").find("one IPv6 prefix"),
            std::string::npos);
  EXPECT_NE(hub_error("e3.toml", head + "address = \"10.77.0.1/24\"\n" + client + "vip6 = \"fd77::9\"\n").find("needs an IPv6 prefix"),
            std::string::npos);
  EXPECT_NE(hub_error("e4.toml", head + "address = [\"10.77.0.1/24\", \"fd77::1/64\"]\n" + client + "vip6 = \"fd99::9\"\n")
                .find("is not an IPv6 address in fd77::1/64"),
            std::string::npos);
  EXPECT_NE(hub_error("e5.toml", head + "address = \"10.77.0.1/24\"\n" + client + "[[expose]]\nlisten = \"[::]:8080\"\nto = \"phone:80\"\n")
                .find("the clients need IPv6 VIPs"),
            std::string::npos);
  EXPECT_NE(hub_error("e6.toml", "private_key_file = \"k.key\"\nlisten = \"[fd03::2:51900\"\n").find("e6.toml:2:"), std::string::npos);
}

// IPv6 alone inside: VIPs from the IPv6 prefix's last 16 bits, leases kept
// as IPv6 VIPs, and every IPv4-only key refused with its place.
TEST_F(ConfigFiles, HubIpv6AloneInside) {
  const auto head = std::string("private_key_file = \"k.key\"\nlisten = \"[::]:51900\"\nstate_directory = \"state6\"\n"
                                "[tun]\naddress = \"fd77::1/64\"\n");
  const auto client = [&](const std::string& name, const std::string& key) {
    return "[[client]]\nname = \"" + name + "\"\npublic_key = \"" + key + "\"\n";
  };
  const auto other = crypto::key_to_base64(test::keypair_from_seed(3).pub);
  auto s = hub::load_hub_config(write("v6.toml", head + client("a", pub_) + client("b", other)));
  EXPECT_FALSE(s.tun_address);
  ASSERT_TRUE(s.tun_address6);
  EXPECT_EQ(s.vip_pool.to_string(), "0.0.0.1/16");
  EXPECT_EQ((config::Prefix6{s.clients[0].vip6, 128}.address_string()), "fd77::2");
  EXPECT_EQ((config::Prefix6{s.clients[1].vip6, 128}.address_string()), "fd77::3");
  // The lease file names IPv6 VIPs; with 'a' gone from the config, 'b' keeps fd77::3.
  ASSERT_EQ(hub::write_leases(s), "");
  std::ifstream lease(hub::lease_file(s));
  const std::string leases((std::istreambuf_iterator<char>(lease)), std::istreambuf_iterator<char>());
  EXPECT_NE(leases.find(other + " fd77::3\n"), std::string::npos) << leases;
  s = hub::load_hub_config(write("v6.toml", head + client("b", other)));
  EXPECT_EQ((config::Prefix6{s.clients[0].vip6, 128}.address_string()), "fd77::3");
  EXPECT_EQ(hub::ipv6_only_pool(*config::parse_prefix6("fd77::1:5/120", true)).to_string(), "0.0.0.5/24");
  EXPECT_NE(hub_error("f1.toml", head + client("a", pub_) + "vip = \"10.77.0.5\"\n").find("f1.toml:9:"),
            std::string::npos);
  EXPECT_NE(hub_error("f1b.toml", head + client("a", pub_) + "vip = \"10.77.0.5\"\n").find("vip needs an IPv4 prefix"),
            std::string::npos);
  EXPECT_NE(hub_error("f2.toml", head + "[nat]\nmasquerade = [\"10.4.0.0/24\"]\n").find("with an IPv4 [tun] address"),
            std::string::npos);
  EXPECT_NE(hub_error("f3.toml", head + client("a", pub_) + "[[expose]]\nlisten = \"0.0.0.0:8080\"\nto = \"a:80\"\n")
                .find("the clients need IPv4 VIPs"),
            std::string::npos);
}

TEST_F(ConfigFiles, HubDnsServersAndDomainsAndTheirErrors) {
  const std::string hub = "[[hub]]\nname = \"a\"\nendpoint = \"10.3.0.2:51900\"\npublic_key = \"" + pub_ + "\"\n";
  const auto s = client::load_client_config(write(
      "dns.toml", "private_key_file = \"k.key\"\n" + hub +
                      "dns = [\"10.4.0.53\", \"fd04::53\"]\ndns_domains = [\"Corp.Example.\", \"~lab.example\", \"~.\"]\n"));
  ASSERT_EQ(s.hubs[0].dns.size(), 2u);
  EXPECT_EQ(s.hubs[0].dns[0].address_string(), "10.4.0.53");
  EXPECT_EQ(s.hubs[0].dns[1].address_string(), "fd04::53");
  EXPECT_EQ(s.hubs[0].dns[0].port, 0);
  ASSERT_EQ(s.hubs[0].dns_domains.size(), 3u);
  EXPECT_EQ(s.hubs[0].dns_domains[0], (daemon::DnsDomain{"corp.example", false}));
  EXPECT_EQ(s.hubs[0].dns_domains[1], (daemon::DnsDomain{"lab.example", true}));
  EXPECT_EQ(s.hubs[0].dns_domains[2], (daemon::DnsDomain{".", true}));
  // Absent: nothing for the TUN.
  EXPECT_TRUE(client::load_client_config(write("nodns.toml", "private_key_file = \"k.key\"\n" + hub)).hubs[0].dns.empty());

  std::string many = "dns = [";
  for (int i = 1; i <= 9; ++i) many += std::string(i > 1 ? ", " : "") + "\"10.4.0." + std::to_string(i) + "\"";
  many += "]\n";
  struct Case {
    std::string lines;
    std::string expect;
  };
  const Case cases[] = {
      {"dns = [\"10.4.0.53:53\"]\n", "c.toml:6:7: dns '10.4.0.53:53' is not a server's address"},
      {"dns = [\"dns.example\"]\n", "c.toml:6:7: dns 'dns.example' is not a server's address"},
      {"dns = [\"0.0.0.0\"]\n", "c.toml:6:7: dns '0.0.0.0' is not a server's address"},
      {"dns = \"10.4.0.53\"\n", "c.toml:6:7: 'dns' must be an array of strings"},
      {"dns = [53]\n", "'dns' must hold strings"},
      {"dns = [\"10.4.0.53\", \"10.4.0.53\"]\n", "c.toml:6:7: dns '10.4.0.53' is given twice"},
      {many, "c.toml:6:7: dns: at most 8 servers"},
      {"dns_domains = [\"corp.example\"]\n", "c.toml:6:15: dns_domains needs dns"},
      {"dns = [\"10.4.0.53\"]\ndns_domains = [\".\"]\n", "c.toml:7:15: dns_domains '.' is not a domain"},
      {"dns = [\"10.4.0.53\"]\ndns_domains = [\"a..b\"]\n", "c.toml:7:15: dns_domains 'a..b' is not a domain"},
      {"dns = [\"10.4.0.53\"]\ndns_domains = [\"~\"]\n", "dns_domains '~' is not a domain"},
      {"dns = [\"10.4.0.53\"]\ndns_domains = [\"bad domain\"]\n", "dns_domains 'bad domain' is not a domain"},
      {"dns = [\"10.4.0.53\"]\ndns_domains = [\"" + std::string(64, 'a') + ".example\"]\n", "is not a domain"},
      {"dns = [\"10.4.0.53\"]\ndns_domains = [\"x.org\", \"X.org.\"]\n", "dns_domains 'X.org.' is given twice"},
  };
  for (const auto& c : cases) {
    const auto err = client_error("private_key_file = \"k.key\"\n" + hub + c.lines);
    EXPECT_NE(err.find(c.expect), std::string::npos) << "got: " << err << "\nexpected: " << c.expect;
  }
}

TEST(HostPort, AddressesNamesAndTheirErrors) {
  const auto v4 = config::parse_host_port("10.3.0.2:51900");
  ASSERT_TRUE(v4 && v4->literal);
  EXPECT_EQ(v4->literal->family, 4);
  EXPECT_EQ(v4->literal->to_string(), "10.3.0.2:51900");
  const auto v6 = config::parse_host_port("[fd03::2]:51900");
  ASSERT_TRUE(v6 && v6->literal);
  EXPECT_EQ(v6->literal->family, 6);
  EXPECT_EQ(v6->literal->port, 51900);
  EXPECT_EQ(v6->literal->to_string(), "[fd03::2]:51900");
  const auto name = config::parse_host_port("vpn.example.net:51900");
  ASSERT_TRUE(name);
  EXPECT_FALSE(name->literal);
  EXPECT_EQ(name->host, "vpn.example.net");
  EXPECT_EQ(name->to_string(), "vpn.example.net:51900");
  for (const char* bad : {"fd03::2:51900", "[fd03::2]", "[10.0.0.1]:5", "host:", ":51900", "host:70000", "1.2.3:80",
                          "a b:1", "-x.net:1", "[fd03::2]:x", "host:1:2"})
    EXPECT_FALSE(config::parse_host_port(bad)) << bad;
  EXPECT_FALSE(config::parse_endpoint("vpn.example.net:51900"));  // listen takes addresses only
}

TEST(Endpoint, Ipv6TextIsRfc5952) {
  const auto text = [](const char* ip) { return config::parse_endpoint(std::string("[") + ip + "]:1")->to_string(); };
  EXPECT_EQ(text("::"), "[::]:1");
  EXPECT_EQ(text("::1"), "[::1]:1");
  EXPECT_EQ(text("fd03:0:0:0:0:0:0:2"), "[fd03::2]:1");
  EXPECT_EQ(text("2001:db8:0:0:1:0:0:1"), "[2001:db8::1:0:0:1]:1");  // the first of two equal runs
  EXPECT_EQ(text("1:0:0:2:0:0:0:3"), "[1:0:0:2::3]:1");              // the longest run
  EXPECT_EQ(text("1:0:2:3:4:5:6:7"), "[1:0:2:3:4:5:6:7]:1");         // one zero group stays
  EXPECT_EQ(text("fe80::abcd:12"), "[fe80::abcd:12]:1");
}

}  // namespace
}  // namespace tund
