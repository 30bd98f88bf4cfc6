// daemon::EtcdClient and EtcdWatch against a real etcd (Debian's etcd-server,
// started here on loopback with its own data directory, stopped at the end):
// the calls a hub cluster makes, i.e. allocate-if-free transactions, leases
// and their keepalive, keys bound to a lease, and a watch seeing puts and
// deletes; then etcd gone: an error, never an exception.
#include <gtest/gtest.h>

#include <filesystem>
#include <thread>

#include "daemon/etcd.hpp"
#include "daemon/etcd_watch.hpp"
#include "support/real_etcd.hpp"

namespace tund {
namespace {

using daemon::EtcdClient;
using daemon::EtcdWatch;
namespace etcd = daemon::etcd;
using nlohmann::json;

class Etcd : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists("/usr/bin/etcd")) GTEST_SKIP() << "etcd-server is not installed (./scripts/setup installs it)";
    etcd_.emplace();
    ASSERT_TRUE(etcd_->started());
    client_url_ = etcd_->endpoint();
    EtcdClient c(io_, {client_url_}, std::chrono::milliseconds(500));
    for (int i = 0; i < 100; ++i) {
      std::string e;
      if (c.call_now("kv/range", json{{"key", etcd::base64("x")}}, e)) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    FAIL() << "etcd did not come up on " << client_url_;
  }
  void stop() { etcd_->stop(); }
  asio::io_context io_;
  std::optional<test::RealEtcd> etcd_;
  std::string client_url_;
};

json allocate(const std::string& key, const std::string& owner) {
  return {{"compare", {{{"target", "CREATE"}, {"key", etcd::base64(key)}, {"result", "EQUAL"}, {"create_revision", "0"}}}},
          {"success", {{{"request_put", {{"key", etcd::base64(key)}, {"value", etcd::base64(owner)}}}}}},
          {"failure", {{{"request_range", {{"key", etcd::base64(key)}}}}}}};
}

TEST(EtcdHelpers, Base64AndPrefixEnd) {
  EXPECT_EQ(etcd::base64("/tund/vip/"), "L3R1bmQvdmlwLw==");
  EXPECT_EQ(etcd::unbase64("L3R1bmQvdmlwLw=="), std::optional<std::string>("/tund/vip/"));
  EXPECT_FALSE(etcd::unbase64("L3R1bmQvdmlwLw"));  // etcd wants padding
  EXPECT_EQ(etcd::prefix_end("/tund/vip/"), "/tund/vip0");
  EXPECT_EQ(etcd::prefix_end(std::string("a\xff", 2)), "b");
  EXPECT_EQ(etcd::prefix_end(""), std::string(1, '\0'));
  EXPECT_EQ(etcd::integer(json{{"ID", "7668"}}, "ID"), 7668);
  EXPECT_EQ(etcd::integer(json{{"TTL", 2}}, "TTL"), 2);
  EXPECT_EQ(etcd::integer(json{{"TTL", "x"}}, "TTL"), 0);
  EXPECT_EQ(etcd::integer(json::object(), "TTL"), 0);
  EXPECT_EQ(etcd::split_endpoint("http://[::1]:2379")->first, "::1");
  EXPECT_FALSE(etcd::split_endpoint("127.0.0.1"));
}

TEST_F(Etcd, AllocateOnceLeaseKeepaliveWatchAndAnErrorWhenGone) {
  EtcdClient c(io_, {client_url_}, std::chrono::milliseconds(1000));
  std::string e;
  const auto first = c.call_now("kv/txn", allocate("/t/vip/10.77.0.2", "alice"), e);
  ASSERT_TRUE(first) << e;
  EXPECT_TRUE(first->value("succeeded", false));
  const auto second = c.call_now("kv/txn", allocate("/t/vip/10.77.0.2", "bob"), e);
  ASSERT_TRUE(second) << e;
  EXPECT_FALSE(second->value("succeeded", false));  // absent: etcd leaves out false
  const auto owner = (*second)["responses"][0]["response_range"]["kvs"][0].value("value", "");
  EXPECT_EQ(etcd::unbase64(owner), std::optional<std::string>("alice"));

  const auto lease = c.call_now("lease/grant", json{{"TTL", 2}}, e);
  ASSERT_TRUE(lease) << e;
  const auto id = etcd::integer(*lease, "ID");
  ASSERT_NE(id, 0);
  const auto kept = c.call_now("lease/keepalive", json{{"ID", std::to_string(id)}}, e);
  ASSERT_TRUE(kept) << e;
  EXPECT_EQ(etcd::integer(kept->value("result", json::object()), "TTL"), 2);

  std::vector<std::tuple<std::string, std::string, bool>> events;
  std::string ended;
  EtcdWatch w(io_, {client_url_}, [&](const std::string& k, const std::string& v, bool deleted, std::int64_t) {
    events.emplace_back(k, v, deleted);
  }, [&](const std::string& why) { ended = why; }, std::chrono::milliseconds(1000));
  w.start("/t/owner/", 0);
  // The watch is up once its "created" answer came (its revision is then seen).
  for (int i = 0; i < 300 && w.seen_revision() == 0; ++i) {
    io_.restart();  // call_now may have left it stopped
    io_.run_for(std::chrono::milliseconds(10));
  }
  ASSERT_GT(w.seen_revision(), 0) << ended;
  ASSERT_TRUE(c.call_now("kv/put", json{{"key", etcd::base64("/t/owner/k1")}, {"value", etcd::base64("hub2")},
                                       {"lease", std::to_string(id)}}, e)) << e;
  ASSERT_TRUE(c.call_now("lease/revoke", json{{"ID", std::to_string(id)}}, e)) << e;  // its keys go with it
  for (int i = 0; i < 100 && events.size() < 2; ++i) io_.run_for(std::chrono::milliseconds(10));
  ASSERT_EQ(events.size(), 2u) << ended;
  EXPECT_EQ(events[0], std::make_tuple(std::string("/t/owner/k1"), std::string("hub2"), false));
  EXPECT_EQ(std::get<0>(events[1]), "/t/owner/k1");
  EXPECT_TRUE(std::get<2>(events[1]));
  // Quiet for 1.5 idle timeouts: etcd's progress notifications (asked for
  // with progress_notify) keep the watch up; it is never re-established.
  for (int i = 0; i < 150; ++i) {
    io_.restart();
    io_.run_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(ended.empty()) << ended;
  EXPECT_EQ(w.faults()[etcd::Fault::kWatchIdle], 0u);
  EXPECT_GE(w.seen_revision(), 3);

  stop();
  for (int i = 0; i < 100 && ended.empty(); ++i) io_.run_for(std::chrono::milliseconds(10));
  EXPECT_FALSE(ended.empty());  // the watch saw its stream end
  EXPECT_FALSE(c.call_now("kv/range", json{{"key", etcd::base64("x")}}, e));
  EXPECT_FALSE(e.empty());
}

}  // namespace
}  // namespace tund
