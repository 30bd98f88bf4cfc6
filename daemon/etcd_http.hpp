// What EtcdClient and EtcdWatch share (internal to daemon/etcd*.cpp): the
// HTTP/1.1 POST etcd's gateway takes, the endpoint rotation, and a connect
// under a deadline.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "daemon/asio.hpp"

namespace tund::daemon::etcd_http {

namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

inline http::request<http::string_body> post(const std::string& host, const std::string& path, std::string body) {
  http::request<http::string_body> req{http::verb::post, path, 11};
  req.set(http::field::host, host);
  req.set(http::field::content_type, "application/json");
  req.keep_alive(true);
  req.body() = std::move(body);
  req.prepare_payload();
  return req;
}

// The endpoints a connection uses: the current one until it fails, then the next.
struct Endpoints {
  std::vector<std::string> list;
  std::size_t current = 0;
  const std::string& now() const { return list[current]; }
  void next() { current = (current + 1) % list.size(); }
};

// Resolves `where` and connects `stream` within `timeout`; `done` gets the
// error text (empty when connected).
template <class Done>
void connect(tcp::resolver& resolver, beast::tcp_stream& stream, const std::pair<std::string, std::string>& where,
             std::chrono::milliseconds timeout, Done done) {
  resolver.async_resolve(where.first, where.second,
                         [&stream, timeout, done](beast::error_code ec, tcp::resolver::results_type r) mutable {
                           if (ec) return done("resolve: " + ec.message());
                           stream.expires_after(timeout);
                           stream.async_connect(r, [done](beast::error_code ec2, const tcp::endpoint&) mutable {
                             done(ec2 ? "connect: " + ec2.message() : std::string());
                           });
                         });
}

}  // namespace tund::daemon::etcd_http
