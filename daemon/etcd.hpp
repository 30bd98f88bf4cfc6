// A client of etcd's v3 JSON gateway (etcd 3.4: POST /v3/<service>/<call>,
// HTTP/1.1) with Boost.Beast, asynchronous on the io_context it is given.
// Requests go one at a time, in order, over one kept-alive connection, each
// under a deadline; a failed request closes the connection and the next one
// tries the next endpoint. etcd's JSON mapping: keys and values are standard
// base64, int64 fields arrive as strings, default values are left out (a
// failed txn has no "succeeded"). Every answer is bounded (kEtcdMaxAnswer,
// kEtcdMaxDepth, the deadline) and read by etcd_parse.hpp; each refusal is
// counted by reason (faults()). The watch is in etcd_watch.hpp.
//
// Secured (etcd_security.hpp): over TLS, each new connection's handshake
// under the request's deadline; with a user, a token is asked for before the
// first request (on the same connection, in the queue's order) and sent with
// each; a request whose token etcd refuses (expired) gets a new token and is
// sent once more. A refused password fails the request that waited for it;
// the next one tries again.
#pragma once

#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "daemon/asio.hpp"
#include "daemon/etcd_parse.hpp"
#include "daemon/etcd_security.hpp"

namespace tund::daemon {

namespace etcd {
std::string base64(std::string_view bytes);
std::optional<std::string> unbase64(std::string_view text);
// The range_end that makes a range cover every key starting with `prefix`.
std::string prefix_end(std::string prefix);
// An int64 field as etcd writes it (a string) or as a number; 0 when absent.
std::int64_t integer(const nlohmann::json& object, const char* field);
// Reading an answer without trusting its shape (nlohmann's value() and
// operator[] throw or assert on the wrong type): a field of an object, else
// null; a string field, else ""; a boolean field, else false.
const nlohmann::json& field(const nlohmann::json& object, const char* name);
std::string text(const nlohmann::json& object, const char* name);
bool flag(const nlohmann::json& object, const char* name);
// The kvs of a range answer (or a txn's response_range), decoded; a pair
// that is not base64 text is skipped.
std::vector<std::pair<std::string, std::string>> kvs(const nlohmann::json& range);
// "host:port" -> (host, port); nothing when malformed.
std::optional<std::pair<std::string, std::string>> split_endpoint(const std::string& endpoint);
}  // namespace etcd

class EtcdClient {
 public:
  // `result` is the parsed reply (null on failure, then `error` says why).
  using Reply = std::function<void(const nlohmann::json* result, const std::string& error)>;
  // Throws std::runtime_error when security's TLS files do not load.
  EtcdClient(asio::io_context& io, std::vector<std::string> endpoints, std::chrono::milliseconds timeout,
             const etcd::Security& security = {});
  ~EtcdClient();
  EtcdClient(const EtcdClient&) = delete;
  EtcdClient& operator=(const EtcdClient&) = delete;

  // POST /v3/<path> with `body`; `done` runs on the io_context.
  void call(std::string path, nlohmann::json body, Reply done);
  // The same, waiting: runs the io_context until the reply (only while
  // nothing else runs it). Returns the reply, or nothing with `error` set.
  std::optional<nlohmann::json> call_now(std::string path, nlohmann::json body, std::string& error);
  // etcd's auth token, for a connection of another's (the watch's): the one
  // held, else (or when `fresh`) a new one, asked for in the queue's order.
  // `done` gets it, or "" and the error; at once when one is held.
  using TokenDone = std::function<void(const std::string& token, const std::string& error)>;
  void token(bool fresh, TokenDone done);
  const std::string& endpoint() const;  // the one the next request goes to
  const etcd::Faults& faults() const;    // failed requests and refused answers, by reason

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tund::daemon
