// The tunnel's DNS, what is said to the system (pure logic: what
// systemd-resolved's calls carry, what resolvconf is given), running a helper
// program, and the daemon's own lookup against a hostile server on loopback.
#include <gtest/gtest.h>

#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <filesystem>
#include <functional>
#include <fstream>

#include "daemon/child_process.hpp"
#include "daemon/config_check.hpp"
#include "daemon/dns_lookup.hpp"
#include "daemon/resolvconf.hpp"
#include "daemon/resolved_link.hpp"
#include "tund/dns_config.hpp"
#include "tund/hub_resolver.hpp"

namespace tund {
namespace {

using daemon::DnsDomain;
using daemon::LinkDns;
using namespace std::chrono_literals;

Endpoint ip(const char* text) { return *config::parse_ip(text); }

client::HubSettings hub(std::vector<const char*> dns, std::vector<DnsDomain> domains, bool full = false) {
  client::HubSettings h;
  for (const auto* d : dns) h.dns.push_back(ip(d));
  h.dns_domains = std::move(domains);
  h.ipv4_default = full;
  return h;
}

TEST(DnsConfig, DomainsAsResolvectlWritesThem) {
  EXPECT_EQ(client::parse_dns_domain("Corp.Example."), (DnsDomain{"corp.example", false}));
  EXPECT_EQ(client::parse_dns_domain("~lab.example"), (DnsDomain{"lab.example", true}));
  EXPECT_EQ(client::parse_dns_domain("~."), (DnsDomain{".", true}));
  EXPECT_EQ(client::parse_dns_domain("_tcp.x-y.org"), (DnsDomain{"_tcp.x-y.org", false}));
  for (const char* bad : {"", ".", "~", "a..b", ".a", "a b", "a/b", "~~a", "é.org"})
    EXPECT_FALSE(client::parse_dns_domain(bad)) << bad;
  EXPECT_FALSE(client::parse_dns_domain(std::string(64, 'a') + ".org"));
  EXPECT_TRUE(client::parse_dns_domain(std::string(63, 'a') + ".org"));
}

TEST(DnsConfig, TheTunsDnsFollowsTheHubsThatAreUp) {
  const auto a = hub({"10.4.0.53", "fd04::53"}, {{"corp.example", false}});
  const auto b = hub({"10.8.0.53", "10.4.0.53"}, {{"lab.example", true}, {"corp.example", false}});
  // Split DNS: names under the domains go to the tunnel, the rest outside.
  auto d = client::link_dns({a, b}, {true, true});
  EXPECT_EQ(d.to_string(), "10.4.0.53, fd04::53, 10.8.0.53; corp.example, ~lab.example");
  EXPECT_FALSE(d.default_route);
  EXPECT_FALSE(d.exclusive);
  // Only a hub that is up brings its servers.
  EXPECT_EQ(client::link_dns({a, b}, {false, true}).to_string(), "10.8.0.53, 10.4.0.53; ~lab.example, corp.example");
  EXPECT_TRUE(client::link_dns({a, b}, {false, false}).empty());
  // Servers without domains are for every name, beside the network's (DefaultRoute, not exclusive).
  d = client::link_dns({hub({"10.4.0.53"}, {})}, {true});
  EXPECT_TRUE(d.default_route);
  EXPECT_FALSE(d.exclusive);
  EXPECT_TRUE(d.domains.empty());
  // A full tunnel (any hub's): every name to the tunnel's servers alone.
  d = client::link_dns({hub({"10.4.0.53"}, {{"corp.example", false}}), hub({}, {}, true)}, {true, false});
  EXPECT_EQ(d.to_string(), "10.4.0.53; corp.example, ~.");
  EXPECT_TRUE(d.default_route);
  EXPECT_TRUE(d.exclusive);
  // "~." written by hand is the same.
  EXPECT_TRUE(client::link_dns({hub({"10.4.0.53"}, {{".", true}})}, {true}).exclusive);
  // A full tunnel without servers sets nothing.
  EXPECT_TRUE(client::link_dns({hub({}, {}, true)}, {true}).empty());
}

TEST(DnsConfig, TheDaemonLooksHubsUpItselfWithKillSwitchOrFullTunnel) {
  client::ClientSettings s;
  s.hubs = {hub({"10.4.0.53"}, {})};
  EXPECT_FALSE(client::own_hub_lookups(s));
  s.kill_switch = true;
  EXPECT_TRUE(client::own_hub_lookups(s));
  s.kill_switch = false;
  s.hubs.push_back(hub({"10.4.0.53", "10.8.0.53"}, {}, true));
  EXPECT_TRUE(client::own_hub_lookups(s));
  const auto never = client::tunnel_dns_servers(s.hubs);
  ASSERT_EQ(never.size(), 2u);
  EXPECT_EQ(never[1].address_string(), "10.8.0.53");
}

TEST(ResolvedCalls, CarryFamiliesBytesDomainsAndTheDefaultRoute) {
  LinkDns d;
  d.servers = {ip("10.4.0.53"), ip("fd04::53")};
  d.domains = {{"corp.example", false}, {".", true}};
  d.default_route = true;
  const auto p = daemon::resolved_plan(d);
  ASSERT_EQ(p.dns.size(), 2u);
  EXPECT_EQ(p.dns[0].first, AF_INET);
  EXPECT_EQ(p.dns[0].second, (std::vector<std::uint8_t>{10, 4, 0, 53}));
  EXPECT_EQ(p.dns[1].first, AF_INET6);
  EXPECT_EQ(p.dns[1].second.size(), 16u);
  EXPECT_EQ(p.dns[1].second[0], 0xfd);
  EXPECT_EQ(p.dns[1].second[15], 0x53);
  EXPECT_EQ(p.domains, (std::vector<std::pair<std::string, bool>>{{"corp.example", false}, {".", true}}));
  EXPECT_TRUE(p.default_route);
}

TEST(Resolvconf, AFragmentLikeWgQuicksAndExclusiveOnlyForAFullTunnel) {
  LinkDns d;
  d.servers = {ip("10.4.0.53"), ip("fd04::53")};
  d.domains = {{"corp.example", false}, {"lab.example", true}, {"b.example", false}};
  EXPECT_EQ(daemon::resolvconf_fragment(d), "nameserver 10.4.0.53\nnameserver fd04::53\nsearch corp.example b.example\n");
  EXPECT_EQ(daemon::resolvconf_add_argv("tun0", d), (std::vector<std::string>{"resolvconf", "-a", "tun0", "-m", "0"}));
  d.exclusive = true;
  EXPECT_EQ(daemon::resolvconf_add_argv("tun0", d), (std::vector<std::string>{"resolvconf", "-a", "tun0", "-m", "0", "-x"}));
  EXPECT_EQ(daemon::resolvconf_delete_argv("tun0"), (std::vector<std::string>{"resolvconf", "-d", "tun0", "-f"}));
}

TEST(ChildProcess, InputExitStatusAbsenceAndTimeout) {
  const auto out = std::filesystem::temp_directory_path() / ("tund-child-" + std::to_string(::getpid()));
  auto r = daemon::run_child_now({"sh", "-c", "cat > " + out.string()}, "nameserver 10.4.0.53\n", 5s);
  EXPECT_TRUE(r.ok()) << r.describe();
  std::ifstream in(out);
  EXPECT_EQ(std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>()), "nameserver 10.4.0.53\n");
  std::filesystem::remove(out);
  r = daemon::run_child_now({"sh", "-c", "exit 3"}, "", 5s);
  EXPECT_EQ(r.exit_status, 3);
  EXPECT_EQ(r.describe(), "exit status 3");
  r = daemon::run_child_now({"tund-no-such-program"}, "", 5s);
  EXPECT_EQ(r.spawn_error, ENOENT);
  EXPECT_EQ(r.describe(), "not found");
  // A child that never reads its input and never exits is killed in time.
  const auto start = std::chrono::steady_clock::now();
  r = daemon::run_child_now({"sleep", "10"}, std::string(100000, 'x'), 200ms);
  EXPECT_TRUE(r.timed_out);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 3s);

  asio::io_context io;
  std::vector<daemon::ChildResult> seen;
  auto ok = daemon::ChildRun::start(io, {"true"}, "", 5s, [&](const daemon::ChildResult& x) { seen.push_back(x); });
  auto missing = daemon::ChildRun::start(io, {"tund-no-such-program"}, "", 5s, [&](const daemon::ChildResult& x) { seen.push_back(x); });
  auto slow = daemon::ChildRun::start(io, {"sleep", "10"}, "", 100ms, [&](const daemon::ChildResult& x) { seen.push_back(x); });
  EXPECT_TRUE(seen.empty()) << "never from start itself";
  io.run_for(5s);
  ASSERT_EQ(seen.size(), 3u);
  int oks = 0, absent = 0, killed = 0;
  for (const auto& x : seen) {
    oks += x.ok();
    absent += x.spawn_error == ENOENT;
    killed += x.timed_out;
  }
  EXPECT_EQ(oks, 1);
  EXPECT_EQ(absent, 1);
  EXPECT_EQ(killed, 1);
}

// A DNS server on loopback that first sends what a hostile host on the path
// could (garbage, a wrong id, a wrong question), then the real answers.
TEST(DnsLookup, RefusesForgeriesCountsThemAndTakesTheAnswers) {
  asio::io_context io;
  asio::ip::udp::socket server(io, asio::ip::udp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  std::array<std::uint8_t, 2048> buf{};
  asio::ip::udp::endpoint from;
  int questions = 0;
  std::function<void()> serve = [&] {
    server.async_receive_from(asio::buffer(buf), from, [&](boost::system::error_code ec, std::size_t n) {
      if (ec) return;
      ++questions;
      std::vector<std::uint8_t> q(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(n));
      const std::uint16_t type = static_cast<std::uint16_t>(q[n - 11 - 4] << 8 | q[n - 11 - 3]);
      server.send_to(asio::buffer(std::string("garbage")), from);
      auto answer = std::vector<std::uint8_t>(q.begin(), q.end() - 11);  // header and question, no OPT
      answer[2] = 0x81;
      answer[3] = 0x80;
      answer[11] = 0;  // no additional record
      auto wrong_id = answer;
      wrong_id[0] ^= 0xff;
      server.send_to(asio::buffer(wrong_id), from);
      answer[7] = 1;  // one answer record
      for (const std::uint8_t b : std::initializer_list<std::uint8_t>{0xC0, 12, 0, static_cast<std::uint8_t>(type), 0, 1, 0, 0, 0, 60, 0})
        answer.push_back(b);
      if (type == daemon::dns::kTypeA) {
        answer.push_back(4);
        for (const std::uint8_t b : {10, 3, 0, 2}) answer.push_back(b);
      } else {
        answer.push_back(16);
        for (int i = 0; i < 15; ++i) answer.push_back(i == 0 ? 0xfd : 0);
        answer.push_back(2);
      }
      server.send_to(asio::buffer(answer), from);
      serve();
    });
  };
  serve();
  Endpoint dead = ip("127.0.0.1");
  dead.port = 9;  // nothing listens: port unreachable, at once the next server
  Endpoint live = ip("127.0.0.1");
  live.port = server.local_endpoint().port();
  auto drops = std::make_shared<daemon::dns::Drops>();
  std::vector<Endpoint> got;
  std::string error = "not called";
  daemon::DnsLookup lookup(io, "hub.lab.test", {dead, live}, 0, drops, [&](std::vector<Endpoint> a, std::string e) {
    got = std::move(a);
    error = std::move(e);
    io.stop();
  });
  io.run_for(5s);
  EXPECT_EQ(error, "");
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].family == 4 ? got[0].address_string() : got[1].address_string(), "10.3.0.2");
  EXPECT_EQ(questions, 2);
  EXPECT_EQ((*drops)[daemon::dns::Drop::kTooShort], 2u) << "the garbage, once per question";
  EXPECT_EQ((*drops)[daemon::dns::Drop::kWrongId], 2u);
}

TEST(DnsLookup, DestroyedBeforeTheAnswerNeverCallsBack) {
  asio::io_context io;
  asio::ip::udp::socket silent(io, asio::ip::udp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  Endpoint server = ip("127.0.0.1");
  server.port = silent.local_endpoint().port();
  bool called = false;
  {
    daemon::DnsLookup lookup(io, "hub.lab.test", {server}, 0, std::make_shared<daemon::dns::Drops>(),
                             [&](std::vector<Endpoint>, std::string) { called = true; });
    io.run_for(50ms);
  }
  io.restart();
  io.run_for(50ms);
  EXPECT_FALSE(called);
  // No server at all: an error, on the loop.
  std::string error;
  daemon::DnsLookup none(io, "hub.lab.test", {}, 0, std::make_shared<daemon::dns::Drops>(),
                         [&](std::vector<Endpoint>, std::string e) { error = std::move(e); });
  EXPECT_EQ(error, "");
  io.restart();
  io.run_for(50ms);
  EXPECT_NE(error.find("no DNS server"), std::string::npos) << error;
}

// The daemon's own lookup reads /etc/hosts first, as getaddrinfo would; an
// answer from it arrives on the loop, with the hub's port.
TEST(HubResolver, TheDaemonsOwnLookupTakesHostsFirst) {
  const auto hosts = std::filesystem::temp_directory_path() / ("tund-hosts-" + std::to_string(::getpid()));
  std::ofstream(hosts) << "127.0.0.1 localhost\n10.3.0.2 hub.lab.test hub\nfd03::2 hub.lab.test\n";
  asio::io_context io;
  client::HubLookupStub stub;
  stub.hosts_path = hosts.string();
  std::vector<Endpoint> seen;
  client::HubResolver r(io, *config::parse_host_port("hub.lab.test:51900"),
                        [&](const std::vector<Endpoint>& a) { seen = a; }, &stub);
  EXPECT_TRUE(seen.empty()) << "never from the constructor";
  io.run_for(100ms);
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].to_string(), "10.3.0.2:51900");
  EXPECT_EQ(seen[1].to_string(), "[fd03::2]:51900");
  EXPECT_EQ(r.lookups(), 1u);
  std::filesystem::remove(hosts);
}

}  // namespace
}  // namespace tund
