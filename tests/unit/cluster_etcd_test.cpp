// hub::ClusterAgent against a fake etcd (support/fake_etcd.hpp): what it
// believes of etcd (cluster_keys.hpp: a duplicate VIP, the hub's own address,
// a short or malformed key, an owner that is no member are each refused and
// counted, never thrown), and its lease surviving a long queue of other
// requests while etcd answers (keepalives have a connection of their own);
// with an etcd user, its token on every connection.
#include <gtest/gtest.h>

#include <set>

#include "hub/cluster_agent.hpp"
#include "support/fake_etcd.hpp"

namespace tund {
namespace {

using hub::ClusterAgent;
using hub::Refusal;
using nlohmann::json;
using test::FakeEtcd;
namespace etcd = daemon::etcd;
using namespace std::chrono_literals;

PublicKey key_of(std::uint8_t n) {
  PublicKey k{};
  k.fill(n);
  return k;
}
std::string hex_of(std::uint8_t n) {
  static const char* d = "0123456789abcdef";
  std::string one{d[n >> 4], d[n & 15]};
  std::string out;
  for (int i = 0; i < 32; ++i) out += one;
  return out;
}

json range(const std::vector<std::pair<std::string, std::string>>& kvs) {
  json list = json::array();
  for (const auto& [k, v] : kvs) list.push_back({{"key", etcd::base64(k)}, {"value", etcd::base64(v)}});
  return {{"response_range", {{"kvs", list}}}};
}

struct Cluster : ::testing::Test {
  asio::io_context io;
  hub::HubSettings hub;  // pool 10.77.0.1/24: the hub is .1
  hub::ClusterSettings settings;
  std::vector<std::pair<std::string, std::string>> clients, vips;  // what the fake etcd holds
  std::atomic<int> txn_delay_ms{0};  // read by the fake's threads
  std::vector<std::string> watch_lines;
  FakeEtcd fake{[this](const std::string& path, const std::string& body) { return answer(path, body); }};

  Cluster() {
    settings.name = "t";
    settings.member = "m1";
    settings.members = {"m1", "m2"};
    settings.etcd = {fake.endpoint()};
  }
  FakeEtcd::Answer answer(const std::string& path, const std::string& body) {
    if (path == "auth/authenticate") return FakeEtcd::json(R"({"token":"tok"})");
    if (path == "lease/grant") return FakeEtcd::json(R"({"ID":"7","TTL":"2"})");
    if (path == "lease/keepalive") return FakeEtcd::json(R"({"result":{"ID":"7","TTL":"2"}})");
    if (path == "watch") {
      std::vector<std::string> lines{R"({"result":{"header":{"revision":"5"},"created":true}})"};
      lines.insert(lines.end(), watch_lines.begin(), watch_lines.end());
      return FakeEtcd::stream(lines);
    }
    const auto j = json::parse(body);
    if (path == "kv/txn" && !j.contains("compare"))  // the read of client/ and vip/, or claims
      return FakeEtcd::json(json{{"succeeded", true}, {"responses", {range(clients), range(vips)}}}.dump(),
                            std::chrono::milliseconds(txn_delay_ms.load()));
    return FakeEtcd::json(R"({"succeeded":true})", std::chrono::milliseconds(txn_delay_ms.load()));
  }
  template <class F>
  void run_until(F done, std::chrono::milliseconds limit) {
    const auto until = std::chrono::steady_clock::now() + limit;
    while (!done() && std::chrono::steady_clock::now() < until) {
      io.restart();
      io.run_for(10ms);
    }
  }
};

TEST_F(Cluster, BadMappingsFromEtcdAreRefusedCountedAndNeverUsed) {
  const std::string c = "/tund/t/client/", v = "/tund/t/vip/";
  clients = {{c + hex_of(1), "10.77.0.5"},   // A: .5, and vip/ agrees
             {c + hex_of(2), "10.77.0.5"},   // B: the same VIP: refused (vip/ names A)
             {c + hex_of(3), "10.77.0.1"},   // the hub's own address
             {c + hex_of(4), "10.77.0.255"},  // the broadcast
             {c + hex_of(5), "10.77.0.6"},   // E and F share .6, which no vip/ names: both refused
             {c + hex_of(6), "10.77.0.6"},
             {c + hex_of(7), "10.77.0.7\0junk"},  // not an address (NUL-cut would read .7)
             {"/x", "10.77.0.8"},              // shorter than the prefix: the old substr threw
             {c + "zz", "10.77.0.9"}};         // not a key
  clients[6].second = std::string("10.77.0.7\0junk", 14);
  vips = {{v + "10.77.0.5", hex_of(1)}, {v + "10.77.0.10", "not-a-key"}};
  ClusterAgent agent(io, settings, hub, {});
  std::vector<std::uint32_t> got;
  ASSERT_NO_THROW(got = agent.allocate_now({key_of(1)}));
  EXPECT_EQ(got, std::vector<std::uint32_t>{0x0a4d0005});
  const auto& r = agent.refusals();
  EXPECT_EQ(r[Refusal::kVipDisagrees], 1u);
  EXPECT_EQ(r[Refusal::kReservedAddress], 2u);
  EXPECT_EQ(r[Refusal::kDuplicateVip], 2u);
  EXPECT_EQ(r[Refusal::kValueShape], 2u);  // client 7's value, vip/10.77.0.10's value
  EXPECT_EQ(r[Refusal::kKeyShape], 2u);
  EXPECT_EQ(agent.status()["etcd_refused"]["duplicate_vip"], 2);

  // A client of ours whose mapping is refused gets no VIP at all (the old
  // agent gave B .5, A's: B would receive A's traffic).
  for (std::uint8_t k : {2, 3, 5}) {
    try {
      const auto v2 = agent.allocate_now({key_of(k)});
      ADD_FAILURE() << "client " << int(k) << " got " << v2[0];
    } catch (const std::runtime_error& e) {
      EXPECT_NE(std::string(e.what()).find("refused"), std::string::npos) << e.what();
    }
  }
  // A new client gets a usable address no one holds (not .5 or .6).
  ASSERT_NO_THROW(got = agent.allocate_now({key_of(9)}));
  ASSERT_EQ(got.size(), 1u);
  EXPECT_FALSE(hub::check_vip(hub.vip_pool, got[0]));
  EXPECT_NE(got[0], 0x0a4d0005u);
  EXPECT_NE(got[0], 0x0a4d0006u);
}

TEST_F(Cluster, AnOwnerEventOfTheWrongShapeOrMemberIsRefusedAndCounted) {
  const std::string o = "/tund/t/owner/";
  const auto ev = [](const std::string& k, const std::string& val, int rev) {
    return json{{"result", {{"events", {{{"kv", {{"key", etcd::base64(k)}, {"value", etcd::base64(val)},
                                                {"mod_revision", std::to_string(rev)}}}}}}}}}
        .dump();
  };
  watch_lines = {ev("/x", "m2", 6), ev(o + "short", "m2", 7), ev(o + hex_of(1), "intruder", 8), ev(o + hex_of(1), "m2", 9)};
  clients = {{"/tund/t/client/" + hex_of(1), "10.77.0.5"}};
  int taken_over = 0;
  ClusterAgent::Hooks hooks;
  hooks.taken_over = [&](const PublicKey&) { ++taken_over; };
  ClusterAgent agent(io, settings, hub, hooks);
  ASSERT_EQ(agent.allocate_now({key_of(1)}), std::vector<std::uint32_t>{0x0a4d0005});
  agent.session_started(key_of(1));
  agent.start(0);
  run_until([&] { return taken_over > 0; }, 3s);
  EXPECT_EQ(taken_over, 1);  // m2's claim, a member's: the session ends here
  EXPECT_EQ(agent.refusals()[Refusal::kKeyShape], 2u);
  EXPECT_EQ(agent.refusals()[Refusal::kUnknownMember], 1u);
}

// The finding: claims and releases queued for more than the lease's TTL
// (every etcd answer 100 ms, 60 releases: 6 s of queue) with etcd alive. On
// one FIFO connection the keepalive waited behind them and the lease ran out.
TEST_F(Cluster, TheLeaseSurvivesALongQueueOfOtherRequests) {
  std::vector<PublicKey> keys;
  for (std::uint8_t k = 1; k <= 60; ++k) {
    keys.push_back(key_of(k));
    clients.push_back({"/tund/t/client/" + hex_of(k), "10.77.0." + std::to_string(k + 1)});
  }
  ClusterAgent agent(io, settings, hub, {});
  ASSERT_EQ(agent.allocate_now(keys).size(), 60u);
  agent.start(0);
  run_until([&] { return agent.serving(); }, 2s);
  ASSERT_TRUE(agent.serving());
  txn_delay_ms = 100;
  for (const auto& k : keys) agent.session_started(k);
  for (const auto& k : keys) agent.session_ended(k);
  const auto t0 = std::chrono::steady_clock::now();
  run_until([] { return false; }, 4s);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const std::size_t keepalives = fake.count("lease/keepalive");
  std::printf("4 s of a 6 s queue: %zu keepalives answered, %llu lease losses\n", keepalives,
              static_cast<unsigned long long>(agent.lease_losses()));
  EXPECT_TRUE(agent.serving());
  EXPECT_EQ(agent.lease_losses(), 0u);
  EXPECT_GE(keepalives, static_cast<std::size_t>(seconds / 0.666) - 1);
}

// With an etcd user, each of the member's three connections (requests, the
// lease, the watch) asks for a token and sends it with everything.
TEST_F(Cluster, WithAnEtcdUserEveryRequestCarriesItsToken) {
  settings.etcd_security.user = "tund";
  settings.etcd_security.password = "pw";
  clients = {{"/tund/t/client/" + hex_of(1), "10.77.0.5"}};
  ClusterAgent agent(io, settings, hub, {});
  ASSERT_EQ(agent.allocate_now({key_of(1)}), std::vector<std::uint32_t>{0x0a4d0005});
  agent.session_started(key_of(1));
  agent.start(0);
  run_until([&] { return fake.count("lease/keepalive") >= 2 && fake.count("watch") >= 1; }, 3s);
  std::set<std::string> paths;
  for (const auto& [path, token] : fake.tokens()) {
    if (path == "auth/authenticate") continue;
    EXPECT_EQ(token, "tok") << path;
    paths.insert(path);
  }
  EXPECT_EQ(paths, (std::set<std::string>{"kv/txn", "lease/grant", "lease/keepalive", "watch"}));
  EXPECT_EQ(fake.count("auth/authenticate"), 3u);
  EXPECT_EQ(agent.etcd_faults().total(), 0u);
}

}  // namespace
}  // namespace tund
