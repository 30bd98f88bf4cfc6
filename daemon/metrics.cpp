#include "daemon/metrics.hpp"
#include "daemon/version.hpp"
#include "tund/limits.hpp"

#include <cmath>
#include <cstdio>
#include <memory>
#include <system_error>

namespace tund::daemon {

namespace {
constexpr std::size_t kMaxRequest = limits::kMetricsMaxRequest;
constexpr std::size_t kMaxConnections = limits::kMetricsMaxConnections;
constexpr auto kConnectionTimeout = limits::kMetricsDeadline;

std::string escape(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

asio::ip::tcp::endpoint tcp_endpoint(const Endpoint& e) {
  if (e.family == 6) return {asio::ip::address_v6(e.addr), e.port};
  asio::ip::address_v4::bytes_type b;
  std::copy(e.addr.begin(), e.addr.begin() + b.size(), b.begin());
  return {asio::ip::address_v4(b), e.port};
}

// The path of a request target: "/metrics?x=1" is "/metrics".
std::string path_of(const std::string& target) { return target.substr(0, target.find('?')); }

struct Connection : std::enable_shared_from_this<Connection> {
  Connection(asio::ip::tcp::socket s, asio::io_context& io) : socket(std::move(s)), timer(io) {}
  asio::ip::tcp::socket socket;
  asio::steady_timer timer;
  asio::streambuf in{kMaxRequest};
  std::string reply;
};
}  // namespace

void MetricsText::family(const std::string& name, const char* type, const char* help) {
  out_ += "# HELP " + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
}

void MetricsText::sample(const std::string& name, Labels labels, double value) {
  out_ += name;
  if (labels.size()) {
    out_ += '{';
    bool first = true;
    for (const auto& [k, v] : labels) {
      if (!first) out_ += ',';
      first = false;
      out_ += std::string(k) + "=\"" + escape(v) + "\"";
    }
    out_ += '}';
  }
  char buf[64];
  if (std::isinf(value)) std::snprintf(buf, sizeof buf, " %s\n", value > 0 ? "+Inf" : "-Inf");
  else if (value == std::floor(value) && std::fabs(value) < 1e15) std::snprintf(buf, sizeof buf, " %.0f\n", value);
  else std::snprintf(buf, sizeof buf, " %.9g\n", value);
  out_ += buf;
}

void MetricsText::build_info(const std::string& name) {
  family(name, "gauge", "1, labelled with the daemon's version.");
  sample(name, {{"version", version()}}, 1);
}

MetricsServer::MetricsServer(asio::io_context& io, const Endpoint& listen, Render render)
    : io_(io), render_(std::move(render)), acceptor_(io) {
  if (!listen.valid()) throw std::system_error(std::make_error_code(std::errc::invalid_argument), "metrics_listen");
  const auto ep = tcp_endpoint(listen);
  acceptor_.open(ep.protocol());
  acceptor_.set_option(asio::socket_base::reuse_address(true));
  if (ep.address().is_v6()) acceptor_.set_option(asio::ip::v6_only(true));
  acceptor_.bind(ep);
  acceptor_.listen();
  accept();
}

MetricsServer::~MetricsServer() {
  boost::system::error_code ec;
  acceptor_.close(ec);
}

void MetricsServer::accept() {
  acceptor_.async_accept([this](boost::system::error_code ec, asio::ip::tcp::socket s) {
    if (ec == asio::error::operation_aborted) return;
    if (!ec && open_ < kMaxConnections) {
      ++open_;
      auto c = std::make_shared<Connection>(std::move(s), io_);
      // The connection lives until it is answered or the timer closes it;
      // `done` runs once either way.
      auto done = std::make_shared<std::function<void()>>([this, c] {
        boost::system::error_code ignored;
        c->timer.cancel();
        c->socket.close(ignored);
        --open_;
      });
      auto once = [done] {
        if (*done) {
          auto f = std::move(*done);
          *done = nullptr;
          f();
        }
      };
      c->timer.expires_after(kConnectionTimeout);
      c->timer.async_wait([once](boost::system::error_code e) {
        if (!e) once();
      });
      asio::async_read_until(c->socket, c->in, "\r\n\r\n", [this, c, once](boost::system::error_code rec, std::size_t) {
        if (rec) return once();
        std::istream is(&c->in);
        std::string method, target;
        is >> method >> target;
        std::string status = "200 OK", body;
        if (method != "GET") {
          status = "405 Method Not Allowed";
        } else if (path_of(target) != "/metrics") {
          status = "404 Not Found";
        } else {
          body = render_();
        }
        c->reply = "HTTP/1.1 " + status + "\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n" +
                   "Content-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
        asio::async_write(c->socket, asio::buffer(c->reply), [c, once](boost::system::error_code, std::size_t) { once(); });
      });
    } else if (!ec) {
      boost::system::error_code ignored;
      s.close(ignored);  // too many at once: the scraper retries
    }
    accept();
  });
}

}  // namespace tund::daemon
