// The forwarding check both daemons warn from, pointed at a directory laid out
// like /proc/sys instead of the host's: which sysctl file each family reads,
// an unreadable one counting as off, and which families a hub asks about
// (those of its VIP prefixes).
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "daemon/forwarding.hpp"
#include "hub/hub_daemon.hpp"

namespace tund {
namespace {

namespace fs = std::filesystem;

class Forwarding : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("tund-forwarding-test-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  // Writes the sysctl's value into its file under dir_, as /proc/sys shows it.
  void set(const std::string& relative, const std::string& value) {
    fs::create_directories((dir_ / relative).parent_path());
    std::ofstream(dir_ / relative) << value << "\n";
  }
  std::string root() const { return dir_.string(); }
  fs::path dir_;
};

TEST_F(Forwarding, EachFamilyReadsItsOwnSysctl) {
  set("net/ipv4/ip_forward", "1");
  set("net/ipv6/conf/all/forwarding", "0");
  EXPECT_TRUE(daemon::forwarding_on(4, root()));
  EXPECT_FALSE(daemon::forwarding_on(6, root()));
  set("net/ipv6/conf/all/forwarding", "1");
  EXPECT_TRUE(daemon::forwarding_on(6, root()));
  EXPECT_EQ(daemon::forwarding_sysctl(4), "net.ipv4.ip_forward");
  EXPECT_EQ(daemon::forwarding_sysctl(6), "net.ipv6.conf.all.forwarding");
}

TEST_F(Forwarding, MissingOrOddFileCountsAsOff) {
  EXPECT_FALSE(daemon::forwarding_on(4, root()));
  set("net/ipv4/ip_forward", "");
  EXPECT_FALSE(daemon::forwarding_on(4, root()));
  set("net/ipv4/ip_forward", "2");
  EXPECT_FALSE(daemon::forwarding_on(4, root()));
}

TEST_F(Forwarding, HubAsksOnlyAboutTheFamiliesItCarries) {
  set("net/ipv4/ip_forward", "0");
  set("net/ipv6/conf/all/forwarding", "0");
  hub::HubSettings v4;  // the default: IPv4 inside only
  EXPECT_EQ(hub::unforwarded_families(v4, root()), std::vector<int>{4});

  hub::HubSettings v6 = v4;
  v6.tun_address.reset();
  v6.tun_address6 = config::Prefix6{{0xfd, 0x77, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, 64};
  EXPECT_EQ(hub::unforwarded_families(v6, root()), std::vector<int>{6});

  hub::HubSettings both = v6;
  both.tun_address = v4.tun_address;
  EXPECT_EQ(hub::unforwarded_families(both, root()), (std::vector<int>{4, 6}));
  set("net/ipv4/ip_forward", "1");
  EXPECT_EQ(hub::unforwarded_families(both, root()), std::vector<int>{6});
  set("net/ipv6/conf/all/forwarding", "1");
  EXPECT_TRUE(hub::unforwarded_families(both, root()).empty());
}

}  // namespace
}  // namespace tund
