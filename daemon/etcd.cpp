#include "daemon/etcd.hpp"

#include <sodium.h>

#include <charconv>
#include <cstring>

#include "daemon/etcd_http.hpp"
#include "tund/limits.hpp"

namespace tund::daemon {

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

using namespace etcd_http;

namespace {
constexpr const char* kAuthenticate = "auth/authenticate";
}

struct EtcdClient::Impl {
  struct Pending {
    std::string path;
    std::string body;
    Reply done;
    bool retried = false;  // sent once more already, with a new token
  };
  asio::io_context& io;
  Endpoints endpoints;
  etcd::Security security;
  std::shared_ptr<asio::ssl::context> tls;  // null: plain HTTP
  tcp::resolver resolver;
  std::shared_ptr<EtcdStream> stream;  // this connection's; a new one for each
  beast::flat_buffer buffer;
  std::chrono::milliseconds timeout;
  bool connected = false;
  bool busy = false;
  std::deque<Pending> queue;
  http::request<http::string_body> req;
  std::optional<http::response_parser<http::string_body>> parser;
  etcd::Faults faults;
  std::string token;  // etcd's, while it takes it (security.user set)

  Impl(asio::io_context& context, std::vector<std::string> e, std::chrono::milliseconds t, const etcd::Security& s)
      : io(context), endpoints{std::move(e)}, security(s), tls(etcd::tls_context(s)), resolver(context), timeout(t) {}

  bool authenticates(const Pending& p) const { return p.path == kAuthenticate; }

  Pending authenticate(Reply done) const {
    return {kAuthenticate, json{{"name", security.user}, {"password", security.password}}.dump(), std::move(done)};
  }

  void pump() {
    if (busy || queue.empty()) return;
    if (!security.user.empty() && token.empty() && !authenticates(queue.front())) {
      // A token first, for the request at the front. Refused or unreachable,
      // that request fails (the next one asks anew): never a loop of asking.
      queue.push_front(authenticate([this](const json* r, const std::string& error) {
        if (r || queue.empty()) return;
        Pending waiting = std::move(queue.front());
        queue.pop_front();
        waiting.done(nullptr, error);
      }));
    }
    busy = true;
    const auto where = etcd::split_endpoint(endpoints.now());
    if (!where) return fail("endpoint '" + endpoints.now() + "' is not host:port", etcd::Fault::kTransport);
    const auto& p = queue.front();
    req = post(where->first, "/v3/" + p.path, p.body, authenticates(p) ? std::string() : token);
    if (connected) return send();
    stream = std::make_shared<EtcdStream>(io, tls);
    connect(resolver, stream, *where, timeout, [this, s = stream](const std::string& error, etcd::Fault fault) {
      if (!error.empty()) return fail(endpoints.now() + ": " + error, fault);
      connected = true;
      send();
    });
  }

  // One deadline (timeout) covers the write and the whole answer: an etcd
  // that trickles or never answers costs one request's timeout, no more.
  void send() {
    stream->tcp().expires_after(timeout);
    http::async_write(*stream, req, [this, s = stream](beast::error_code ec, std::size_t) {
      if (ec) return fail("write to " + endpoints.now() + ": " + ec.message(), fault_of(ec));
      parser.emplace();
      parser->body_limit(limits::kEtcdMaxAnswer);
      // The header alone first: Boost 1.74's parser checks body_limit against
      // Content-Length only when not eager, and http::async_read makes it
      // eager (a 96 MiB answer was read whole). The body then goes read by
      // read, its size checked after each.
      http::async_read_header(*stream, buffer, *parser, [this, s](beast::error_code ec2, std::size_t) {
        if (ec2) return fail("read from " + endpoints.now() + ": " + ec2.message(), fault_of(ec2));
        const auto length = parser->content_length();
        if (length && *length > limits::kEtcdMaxAnswer) return too_large();
        read_body();
      });
    });
  }

  void read_body() {
    if (parser->is_done()) return answered();
    http::async_read_some(*stream, buffer, *parser, [this, s = stream](beast::error_code ec, std::size_t) {
      if (ec) return fail("read from " + endpoints.now() + ": " + ec.message(), fault_of(ec));
      if (parser->get().body().size() > limits::kEtcdMaxAnswer) return too_large();
      read_body();
    });
  }

  void too_large() {
    fail("an answer from " + endpoints.now() + " over " + std::to_string(limits::kEtcdMaxAnswer) + " bytes",
         etcd::Fault::kTooLarge);
  }

  void answered() {
    const auto& res = parser->get();
    if (!res.keep_alive()) close();
    etcd::Fault why{};
    std::string error;
    auto parsed = etcd::parse_answer(res.result_int(), res.body(), why, error);
    auto& p = queue.front();
    if (authenticates(p)) {
      token = parsed ? etcd::text(*parsed, "token") : std::string();
      if (!token.empty()) return finish(&*parsed, "");
      faults.add(etcd::Fault::kAuth);  // the password is never part of the error
      return finish(nullptr, "etcd refused user '" + security.user + "': " + (parsed ? "no token in its answer" : error));
    }
    if (!parsed && !security.user.empty() && etcd::token_refused(res.body())) {
      faults.add(etcd::Fault::kAuth);
      token.clear();
      if (!p.retried) {
        // Expired: a new token (pump asks for it first), and the request once more.
        p.retried = true;
        busy = false;
        return pump();
      }
      return finish(nullptr, error);
    }
    if (!parsed) {
      faults.add(why);
      return finish(nullptr, error);
    }
    finish(&*parsed, "");
  }

  static etcd::Fault fault_of(const beast::error_code& ec) {
    if (ec == beast::error::timeout) return etcd::Fault::kDeadline;
    if (ec == http::error::body_limit || ec == http::error::header_limit || ec == http::error::buffer_overflow)
      return etcd::Fault::kTooLarge;
    return etcd::Fault::kTransport;
  }

  void close() {
    if (stream) stream->close();
    connected = false;
    buffer.clear();
  }

  // The connection is unusable: the next request tries the next endpoint.
  void fail(const std::string& why, etcd::Fault fault) {
    faults.add(fault);
    close();
    parser.reset();  // what a refused answer had buffered goes now, not at the next request
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

EtcdClient::EtcdClient(asio::io_context& io, std::vector<std::string> endpoints, std::chrono::milliseconds timeout,
                       const etcd::Security& security)
    : impl_(std::make_unique<Impl>(io, std::move(endpoints), timeout, security)) {
  if (impl_->endpoints.list.empty()) throw std::invalid_argument("etcd: no endpoints");
}

const std::string& EtcdClient::endpoint() const { return impl_->endpoints.now(); }

const etcd::Faults& EtcdClient::faults() const { return impl_->faults; }

EtcdClient::~EtcdClient() = default;

void EtcdClient::token(bool fresh, TokenDone done) {
  auto& i = *impl_;
  if (fresh) i.token.clear();
  if (!i.token.empty()) return done(i.token, "");
  i.queue.push_back(i.authenticate([&i, done](const json* r, const std::string& error) {
    done(r ? i.token : std::string(), error);
  }));
  i.pump();
}

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

}  // namespace tund::daemon
