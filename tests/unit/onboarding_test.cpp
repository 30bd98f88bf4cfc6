// Onboarding's files (hub/onboarding.cpp, hub/hub_config.cpp): add-client's
// temporary file never follows a symlink planted in clients.d and is never
// shared; add-client and remove-client take turns (flock on the state
// directory's clients.lock); a drop-in others could have written is refused.
#include <gtest/gtest.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "daemon/cli.hpp"
#include "hub/hub_config.hpp"
#include "hub/onboarding.hpp"
#include "support/sim.hpp"

namespace tund {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

class Onboarding : public ::testing::Test {
 protected:
  void SetUp() override {
    crypto::init();
    dir_ = fs::temp_directory_path() / ("tund-onboarding-test-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "clients.d");
    std::ofstream(dir_ / "k.key") << crypto::key_to_base64(test::keypair_from_seed(1).priv);
    config_ = (dir_ / "hub.toml").string();
    std::ofstream(config_) << "private_key_file = \"k.key\"\nlisten = \"192.0.2.1:51900\"\n"
                           << "state_directory = \"" << (dir_ / "state").string() << "\"\n"
                           << "control_socket = \"" << (dir_ / "hub.sock").string() << "\"\n";
  }
  void TearDown() override { fs::remove_all(dir_); }
  int add(const std::string& name) {
    std::ostringstream out, err;
    hub::AddClientRequest r;
    r.name = name;
    const int rc = hub::add_client(config_, r, out, err);
    last_err_ = err.str();
    return rc;
  }
  // Loading the config fails, naming `where` and saying `reason`.
  void expect_refused(const std::string& where, const std::string& reason) {
    try {
      (void)hub::load_hub_config(config_);
      ADD_FAILURE() << "loaded, though " << where << " is " << reason;
    } catch (const config::ConfigError& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find(where), std::string::npos) << what;
      EXPECT_NE(what.find(reason), std::string::npos) << what;
    }
  }
  fs::path dir_;
  std::string config_, last_err_;
};

TEST_F(Onboarding, APlantedSymlinkIsNeverFollowed) {
  std::ofstream(dir_ / "victim") << "precious\n";
  // The old temporary's name, predictable: ".NAME.toml.tmp".
  fs::create_symlink(dir_ / "victim", dir_ / "clients.d" / ".phone.toml.tmp");
  ASSERT_EQ(add("phone"), cli::kOk) << last_err_;
  std::ifstream v(dir_ / "victim");
  std::string text((std::istreambuf_iterator<char>(v)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text, "precious\n");  // the old add-client wrote the client's table into it
  const auto st = fs::symlink_status(dir_ / "clients.d" / "phone.toml");
  EXPECT_EQ(st.type(), fs::file_type::regular);
  EXPECT_EQ(st.permissions() & fs::perms::all, fs::perms(0644));
  EXPECT_EQ(hub::load_hub_config(config_).clients.size(), 1u);
}

TEST_F(Onboarding, AddClientWaitsForTheLockAnotherRunHolds) {
  fs::create_directories(dir_ / "state");
  const int fd = ::open((dir_ / "state" / "clients.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::flock(fd, LOCK_EX), 0);
  std::atomic<int> rc{-1};
  std::thread t([&] { rc = add("tablet"); });
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(rc.load(), -1);  // still waiting: the lock is held
  EXPECT_FALSE(fs::exists(dir_ / "clients.d" / "tablet.toml"));
  ::close(fd);
  t.join();
  EXPECT_EQ(rc.load(), cli::kOk) << last_err_;
  EXPECT_TRUE(fs::exists(dir_ / "clients.d" / "tablet.toml"));
}

TEST_F(Onboarding, ADropInWritableByOthersIsRefusedWithFileAndReason) {
  ASSERT_EQ(add("phone"), cli::kOk) << last_err_;
  const auto file = dir_ / "clients.d" / "phone.toml";
  fs::permissions(file, fs::perms(0666));
  expect_refused(file.string(), "writable by group or others (mode 666)");
  fs::permissions(file, fs::perms(0620));
  EXPECT_THROW((void)hub::load_hub_config(config_), config::ConfigError);
  fs::permissions(file, fs::perms(0644));
  EXPECT_EQ(hub::load_hub_config(config_).clients.size(), 1u);
  // Its directory too: whoever may write there may add or replace drop-ins.
  const auto dir = dir_ / "clients.d";
  fs::permissions(dir, fs::perms(01777));
  expect_refused(dir.string(), "writable by group or others (mode 777)");
  fs::permissions(dir, fs::perms(0755));
  EXPECT_EQ(hub::load_hub_config(config_).clients.size(), 1u);
}

}  // namespace
}  // namespace tund
