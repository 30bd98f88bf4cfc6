#include "daemon/etcd_watch.hpp"

#include <optional>

#include "daemon/etcd.hpp"
#include "daemon/etcd_http.hpp"
#include "daemon/log.hpp"

namespace tund::daemon {

using namespace etcd_http;
using nlohmann::json;

struct EtcdWatch::Impl {
  Endpoints endpoints;
  OnEvent on_event;
  OnEnd on_end;
  std::chrono::milliseconds idle;
  tcp::resolver resolver;
  beast::tcp_stream stream;
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

  Impl(asio::io_context& io, std::vector<std::string> e, OnEvent ev, OnEnd end, std::chrono::milliseconds i)
      : endpoints{std::move(e)}, on_event(std::move(ev)), on_end(std::move(end)), idle(i), resolver(io), stream(io) {}

  void close() {
    ++generation;
    beast::error_code ignored;
    stream.socket().close(ignored);
    parser.reset();
    events.clear();
  }

  void end(etcd::Fault fault, const std::string& why) {
    if (!running) return;
    faults.add(fault);
    running = false;
    close();
    endpoints.next();
    on_end(why);
  }

  // Connects to the current endpoint and asks for the events after `seen`.
  void open(std::int64_t seen) {
    const unsigned g = ++generation;
    const auto where = etcd::split_endpoint(endpoints.now());
    if (!where) return end(etcd::Fault::kTransport, "endpoint '" + endpoints.now() + "' is not host:port");
    json create{{"key", etcd::base64(prefix)}, {"range_end", etcd::base64(etcd::prefix_end(prefix))},
                {"progress_notify", true}};
    if (seen > 0) create["start_revision"] = std::to_string(seen + 1);
    req = post(where->first, "/v3/watch", json{{"create_request", create}}.dump());
    lines.reset(seen);
    buffer.clear();
    events.clear();
    ending.reset();
    parser.emplace();
    parser->body_limit(boost::none);  // a watch streams for as long as it lives; lines are bounded instead
    parser->on_chunk_body(on_chunk);  // the parser keeps a reference
    connect(resolver, stream, *where, limits::kEtcdTimeout, [this, g](const std::string& error) {
      if (g != generation) return;
      if (!error.empty()) return end(etcd::Fault::kTransport, "watch: " + error);
      stream.expires_after(limits::kEtcdTimeout);  // the request and the answer's header
      http::async_write(stream, req, [this, g](beast::error_code ec, std::size_t) {
        if (g != generation) return;
        if (ec) return end(fault_of(ec), "watch: write: " + ec.message());
        http::async_read_header(stream, buffer, *parser, [this, g](beast::error_code ec2, std::size_t) {
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
    stream.expires_after(idle);  // progress notifications come well within it
    http::async_read_some(stream, buffer, *parser, [this, g](beast::error_code ec, std::size_t) {
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
                     std::chrono::milliseconds idle)
    : impl_(std::make_unique<Impl>(io, std::move(endpoints), std::move(on_event), std::move(on_end), idle)) {}

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

const etcd::Faults& EtcdWatch::faults() const { return impl_->faults; }

}  // namespace tund::daemon
