// One connection to etcd, plain TCP or TLS over it (internal to
// daemon/etcd*.cpp): EtcdClient and EtcdWatch read and write through it with
// Beast's http::async_* and the same code either way, as those take any
// stream with async_read_some and async_write_some. Deadlines are the TCP
// stream's (tcp().expires_after), under TLS too: TLS reads and writes are
// reads and writes of it.
//
// Made anew for each connection (a TLS stream is not reused) and held by a
// shared_ptr that every pending operation's handler holds as well: an
// operation on a TLS stream keeps references into it until it completes,
// and after close() that is later, when its aborted handler runs.
#pragma once

#include <memory>
#include <optional>
#include <utility>

#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>

#include "daemon/asio.hpp"

namespace tund::daemon {

class EtcdStream {
 public:
  using executor_type = boost::beast::tcp_stream::executor_type;

  // `tls` null: plain TCP.
  EtcdStream(asio::io_context& io, std::shared_ptr<asio::ssl::context> tls) : context_(std::move(tls)) {
    if (context_) {
      tls_.emplace(io, *context_);
    } else {
      plain_.emplace(io);
    }
  }
  EtcdStream(const EtcdStream&) = delete;
  EtcdStream& operator=(const EtcdStream&) = delete;

  bool is_tls() const { return tls_.has_value(); }
  boost::beast::tcp_stream& tcp() { return tls_ ? tls_->next_layer() : *plain_; }
  executor_type get_executor() { return tcp().get_executor(); }
  // The TLS connection's OpenSSL handle (is_tls() only).
  SSL* ssl() { return tls_->native_handle(); }

  template <class Done>
  void async_handshake(Done&& done) {
    tls_->async_handshake(asio::ssl::stream_base::client, std::forward<Done>(done));
  }
  template <class Buffers, class Handler>
  void async_read_some(const Buffers& buffers, Handler&& handler) {
    either([&](auto& layer) { layer.async_read_some(buffers, std::forward<Handler>(handler)); });
  }
  template <class Buffers, class Handler>
  void async_write_some(const Buffers& buffers, Handler&& handler) {
    either([&](auto& layer) { layer.async_write_some(buffers, std::forward<Handler>(handler)); });
  }

  // Pending operations end with operation_aborted. No TLS close_notify: the
  // connection is given up (failed, or etcd silent), not ended politely.
  void close() {
    boost::beast::error_code ignored;
    tcp().socket().close(ignored);
  }

 private:
  // `f` on the layer data goes through: TLS, or the TCP stream itself.
  template <class F>
  void either(F&& f) {
    if (tls_) {
      f(*tls_);
    } else {
      f(*plain_);
    }
  }

  std::shared_ptr<asio::ssl::context> context_;  // before tls_: outlives it
  std::optional<boost::beast::tcp_stream> plain_;
  std::optional<boost::beast::ssl_stream<boost::beast::tcp_stream>> tls_;
};

}  // namespace tund::daemon
