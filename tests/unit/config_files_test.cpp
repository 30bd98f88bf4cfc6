// Which config a command means (daemon/config_files) and what a unit
// instance's file implies for the client (tund/client_config): two tund@NAME
// instances must never share a TUN or a control socket.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "crypto/primitives.hpp"
#include "daemon/config_files.hpp"
#include "support/sim.hpp"
#include "tund/client_config.hpp"

namespace tund {
namespace {

namespace fs = std::filesystem;

class InstanceConfig : public ::testing::Test {
 protected:
  void SetUp() override {
    crypto::init();
    dir_ = fs::temp_directory_path() / ("tund-config-files-test-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    write("k.key", crypto::key_to_base64(test::keypair_from_seed(1).priv));
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string write(const std::string& name, const std::string& text) {
    const auto p = (dir_ / name).string();
    std::ofstream(p) << text;
    return p;
  }
  std::string client(const std::string& extra = "") const {
    return "private_key_file = \"k.key\"\n" + extra + "[[hub]]\nname = \"a\"\nendpoint = \"10.3.0.2:51900\"\npublic_key = \"" +
           crypto::key_to_base64(test::keypair_from_seed(2).pub) + "\"\n";
  }
  static constexpr const char* kHub = "private_key_file = \"k.key\"\nlisten = \"0.0.0.0:51900\"\n";
  config::ConfigChoice choose(const std::string& file, const std::string& name, config::Role role) const {
    return config::choose_config(file, name, role, dir_.string());
  }
  fs::path dir_;
};

TEST(InstanceName, OnlyAFileDirectlyInTheConfigDirectory) {
  EXPECT_EQ(config::instance_name("/etc/tund/office.toml"), "office");
  EXPECT_EQ(config::instance_name("/etc/tund/./office.toml"), "office");
  EXPECT_EQ(config::instance_name("/etc/tund/../tund/office.toml"), "office");
  EXPECT_EQ(config::instance_name("/etc/tund/clients.d/office.toml"), std::nullopt);
  EXPECT_EQ(config::instance_name("/tmp/office.toml"), std::nullopt);
  EXPECT_EQ(config::instance_name("/etc/tund/office.conf"), std::nullopt);
  EXPECT_EQ(config::instance_name("/srv/x/office.toml", "/srv/x"), "office");
  EXPECT_EQ(config::instance_config_path("office"), "/etc/tund/office.toml");
}

TEST(InterfaceName, WhatTheKernelTakes) {
  EXPECT_TRUE(config::valid_interface_name("office"));
  EXPECT_TRUE(config::valid_interface_name("a23456789012345"));  // 15
  EXPECT_FALSE(config::valid_interface_name("a234567890123456"));
  for (const char* bad : {"", ".", "..", "a/b", "a:b", "a b", "a\tb"}) EXPECT_FALSE(config::valid_interface_name(bad)) << bad;
}

// The unit's ExecStart (-c /etc/tund/%i.toml) and ExecStopPost (cleanup %i)
// reach the same defaults because both derive them from the file's path.
TEST_F(InstanceConfig, AnInstanceDefaultsItsTunAndControlSocketToItsName) {
  const auto path = write("office.toml", client());
  const auto plain = client::load_client_config(path);  // not in /etc/tund: no instance
  EXPECT_EQ(plain.tun_name, "tun0");
  EXPECT_EQ(plain.control_socket, "/run/tund/client.sock");
  const auto office = client::load_client_config(path, config::instance_name(path, dir_.string()));
  EXPECT_EQ(office.tun_name, "office");
  EXPECT_EQ(office.control_socket, "/run/tund/office.sock");
  const auto home = client::load_client_config(path, "home");
  EXPECT_NE(home.tun_name, office.tun_name);
  EXPECT_NE(home.control_socket, office.control_socket);
}

TEST_F(InstanceConfig, WhatTheFileSetsWinsOverTheInstance) {
  const auto path = write("office.toml", client("control_socket = \"/run/x.sock\"\n[tun]\nname = \"vpn7\"\n"));
  const auto s = client::load_client_config(path, "office");
  EXPECT_EQ(s.tun_name, "vpn7");
  EXPECT_EQ(s.control_socket, "/run/x.sock");
}

TEST_F(InstanceConfig, AnInstanceNameNoInterfaceCanHaveKeepsTun0) {
  const auto path = write("c.toml", client());
  const auto s = client::load_client_config(path, "a-very-long-instance-name");
  EXPECT_EQ(s.tun_name, "tun0");
  EXPECT_EQ(s.control_socket, "/run/tund/a-very-long-instance-name.sock");  // still its own
}

TEST_F(InstanceConfig, FileThenNameThenTheOnlyOneOfItsKind) {
  EXPECT_EQ(choose("/x/y.toml", "", config::Role::kClient).path, "/x/y.toml");
  EXPECT_EQ(choose("", "office", config::Role::kClient).path, (dir_ / "office.toml").string());
  EXPECT_NE(choose("", "../office", config::Role::kClient).error, "");
  EXPECT_EQ(choose("/x/y.toml", "office", config::Role::kClient).error, "give NAME or -c FILE, not both");
  // None yet: an error naming the directory.
  auto none = choose("", "", config::Role::kClient);
  EXPECT_EQ(none.path, "");
  EXPECT_NE(none.error.find("no client config in " + dir_.string()), std::string::npos) << none.error;
  // One client and one hub config: each program finds its own.
  const auto office = write("office.toml", client());
  const auto hub = write("hub.toml", kHub);
  EXPECT_EQ(config::config_role(office), config::Role::kClient);
  EXPECT_EQ(config::config_role(hub), config::Role::kHub);
  EXPECT_EQ(choose("", "", config::Role::kClient).path, office);
  EXPECT_EQ(choose("", "", config::Role::kHub).path, hub);
  // A second client config: ambiguous, and the error lists both.
  write("home.toml", client());
  const auto two = choose("", "", config::Role::kClient);
  EXPECT_EQ(two.path, "");
  EXPECT_NE(two.error.find("(home, office)"), std::string::npos) << two.error;
  EXPECT_EQ(choose("", "", config::Role::kHub).path, hub);
}

TEST_F(InstanceConfig, AFileThatDoesNotParseMayBeEithers) {
  const auto broken = write("broken.toml", "this is [not toml\n");
  EXPECT_EQ(config::config_role(broken), config::Role::kUnknown);
  // The only candidate: chosen, so that loading it says what is wrong.
  EXPECT_EQ(choose("", "", config::Role::kClient).path, broken);
  EXPECT_EQ(choose("", "", config::Role::kHub).path, broken);
  write("hub.toml", kHub);
  EXPECT_EQ(choose("", "", config::Role::kHub).path, "");
}

}  // namespace
}  // namespace tund
