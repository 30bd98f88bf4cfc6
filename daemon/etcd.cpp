#include "daemon/etcd.hpp"

#include <sodium.h>

#include <charconv>
#include <cstring>

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "tund/limits.hpp"

namespace tund::daemon {

namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using nlohmann::json;

namespace etcd {

std::string base64(std::string_view bytes) {
  std::string out(sodium_base64_encoded_len(bytes.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(),
                    sodium_base64_VARIANT_ORIGINAL);
  out.resize(std::strlen(out.c_str()));
  return out;
}

std::optional<std::string> unbase64(std::string_view text) {
  std::string out(text.size(), '\0');
  std::size_t len = 0;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), text.data(), text.size(), nullptr,
                        &len, nullptr, sodium_base64_VARIANT_ORIGINAL) != 0)
    return std::nullopt;
  out.resize(len);
  return out;
}

std::string prefix_end(std::string prefix) {
  while (!prefix.empty() && static_cast<unsigned char>(prefix.back()) == 0xff) prefix.pop_back();
  if (prefix.empty()) return std::string(1, '\0');  // every key
  prefix.back() = static_cast<char>(static_cast<unsigned char>(prefix.back()) + 1);
  return prefix;
}

std::int64_t integer(const json& object, const char* field) {
  if (!object.is_object()) return 0;
  const auto it = object.find(field);
  if (it == object.end()) return 0;
  if (it->is_number_integer()) return it->get<std::int64_t>();
  if (it->is_string()) {
    std::int64_t v = 0;
    const auto& s = it->get_ref<const std::string&>();
    const auto r = std::from_chars(s.data(), s.data() + s.size(), v);
    return r.ec == std::errc{} ? v : 0;
  }
  return 0;
}

const json& field(const json& object, const char* name) {
  static const json none;
  if (!object.is_object()) return none;
  const auto it = object.find(name);
  return it == object.end() ? none : *it;
}

std::string text(const json& object, const char* name) {
  const auto& f = field(object, name);
  return f.is_string() ? f.get<std::string>() : std::string();
}

bool flag(const json& object, const char* name) {
  const auto& f = field(object, name);
  return f.is_boolean() && f.get<bool>();
}

std::vector<std::pair<std::string, std::string>> kvs(const json& range) {
  std::vector<std::pair<std::string, std::string>> out;
  const auto& list = field(range, "kvs");
  if (!list.is_array()) return out;
  for (const auto& kv : list) {
    const auto k = unbase64(text(kv, "key"));
    const auto v = unbase64(text(kv, "value"));
    if (k && v) out.emplace_back(*k, *v);
  }
  return out;
}

std::optional<std::pair<std::string, std::string>> split_endpoint(const std::string& endpoint) {
  std::string e = endpoint;
  if (e.rfind("http://", 0) == 0) e = e.substr(7);
  const auto colon = e.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == e.size()) return std::nullopt;
  std::string host = e.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  return std::make_pair(host, e.substr(colon + 1));
}

}  // namespace etcd

namespace {

http::request<http::string_body> post(const std::string& host, const std::string& path, std::string body) {
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

}  // namespace

struct EtcdClient::Impl {
  struct Pending {
    std::string path;
    std::string body;
    Reply done;
  };
  asio::io_context& io;
  Endpoints endpoints;
  tcp::resolver resolver;
  beast::tcp_stream stream;
  beast::flat_buffer buffer;
  std::chrono::milliseconds timeout;
  bool connected = false;
  bool busy = false;
  std::deque<Pending> queue;
  http::request<http::string_body> req;
  http::response<http::string_body> res;

  Impl(asio::io_context& context, std::vector<std::string> e, std::chrono::milliseconds t)
      : io(context), endpoints{std::move(e)}, resolver(context), stream(context), timeout(t) {}

  void pump() {
    if (busy || queue.empty()) return;
    busy = true;
    const auto where = etcd::split_endpoint(endpoints.now());
    if (!where) return fail("endpoint '" + endpoints.now() + "' is not host:port");
    req = post(where->first, "/v3/" + queue.front().path, queue.front().body);
    if (connected) return send();
    connect(resolver, stream, *where, timeout, [this](const std::string& error) {
      if (!error.empty()) return fail(endpoints.now() + ": " + error);
      connected = true;
      send();
    });
  }

  void send() {
    stream.expires_after(timeout);
    http::async_write(stream, req, [this](beast::error_code ec, std::size_t) {
      if (ec) return fail("write to " + endpoints.now() + ": " + ec.message());
      res = {};
      http::async_read(stream, buffer, res, [this](beast::error_code ec2, std::size_t) {
        if (ec2) return fail("read from " + endpoints.now() + ": " + ec2.message());
        if (!res.keep_alive()) close();
        auto parsed = json::parse(res.body(), nullptr, false);
        if (res.result() != http::status::ok || parsed.is_discarded())
          return finish(nullptr, "etcd " + std::to_string(res.result_int()) + ": " + res.body().substr(0, 200));
        finish(&parsed, "");
      });
    });
  }

  void close() {
    beast::error_code ignored;
    stream.socket().close(ignored);
    connected = false;
    buffer.clear();
  }

  // The connection is unusable: the next request tries the next endpoint.
  void fail(const std::string& why) {
    close();
    endpoints.next();
    finish(nullptr, why);
  }

  void finish(const json* result, const std::string& error) {
    Pending p = std::move(queue.front());
    queue.pop_front();
    busy = false;
    p.done(result, error);
    pump();
  }
};

EtcdClient::EtcdClient(asio::io_context& io, std::vector<std::string> endpoints, std::chrono::milliseconds timeout)
    : impl_(std::make_unique<Impl>(io, std::move(endpoints), timeout)) {
  if (impl_->endpoints.list.empty()) throw std::invalid_argument("etcd: no endpoints");
}

const std::string& EtcdClient::endpoint() const { return impl_->endpoints.now(); }

EtcdClient::~EtcdClient() = default;

void EtcdClient::call(std::string path, json body, Reply done) {
  impl_->queue.push_back({std::move(path), body.dump(), std::move(done)});
  impl_->pump();
}

std::optional<json> EtcdClient::call_now(std::string path, json body, std::string& error) {
  auto& io = impl_->io;
  std::optional<json> out;
  bool done = false;
  call(std::move(path), std::move(body), [&](const json* r, const std::string& e) {
    if (r) out = *r;
    error = e;
    done = true;
  });
  io.restart();
  while (!done && io.run_one() > 0) {
  }
  return out;
}

struct EtcdWatch::Impl {
  Endpoints endpoints;
  OnEvent on_event;
  OnEnd on_end;
  tcp::resolver resolver;
  beast::tcp_stream stream;
  beast::flat_buffer buffer;
  http::request<http::string_body> req;
  std::optional<http::response_parser<http::string_body>> parser;
  std::string line;
  bool running = false;
  unsigned generation = 0;  // handlers of an earlier start() find theirs gone
  // The watch's body, as it streams: one JSON object per line.
  std::function<std::size_t(std::uint64_t, beast::string_view, beast::error_code&)> on_chunk =
      [this](std::uint64_t, beast::string_view body, beast::error_code&) {
        for (char c : body) {
          if (c != '\n') {
            if (line.size() < limits::kEtcdMaxLine) line += c;
            continue;
          }
          const std::string text = std::move(line);
          line.clear();
          if (!text.empty()) on_line(text);
          if (!running) break;
        }
        return body.size();
      };

  Impl(asio::io_context& io, std::vector<std::string> e, OnEvent ev, OnEnd end)
      : endpoints{std::move(e)}, on_event(std::move(ev)), on_end(std::move(end)), resolver(io), stream(io) {}

  void end(const std::string& why) {
    if (!running) return;
    running = false;
    beast::error_code ignored;
    stream.socket().close(ignored);
    endpoints.next();
    on_end(why);
  }

  void on_line(const std::string& text) {
    const auto j = json::parse(text, nullptr, false);
    if (j.is_discarded()) return end("watch: a line that is not JSON");
    if (!etcd::field(j, "error").is_null()) return end("watch: " + etcd::field(j, "error").dump().substr(0, 200));
    const auto& r = etcd::field(j, "result");
    if (etcd::flag(r, "canceled")) return end("watch canceled (compacted at " + std::to_string(etcd::integer(r, "compact_revision")) + ")");
    const auto& events = etcd::field(r, "events");
    if (!events.is_array()) return;
    for (const auto& e : events) {
      const auto& kv = etcd::field(e, "kv");
      const auto key = etcd::unbase64(etcd::text(kv, "key"));
      const auto value = etcd::unbase64(etcd::text(kv, "value"));
      if (!key || !value) continue;
      on_event(*key, *value, etcd::text(e, "type") == "DELETE", etcd::integer(kv, "mod_revision"));
    }
  }

  void read() {
    http::async_read(stream, buffer, *parser, [this, g = generation](beast::error_code ec, std::size_t) {
      if (g == generation) end(ec ? "watch: " + ec.message() : "watch: the stream ended");
    });
  }
};

EtcdWatch::EtcdWatch(asio::io_context& io, std::vector<std::string> endpoints, OnEvent on_event, OnEnd on_end)
    : impl_(std::make_unique<Impl>(io, std::move(endpoints), std::move(on_event), std::move(on_end))) {}

EtcdWatch::~EtcdWatch() = default;

void EtcdWatch::stop() {
  auto& i = *impl_;
  i.running = false;
  ++i.generation;
  beast::error_code ignored;
  i.stream.socket().close(ignored);
}

void EtcdWatch::start(const std::string& prefix, std::int64_t start_revision) {
  auto& i = *impl_;
  if (i.running) return;
  i.running = true;
  const unsigned g = ++i.generation;
  const auto where = etcd::split_endpoint(i.endpoints.now());
  if (!where) return i.end("endpoint '" + i.endpoints.now() + "' is not host:port");
  json create{{"key", etcd::base64(prefix)}, {"range_end", etcd::base64(etcd::prefix_end(prefix))}};
  if (start_revision > 0) create["start_revision"] = std::to_string(start_revision);
  i.req = post(where->first, "/v3/watch", json{{"create_request", create}}.dump());
  i.line.clear();
  i.buffer.clear();
  i.parser.emplace();
  i.parser->body_limit(boost::none);  // a watch streams for as long as it lives
  i.parser->on_chunk_body(i.on_chunk);  // the parser keeps a reference
  connect(i.resolver, i.stream, *where, limits::kEtcdTimeout, [this, g](const std::string& error) {
    auto& w = *impl_;
    if (g != w.generation) return;
    if (!error.empty()) return w.end("watch: " + error);
    w.stream.expires_never();  // an idle watch is silent; the lease, not the watch, is the liveness check
    http::async_write(w.stream, w.req, [this, g](beast::error_code ec, std::size_t) {
      if (g != impl_->generation) return;
      if (ec) return impl_->end("watch: write: " + ec.message());
      impl_->read();
    });
  });
}

}  // namespace tund::daemon
