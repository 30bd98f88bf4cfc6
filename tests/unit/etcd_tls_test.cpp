// daemon::EtcdClient and EtcdWatch against a secured etcd. A real one
// (support/real_etcd.hpp) serving TLS only and asking for a client
// certificate, with throwaway certificates from scripts/etcd-certs: calls,
// leases and the watch work; a wrong CA, a name the certificate lacks, no
// client certificate or plain HTTP fail, counted, never thrown. Then etcd's
// user authentication switched on through its JSON gateway (as etcdctl
// would): the right password works within its role, a wrong one fails, and a
// token expired (--auth-token-ttl 2) is renewed. A fake etcd
// (support/fake_etcd.hpp) shows the renewal request by request: once, not more.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "daemon/etcd.hpp"
#include "daemon/etcd_watch.hpp"
#include "support/fake_etcd.hpp"
#include "support/real_etcd.hpp"

namespace tund {
namespace {

using daemon::EtcdClient;
using daemon::EtcdWatch;
using daemon::etcd::Fault;
using nlohmann::json;
using test::FakeEtcd;
namespace etcd = daemon::etcd;
using namespace std::chrono_literals;

constexpr auto npos = std::string::npos;

json put(const std::string& key, const std::string& value) {
  return {{"key", etcd::base64(key)}, {"value", etcd::base64(value)}};
}
json get(const std::string& key) { return {{"key", etcd::base64(key)}}; }

class EtcdTls : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists("/usr/bin/etcd")) GTEST_SKIP() << "etcd-server is not installed (./scripts/setup installs it)";
    if (!test::have_openssl()) GTEST_SKIP() << "openssl is not installed (./scripts/setup installs it)";
    dir_ = std::filesystem::temp_directory_path() / ("tund-etcd-tls-" + std::to_string(getpid()));
    std::filesystem::remove_all(dir_);
    ASSERT_TRUE(test::make_certs(dir_ / "certs"));
    ASSERT_TRUE(test::make_certs(dir_ / "other"));  // another CA: a wrong one
    good_.ca_file = file("certs/ca.pem");
    good_.cert_file = file("certs/client.pem");
    good_.key_file = file("certs/client.key");
    etcd_.emplace((dir_ / "certs").string(), std::vector<std::string>{"--auth-token-ttl", "2"});
    ASSERT_TRUE(etcd_->started());
    EtcdClient c(io_, {etcd_->endpoint()}, 500ms, good_);
    for (int i = 0; i < 100; ++i) {
      std::string e;
      if (c.call_now("kv/range", get("x"), e)) return;
      std::this_thread::sleep_for(100ms);
    }
    FAIL() << "etcd did not come up over TLS on " << etcd_->endpoint();
  }
  void TearDown() override {
    etcd_.reset();
    std::filesystem::remove_all(dir_);
  }
  std::string file(const std::string& name) const { return (dir_ / name).string(); }
  std::string port() const { return etcd_->endpoint().substr(etcd_->endpoint().rfind(':') + 1); }
  etcd::Security as_user(const std::string& password) const {
    auto s = good_;
    s.user = "tund";
    s.password = password;
    return s;
  }
  template <class F>
  void run_until(F done, std::chrono::milliseconds limit) {
    const auto until = std::chrono::steady_clock::now() + limit;
    while (!done() && std::chrono::steady_clock::now() < until) {
      io_.restart();  // call_now may have left it stopped
      io_.run_for(10ms);
    }
  }
  // etcd's user authentication on, set up through the gateway as etcdctl
  // would: root, a role with readwrite on /t/ alone, and user tund holding it.
  void enable_auth() {
    EtcdClient root(io_, {etcd_->endpoint()}, 1000ms, good_);
    const json perm{{"permType", "READWRITE"}, {"key", etcd::base64("/t/")}, {"range_end", etcd::base64(etcd::prefix_end("/t/"))}};
    const std::vector<std::pair<std::string, json>> steps{
        {"auth/user/add", {{"name", "root"}, {"password", "root-pw"}}},
        {"auth/user/grant", {{"user", "root"}, {"role", "root"}}},
        {"auth/role/add", {{"name", "tund-rw"}}},
        {"auth/role/grant", {{"name", "tund-rw"}, {"perm", perm}}},
        {"auth/user/add", {{"name", "tund"}, {"password", "tund-pw"}}},
        {"auth/user/grant", {{"user", "tund"}, {"role", "tund-rw"}}},
        {"auth/enable", json::object()}};
    for (const auto& [path, body] : steps) {
      std::string e;
      ASSERT_TRUE(root.call_now(path, body, e)) << path << ": " << e;
    }
  }
  // A watch on /t/ with `security`: its events as "key=value", and why it ended.
  struct Watch {
    std::vector<std::string> events;
    std::string ended;
    EtcdWatch w;
    Watch(asio::io_context& io, const std::string& endpoint, const etcd::Security& security)
        : w(io, {endpoint}, [this](const std::string& k, const std::string& v, bool, std::int64_t) { events.push_back(k + "=" + v); },
            [this](const std::string& why) { ended = why; }, 1000ms, security) {}
  };

  asio::io_context io_;
  std::filesystem::path dir_;
  etcd::Security good_;
  std::optional<test::RealEtcd> etcd_;
};

TEST_F(EtcdTls, CallsLeasesAndTheWatchWorkWithAClientCertificate) {
  EtcdClient c(io_, {etcd_->endpoint()}, 1000ms, good_);
  Watch watch(io_, etcd_->endpoint(), good_);
  watch.w.start("/t/", 0);
  run_until([&] { return watch.w.seen_revision() > 0 || !watch.ended.empty(); }, 3s);
  ASSERT_GT(watch.w.seen_revision(), 0) << watch.ended;
  std::string e;
  ASSERT_TRUE(c.call_now("kv/put", put("/t/a", "1"), e)) << e;
  const auto lease = c.call_now("lease/grant", json{{"TTL", 2}}, e);
  ASSERT_TRUE(lease) << e;
  const auto kept = c.call_now("lease/keepalive", json{{"ID", std::to_string(etcd::integer(*lease, "ID"))}}, e);
  ASSERT_TRUE(kept) << e;
  EXPECT_EQ(etcd::integer(etcd::field(*kept, "result"), "TTL"), 2);
  run_until([&] { return !watch.events.empty(); }, 1s);
  EXPECT_EQ(watch.events, std::vector<std::string>{"/t/a=1"});
  // Quiet for 1.5 idle timeouts: progress notifications keep it up over TLS
  // as over TCP (the idle deadline is the TCP stream's, under TLS too).
  run_until([] { return false; }, 1500ms);
  EXPECT_TRUE(watch.ended.empty()) << watch.ended;
  EXPECT_EQ(watch.w.faults().total(), 0u);
  EXPECT_EQ(c.faults().total(), 0u);
}

TEST_F(EtcdTls, AWrongCaAMissingNameNoClientCertificateOrPlainHttpFailCounted) {
  std::string e;
  auto wrong_ca = good_;
  wrong_ca.ca_file = file("other/ca.pem");
  EtcdClient untrusted(io_, {etcd_->endpoint()}, 1000ms, wrong_ca);
  EXPECT_FALSE(untrusted.call_now("kv/range", get("/t/a"), e));
  EXPECT_NE(e.find("certificate verify failed"), npos) << e;
  EXPECT_EQ(untrusted.faults()[Fault::kTls], 1u);

  // The right CA, but etcd reached by a name its certificate does not hold
  // (its SAN is IP:127.0.0.1 alone).
  EtcdClient misnamed(io_, {"localhost:" + port()}, 1000ms, good_);
  EXPECT_FALSE(misnamed.call_now("kv/range", get("/t/a"), e));
  EXPECT_NE(e.find("hostname mismatch"), npos) << e;
  EXPECT_EQ(misnamed.faults()[Fault::kTls], 1u);

  // No client certificate: etcd refuses the connection (under TLS 1.3 at
  // our first read, after our side of the handshake).
  auto anonymous = good_;
  anonymous.cert_file.clear();
  anonymous.key_file.clear();
  EtcdClient no_cert(io_, {etcd_->endpoint()}, 1000ms, anonymous);
  EXPECT_FALSE(no_cert.call_now("kv/range", get("/t/a"), e));
  EXPECT_FALSE(e.empty());
  EtcdClient plain(io_, {etcd_->endpoint()}, 1000ms);
  EXPECT_FALSE(plain.call_now("kv/range", get("/t/a"), e));
  EXPECT_FALSE(e.empty());

  Watch watch(io_, etcd_->endpoint(), wrong_ca);
  watch.w.start("/t/", 0);
  run_until([&] { return !watch.ended.empty(); }, 3s);
  EXPECT_NE(watch.ended.find("certificate verify failed"), npos) << watch.ended;
  EXPECT_EQ(watch.w.faults()[Fault::kTls], 1u);

  // None of that costs the good client anything.
  EtcdClient c(io_, {etcd_->endpoint()}, 1000ms, good_);
  EXPECT_TRUE(c.call_now("kv/range", get("/t/a"), e)) << e;
}

TEST_F(EtcdTls, WithUserAuthTheRightPasswordWorksWithinItsRoleAWrongOneFails) {
  enable_auth();
  std::string e;
  EtcdClient tund(io_, {etcd_->endpoint()}, 1000ms, as_user("tund-pw"));
  ASSERT_TRUE(tund.call_now("kv/put", put("/t/a", "1"), e)) << e;
  const auto lease = tund.call_now("lease/grant", json{{"TTL", 2}}, e);
  ASSERT_TRUE(lease) << e;
  EXPECT_TRUE(tund.call_now("lease/keepalive", json{{"ID", std::to_string(etcd::integer(*lease, "ID"))}}, e)) << e;
  EXPECT_FALSE(tund.call_now("kv/put", put("/x", "1"), e));  // outside its role's prefix
  EXPECT_NE(e.find("permission denied"), npos) << e;
  EXPECT_EQ(tund.faults()[Fault::kAuth], 0u);

  EtcdClient wrong(io_, {etcd_->endpoint()}, 1000ms, as_user("not-the-password"));
  EXPECT_FALSE(wrong.call_now("kv/range", get("/t/a"), e));
  EXPECT_NE(e.find("etcd refused user 'tund'"), npos) << e;
  EXPECT_NE(e.find("invalid user ID or password"), npos) << e;
  EXPECT_EQ(e.find("not-the-password"), npos) << e;
  EXPECT_EQ(wrong.faults()[Fault::kAuth], 1u);
  // The next request asks again, and fails again: no loop, no wait.
  EXPECT_FALSE(wrong.call_now("kv/range", get("/t/a"), e));
  EXPECT_EQ(wrong.faults()[Fault::kAuth], 2u);
  EtcdClient nobody(io_, {etcd_->endpoint()}, 1000ms, good_);  // a certificate, but no user
  EXPECT_FALSE(nobody.call_now("kv/range", get("/t/a"), e));
  EXPECT_NE(e.find("permission denied"), npos) << e;

  Watch watch(io_, etcd_->endpoint(), as_user("tund-pw"));
  watch.w.start("/t/", 0);
  run_until([&] { return watch.w.seen_revision() > 0 || !watch.ended.empty(); }, 3s);
  ASSERT_GT(watch.w.seen_revision(), 0) << watch.ended;
  ASSERT_TRUE(tund.call_now("kv/put", put("/t/b", "2"), e)) << e;
  run_until([&] { return !watch.events.empty(); }, 1s);
  EXPECT_EQ(watch.events, std::vector<std::string>{"/t/b=2"});
  Watch refused(io_, etcd_->endpoint(), as_user("not-the-password"));
  refused.w.start("/t/", 0);
  run_until([&] { return !refused.ended.empty(); }, 3s);
  EXPECT_NE(refused.ended.find("etcd refused user 'tund'"), npos) << refused.ended;
  EXPECT_EQ(refused.w.faults()[Fault::kAuth], 1u);
}

TEST_F(EtcdTls, AnExpiredTokenIsRenewedForCallsAndTheWatch) {
  enable_auth();
  std::string e;
  EtcdClient c(io_, {etcd_->endpoint()}, 1000ms, as_user("tund-pw"));
  ASSERT_TRUE(c.call_now("kv/put", put("/t/a", "1"), e)) << e;
  Watch watch(io_, etcd_->endpoint(), as_user("tund-pw"));
  watch.w.start("/t/", 0);
  run_until([&] { return watch.w.seen_revision() > 0 || !watch.ended.empty(); }, 3s);
  ASSERT_GT(watch.w.seen_revision(), 0) << watch.ended;
  watch.w.stop();
  std::this_thread::sleep_for(3s);  // both tokens unused past their 2 s TTL
  EXPECT_TRUE(c.call_now("kv/range", get("/t/a"), e)) << e;
  EXPECT_EQ(c.faults()[Fault::kAuth], 1u);  // refused once, renewed, sent again
  watch.w.start("/t/", 0);
  run_until([&] { return watch.w.seen_revision() > 0 || !watch.ended.empty(); }, 3s);
  ASSERT_GT(watch.w.seen_revision(), 0) << watch.ended;
  EXPECT_EQ(watch.w.faults()[Fault::kAuth], 1u);  // canceled for its token, renewed, watching
  ASSERT_TRUE(c.call_now("kv/put", put("/t/b", "2"), e)) << e;
  run_until([&] { return !watch.events.empty(); }, 1s);
  EXPECT_EQ(watch.events, std::vector<std::string>{"/t/b=2"});
  EXPECT_TRUE(watch.ended.empty()) << watch.ended;
}

// What etcd answers a request whose token it no longer takes.
FakeEtcd::Answer token_refused() {
  const std::string body = R"({"error":"etcdserver: invalid auth token","message":"etcdserver: invalid auth token","code":16})";
  FakeEtcd::Answer a;
  a.head = "HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
           "\r\n\r\n" + body;
  return a;
}

TEST(EtcdAuth, ARefusedTokenIsRenewedAndTheRequestSentOnceMoreNotTwice) {
  std::atomic<int> tokens{0};
  std::atomic<bool> refuse_all{false};
  FakeEtcd fake([&](const std::string& path, const std::string&) {
    if (path == "auth/authenticate") return FakeEtcd::json(json{{"token", "t" + std::to_string(++tokens)}}.dump());
    if (refuse_all || tokens == 1) return token_refused();  // the first token "expired"
    return FakeEtcd::json(R"({"kvs":[]})");
  });
  asio::io_context io;
  etcd::Security s;
  s.user = "tund";
  s.password = "pw";
  EtcdClient c(io, {fake.endpoint()}, 500ms, s);
  std::string e;
  ASSERT_TRUE(c.call_now("kv/range", get("/t/a"), e)) << e;
  using Seen = std::vector<std::pair<std::string, std::string>>;
  EXPECT_EQ(fake.tokens(), (Seen{{"auth/authenticate", ""}, {"kv/range", "t1"}, {"auth/authenticate", ""}, {"kv/range", "t2"}}));
  EXPECT_EQ(json::parse(fake.requests()[0].second), (json{{"name", "tund"}, {"password", "pw"}}));
  EXPECT_EQ(c.faults()[Fault::kAuth], 1u);
  ASSERT_TRUE(c.call_now("kv/range", get("/t/a"), e)) << e;  // the token held is used
  EXPECT_EQ(fake.tokens().back(), (std::pair<std::string, std::string>{"kv/range", "t2"}));

  // Refused again after a renewal: the error stands.
  refuse_all = true;
  EXPECT_FALSE(c.call_now("kv/range", get("/t/a"), e));
  EXPECT_NE(e.find("invalid auth token"), npos) << e;
  const auto seen = fake.tokens();
  ASSERT_EQ(seen.size(), 8u);
  EXPECT_EQ(Seen(seen.begin() + 5, seen.end()), (Seen{{"kv/range", "t2"}, {"auth/authenticate", ""}, {"kv/range", "t3"}}));
  EXPECT_EQ(c.faults()[Fault::kAuth], 3u);
}

}  // namespace
}  // namespace tund
