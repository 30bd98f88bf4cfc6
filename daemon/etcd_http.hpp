// What EtcdClient and EtcdWatch share (internal to daemon/etcd*.cpp): the
// HTTP/1.1 POST etcd's gateway takes, the endpoint rotation, and a connect
// (TLS included) under a deadline.
#pragma once

#include <openssl/x509.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "daemon/asio.hpp"
#include "daemon/etcd_parse.hpp"
#include "daemon/etcd_security.hpp"
#include "daemon/etcd_stream.hpp"

namespace tund::daemon::etcd_http {

namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

// `token`: etcd's auth token, sent as the Authorization header (none when empty).
inline http::request<http::string_body> post(const std::string& host, const std::string& path, std::string body,
                                             const std::string& token) {
  http::request<http::string_body> req{http::verb::post, path, 11};
  req.set(http::field::host, host);
  req.set(http::field::content_type, "application/json");
  if (!token.empty()) req.set(http::field::authorization, token);
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

// Resolves `where`, connects `stream` and, over TLS, shakes hands, etcd's
// certificate checked for where's host: connect and handshake within
// `timeout`. `done` gets the error text (empty when connected) and the fault
// to count: kTls for a handshake refused (an untrusted or misnamed
// certificate, or ours refused), kDeadline for one that took too long.
template <class Done>
void connect(tcp::resolver& resolver, const std::shared_ptr<EtcdStream>& stream,
             const std::pair<std::string, std::string>& where, std::chrono::milliseconds timeout, Done done) {
  using etcd::Fault;
  resolver.async_resolve(
      where.first, where.second,
      [stream, host = where.first, timeout, done](beast::error_code ec, tcp::resolver::results_type r) mutable {
        if (ec) return done("resolve: " + ec.message(), Fault::kTransport);
        stream->tcp().expires_after(timeout);  // the handshake's too
        stream->tcp().async_connect(r, [stream, host, done](beast::error_code ec2, const tcp::endpoint&) mutable {
          if (ec2) return done("connect: " + ec2.message(), Fault::kTransport);
          if (!stream->is_tls()) return done(std::string(), Fault::kTransport);
          if (!etcd::expect_peer(stream->ssl(), host))
            return done("TLS: cannot check a certificate's name against '" + host + "'", Fault::kTls);
          stream->async_handshake([stream, done](beast::error_code ec3) mutable {
            if (!ec3) return done(std::string(), Fault::kTls);
            if (ec3 == beast::error::timeout) return done("TLS handshake: " + ec3.message(), Fault::kDeadline);
            std::string why = "TLS handshake: " + ec3.message();
            // OpenSSL's reason for refusing etcd's certificate says more
            // ("hostname mismatch", "unable to get local issuer certificate").
            if (const long v = SSL_get_verify_result(stream->ssl()); v != X509_V_OK)
              why += std::string(" (") + X509_verify_cert_error_string(v) + ")";
            done(why, Fault::kTls);
          });
        });
      });
}

}  // namespace tund::daemon::etcd_http
