// A watch on etcd's v3 JSON gateway (POST /v3/watch): etcd streams one JSON
// object per line, in HTTP chunks, for as long as the connection lives. It
// has a connection of its own (daemon/etcd.hpp's client is request/answer).
//
// Bounded like every etcd answer: the answer's header within kEtcdTimeout,
// a chunked stream or nothing (a plain body would be buffered whole), lines
// of at most kEtcdMaxLine and kEtcdMaxDepth (etcd_parse.hpp). It asks for
// progress notifications; silent for its idle timeout, it is re-established
// on the next endpoint from the last revision it saw, by itself.
//
// Secured as the client is (etcd_security.hpp): TLS on its connection; with a
// user, a token from a client of its own (etcd.hpp's token()), used by every
// connection until etcd refuses it (a watch canceled for an invalid token):
// then a new one, and the watch again, once.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "daemon/asio.hpp"
#include "daemon/etcd_parse.hpp"
#include "daemon/etcd_security.hpp"
#include "tund/limits.hpp"

namespace tund::daemon {

class EtcdWatch {
 public:
  // Each event: (key, value, deleted, revision). `on_end` when the stream
  // ends (error text); call start() again to resume.
  using OnEvent = std::function<void(const std::string& key, const std::string& value, bool deleted, std::int64_t revision)>;
  using OnEnd = std::function<void(const std::string& error)>;
  // Throws std::runtime_error when security's TLS files do not load.
  EtcdWatch(asio::io_context& io, std::vector<std::string> endpoints, OnEvent on_event, OnEnd on_end,
            std::chrono::milliseconds idle = limits::kEtcdWatchIdle, const etcd::Security& security = {});
  ~EtcdWatch();
  EtcdWatch(const EtcdWatch&) = delete;
  EtcdWatch& operator=(const EtcdWatch&) = delete;

  // Watches every key under `prefix` from `start_revision` (0: from now).
  void start(const std::string& prefix, std::int64_t start_revision);
  void stop();
  // Every event up to this revision has been delivered (0: none known).
  std::int64_t seen_revision() const;
  // Why watches ended or were re-established, and events skipped, by reason
  // (with the failures of asking for its tokens).
  etcd::Faults faults() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tund::daemon
