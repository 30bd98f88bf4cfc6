// The metrics endpoint on real loopback sockets: it listens on exactly the
// address configured (an IPv6 one is no wildcard serving IPv4 too) and
// answers /metrics whatever query string a scraper adds.
#include <gtest/gtest.h>

#include <fstream>
#include <regex>
#include <thread>

#include "daemon/config_check.hpp"
#include "daemon/metrics.hpp"

namespace tund {
namespace {

using tcp = asio::ip::tcp;

bool has_ipv6_loopback() {
  std::ifstream f("/proc/net/if_inet6");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("00000000000000000000000000000001", 0) == 0) return true;
  return false;
}

class MetricsServer : public ::testing::Test {
 protected:
  // Serves on `listen` ("ip:0": the kernel picks the port) from a thread.
  void serve(const std::string& listen) {
    const auto ep = config::parse_endpoint(listen);
    ASSERT_TRUE(ep) << listen;
    server_ = std::make_unique<daemon::MetricsServer>(io_, *ep, [] { return std::string("tund_up 1\n"); });
    local_ = server_->local_endpoint();  // before the thread: the acceptor is the io thread's from then on
    thread_ = std::thread([this] { io_.run(); });
  }
  void TearDown() override {
    if (!thread_.joinable()) return;
    asio::post(io_, [this] { server_.reset(); });
    io_.stop();
    thread_.join();
  }
  // One request on its own connection to `to`; the whole reply.
  static std::string get(const tcp::endpoint& to, const std::string& target) {
    asio::io_context io;
    tcp::socket s(io);
    s.connect(to);
    const std::string req = "GET " + target + " HTTP/1.1\r\nHost: x\r\n\r\n";
    asio::write(s, asio::buffer(req));
    std::string reply;
    boost::system::error_code ec;
    asio::read(s, asio::dynamic_buffer(reply), ec);  // to EOF: one request per connection
    EXPECT_EQ(ec, asio::error::eof);
    return reply;
  }

  asio::io_context io_;
  std::unique_ptr<daemon::MetricsServer> server_;
  tcp::endpoint local_;
  std::thread thread_;
};

TEST_F(MetricsServer, AnIpv6AddressIsBoundExactlyAndServesNoIpv4) {
  if (!has_ipv6_loopback()) GTEST_SKIP() << "no ::1 on this host";
  serve("[::1]:0");
  EXPECT_EQ(local_.address(), asio::ip::make_address("::1")) << "not the wildcard the first four bytes made";
  ASSERT_NE(local_.port(), 0);
  EXPECT_NE(get(local_, "/metrics").find("200 OK"), std::string::npos);
  // Nothing listens on that port over IPv4, loopback included.
  asio::io_context io;
  tcp::socket v4(io);
  boost::system::error_code ec;
  v4.connect({asio::ip::make_address("127.0.0.1"), local_.port()}, ec);
  EXPECT_EQ(ec, asio::error::connection_refused);
}

TEST_F(MetricsServer, AnIpv4AddressIsBoundExactly) {
  serve("127.0.0.1:0");
  EXPECT_EQ(local_.address(), asio::ip::make_address("127.0.0.1"));
  EXPECT_NE(get(local_, "/metrics").find("\r\n\r\ntund_up 1\n"), std::string::npos);
}

TEST_F(MetricsServer, AQueryStringIsIgnoredOtherPathsAre404) {
  serve("127.0.0.1:0");
  const auto with_query = get(local_, "/metrics?name[]=tund_up");
  EXPECT_NE(with_query.find("HTTP/1.1 200 OK"), std::string::npos) << with_query;
  EXPECT_NE(with_query.find("tund_up 1\n"), std::string::npos);
  EXPECT_NE(get(local_, "/metricsx").find("404"), std::string::npos);
  EXPECT_NE(get(local_, "/?/metrics").find("404"), std::string::npos);
}

TEST(MetricsText, BuildInfoCarriesTheProjectVersion) {
  daemon::MetricsText m;
  m.build_info("tund_build_info");
  EXPECT_TRUE(std::regex_search(m.text(), std::regex("\n# TYPE tund_build_info gauge\ntund_build_info\\{version=\"[0-9]+\\.[0-9]+\\.[0-9]+\"\\} 1\n")))
      << m.text();
}

}  // namespace
}  // namespace tund
