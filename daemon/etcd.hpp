// A client of etcd's v3 JSON gateway (etcd 3.4: POST /v3/<service>/<call>,
// HTTP/1.1) with Boost.Beast, asynchronous on the io_context it is given.
// Requests go one at a time, in order, over one kept-alive connection, each
// under a deadline; a failed request closes the connection and the next one
// tries the next endpoint. etcd's JSON mapping: keys and values are standard
// base64, int64 fields arrive as strings, default values are left out (a
// failed txn has no "succeeded").
//
// Watch streams one JSON object per line for as long as the connection
// lives; it has a connection of its own.
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
  EtcdClient(asio::io_context& io, std::vector<std::string> endpoints, std::chrono::milliseconds timeout);
  ~EtcdClient();
  EtcdClient(const EtcdClient&) = delete;
  EtcdClient& operator=(const EtcdClient&) = delete;

  // POST /v3/<path> with `body`; `done` runs on the io_context.
  void call(std::string path, nlohmann::json body, Reply done);
  // The same, waiting: runs the io_context until the reply (only while
  // nothing else runs it). Returns the reply, or nothing with `error` set.
  std::optional<nlohmann::json> call_now(std::string path, nlohmann::json body, std::string& error);
  const std::string& endpoint() const;  // the one the next request goes to

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

class EtcdWatch {
 public:
  // Each event: (key, value, deleted, revision). `on_end` when the stream
  // ends (error text); call start() again to resume.
  using OnEvent = std::function<void(const std::string& key, const std::string& value, bool deleted, std::int64_t revision)>;
  using OnEnd = std::function<void(const std::string& error)>;
  EtcdWatch(asio::io_context& io, std::vector<std::string> endpoints, OnEvent on_event, OnEnd on_end);
  ~EtcdWatch();
  EtcdWatch(const EtcdWatch&) = delete;
  EtcdWatch& operator=(const EtcdWatch&) = delete;

  // Watches every key under `prefix` from `start_revision` (0: from now).
  void start(const std::string& prefix, std::int64_t start_revision);
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tund::daemon
