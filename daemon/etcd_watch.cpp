#include "daemon/etcd_watch.hpp"

#include <optional>

#include "daemon/etcd.hpp"
#include "daemon/etcd_http.hpp"
#include "daemon/log.hpp"

namespace tund::daemon {

using namespace etcd_http;
using nlohmann::json;

struct EtcdWatch::Impl {
  asio::io_context& io;
  Endpoints endpoints;
  OnEvent on_event;
  OnEnd on_end;
  std::chrono::milliseconds idle;
  std::shared_ptr<asio::ssl::context> tls;  // null: plain HTTP
  std::optional<EtcdClient> auth;           // the tokens, when etcd wants a user
  bool fresh_token = false;                 // the last watch's token was refused: a new one, once
  tcp::resolver resolver;
  std::shared_ptr<EtcdStream> stream;  // this connection's; a new one for each
  beast::flat_buffer buffer;
  http::request<http::string_body> req;
  // The body goes to on_chunk, never into the message: nothing accumulates.
  std::optional<http::response_parser<http::empty_body>> parser;
  etcd::WatchStream lines;
  etcd::Faults faults;
  std::string prefix;
  bool running = false;
  unsigned generation = 0;  // handlers of an earlier connection find theirs gone
  // What the parser handed over during one read, acted on after it returns
  // (so a handler that stops or restarts the watch never runs inside the parser).
  std::vector<etcd::WatchEvent> events;
  std::optional<etcd::Fault> ending;
  std::string ending_why;
  std::function<std::size_t(std::uint64_t, beast::string_view, beast::error_code&)> on_chunk =
      [this](std::uint64_t, beast::string_view body, beast::error_code&) {
        if (ending) return body.size();
        auto step = lines.feed(std::string_view(body.data(), body.size()));
        for (std::size_t i = 0; i < step.bad_events; ++i) faults.add(etcd::Fault::kBadEvent);
        for (auto& e : step.events) events.push_back(std::move(e));
        if (step.end) {
          ending = step.end;
          ending_why = std::move(step.error);
        }
        return body.size();
      };

  Impl(asio::io_context& context, std::vector<std::string> e, OnEvent ev, OnEnd end, std::chrono::milliseconds i,
       const etcd::Security& security)
      : io(context),
        endpoints{std::move(e)},
        on_event(std::move(ev)),
        on_end(std::move(end)),
        idle(i),
        tls(etcd::tls_context(security)),
        resolver(context) {
    if (!security.user.empty()) auth.emplace(context, endpoints.list, limits::kEtcdTimeout, security);
  }

  void close() {
    ++generation;
    if (stream) stream->close();
    parser.reset();
    events.clear();
  }

  // `counted`: the fault is counted already (by the token's client).
  void end(etcd::Fault fault, const std::string& why, bool counted = false) {
    if (!running) return;
    if (auth && !fresh_token && fault == etcd::Fault::kCanceled && etcd::token_refused(why)) {
      // The token expired: a new one and the watch again, at once, on the
      // same endpoint (etcd is there and answering).
      faults.add(etcd::Fault::kAuth);
      fresh_token = true;
      close();
      return open(lines.seen_revision());
    }
    if (!counted) faults.add(fault);
    running = false;
    close();
    endpoints.next();
    on_end(why);
  }

  // Connects to the current endpoint and asks for the events after `seen`
  // (with a token first, when etcd wants a user).
  void open(std::int64_t seen) {
    const unsigned g = ++generation;
    lines.reset(seen);
    buffer.clear();
    events.clear();
    ending.reset();
    if (!auth) return send(g, std::string());
    auth->token(fresh_token, [this, g](const std::string& token, const std::string& error) {
      if (g != generation) return;
      if (token.empty()) return end(etcd::Fault::kAuth, "watch: " + error, true);
      send(g, token);
    });
  }

  void send(unsigned g, const std::string& token) {
    const auto where = etcd::split_endpoint(endpoints.now());
    if (!where) return end(etcd::Fault::kTransport, "endpoint '" + endpoints.now() + "' is not host:port");
    json create{{"key", etcd::base64(prefix)}, {"range_end", etcd::base64(etcd::prefix_end(prefix))},
                {"progress_notify", true}};
    if (const auto seen = lines.seen_revision(); seen > 0) create["start_revision"] = std::to_string(seen + 1);
    req = post(where->first, "/v3/watch", json{{"create_request", create}}.dump(), token);
    parser.emplace();
    parser->body_limit(boost::none);  // a watch streams for as long as it lives; lines are bounded instead
    parser->on_chunk_body(on_chunk);  // the parser keeps a reference
    stream = std::make_shared<EtcdStream>(io, tls);
    connect(resolver, stream, *where, limits::kEtcdTimeout, [this, g, s = stream](const std::string& error, etcd::Fault fault) {
      if (g != generation) return;
      if (!error.empty()) return end(fault, "watch: " + error);
      s->tcp().expires_after(limits::kEtcdTimeout);  // the request and the answer's header
      http::async_write(*s, req, [this, g, s](beast::error_code ec, std::size_t) {
        if (g != generation) return;
        if (ec) return end(fault_of(ec), "watch: write: " + ec.message());
        http::async_read_header(*s, buffer, *parser, [this, g, s](beast::error_code ec2, std::size_t) {
          if (g != generation) return;
          // A plain body's Content-Length is refused by the header's parse.
          if (ec2 == http::error::body_limit || ec2 == http::error::unexpected_body)
            return end(etcd::Fault::kNotChunked, "watch: the answer is not a chunked stream (" + ec2.message() + ")");
          if (ec2) return end(fault_of(ec2), "watch: " + ec2.message());
          const auto status = parser->get().result_int();
          if (status != 200) return end(etcd::Fault::kStatus, "watch: etcd " + std::to_string(status));
          // Only a chunked body streams through on_chunk; a plain one would
          // be a body to buffer, of whatever length etcd says.
          if (!parser->chunked()) return end(etcd::Fault::kNotChunked, "watch: the answer is not a chunked stream");
          read(g);
        });
      });
    });
  }

  void read(unsigned g) {
    stream->tcp().expires_after(idle);  // progress notifications come well within it
    http::async_read_some(*stream, buffer, *parser, [this, g, s = stream](beast::error_code ec, std::size_t) {
      if (g != generation) return;
      auto batch = std::move(events);
      events.clear();
      for (const auto& e : batch) {
        on_event(e.key, e.value, e.deleted, e.revision);
        if (g != generation) return;  // stopped or restarted by the handler
      }
      if (ending) return end(*ending, ending_why);
      if (ec == beast::error::timeout) return reopen_idle();
      if (ec) return end(fault_of(ec), "watch: " + ec.message());
      if (parser->is_done()) return end(etcd::Fault::kTransport, "watch: the stream ended");
      fresh_token = false;  // the watch is up: the token was taken
      read(g);
    });
  }

  void reopen_idle() {
    faults.add(etcd::Fault::kWatchIdle);
    log::info("etcd watch on " + endpoints.now() + ": silent for " + std::to_string(idle.count()) +
              " ms; re-established from revision " + std::to_string(lines.seen_revision()));
    close();
    endpoints.next();
    open(lines.seen_revision());
  }

  static etcd::Fault fault_of(const beast::error_code& ec) {
    if (ec == beast::error::timeout) return etcd::Fault::kDeadline;
    if (ec == http::error::header_limit || ec == http::error::buffer_overflow) return etcd::Fault::kTooLarge;
    return etcd::Fault::kTransport;
  }
};

EtcdWatch::EtcdWatch(asio::io_context& io, std::vector<std::string> endpoints, OnEvent on_event, OnEnd on_end,
                     std::chrono::milliseconds idle, const etcd::Security& security)
    : impl_(std::make_unique<Impl>(io, std::move(endpoints), std::move(on_event), std::move(on_end), idle, security)) {}

EtcdWatch::~EtcdWatch() = default;

void EtcdWatch::stop() {
  impl_->running = false;
  impl_->close();
}

void EtcdWatch::start(const std::string& prefix, std::int64_t start_revision) {
  auto& i = *impl_;
  if (i.running) return;
  i.running = true;
  i.prefix = prefix;
  i.open(start_revision > 0 ? start_revision - 1 : 0);
}

std::int64_t EtcdWatch::seen_revision() const { return impl_->lines.seen_revision(); }

etcd::Faults EtcdWatch::faults() const {
  etcd::Faults sum = impl_->faults;
  if (impl_->auth) sum += impl_->auth->faults();
  return sum;
}

}  // namespace tund::daemon
