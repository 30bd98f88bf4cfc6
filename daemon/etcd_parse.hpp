// Reading what etcd sends, without sockets and without trusting it (sans-I/O,
// so the fuzzer and the unit tests reach it directly): a bounded JSON parse,
// the failure reasons a client counts, and the watch stream cut into lines
// and events. Nothing here throws, re-serialises untrusted JSON (nlohmann's
// dump() recurses once per nesting level) or keeps more than a limit.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "daemon/reason_counts.hpp"

namespace tund::daemon::etcd {

// Why an answer or a watch was refused or ended; each counted by the client.
enum class Fault : std::uint8_t {
  kTransport,   // resolve, connect, write or read failed (etcd gone, reset)
  kDeadline,    // no (complete) answer within the deadline
  kTooLarge,    // an answer over kEtcdMaxAnswer, or a watch line over kEtcdMaxLine
  kTooDeep,     // JSON nested deeper than kEtcdMaxDepth
  kNotJson,     // not JSON at all
  kStatus,      // an HTTP status other than 200
  kNotChunked,  // a watch answer that is not a chunked stream
  kEtcdError,   // etcd's own {"error": ...} in a watch
  kCanceled,    // the watch was canceled (compaction)
  kBadEvent,    // a watch event whose key or value is not base64
  kWatchIdle,   // a watch silent past its idle timeout (re-established)
  kTls,         // a TLS handshake refused: etcd's certificate untrusted or for another host, or ours refused
  kAuth,        // etcd refused our user's password, or our token (expired: authenticated anew)
  kCount
};
const char* fault_name(Fault f);
using Faults = ReasonCounts<Fault, fault_name>;  // to_json(): {"too_large": 1, ...}, the reasons seen

// Nesting of `text`'s arrays and objects (outside strings) stays within
// `max_depth`: checked by a scan before any parser sees it.
bool depth_within(std::string_view text, std::size_t max_depth);
// `text` parsed, when it is JSON within kEtcdMaxDepth; else nothing and `why`.
std::optional<nlohmann::json> parse_json(std::string_view text, Fault& why);
// At most kEtcdLogExcerpt bytes of raw untrusted text for a log line, with
// control and non-ASCII bytes as '?' (no forged log lines).
std::string excerpt(std::string_view raw);

// One answer to a POST (status and body as read): the parsed JSON, or
// nothing with `why` and `error` set.
std::optional<nlohmann::json> parse_answer(unsigned status, std::string_view body, Fault& why, std::string& error);

// etcd refused the auth token sent (expired, or issued before its users or
// roles changed), in an answer's body or a watch's cancel reason: a new
// token may do.
bool token_refused(std::string_view text);

struct WatchEvent {
  std::string key, value;
  bool deleted = false;
  std::int64_t revision = 0;  // the kv's mod_revision
};

// A watch's body, as it arrives in pieces: one JSON object per line. Feed it
// the bytes; it hands out the events of every complete line, or says the
// watch must end (and why). Holds at most one partial line (kEtcdMaxLine).
class WatchStream {
 public:
  struct Step {
    std::vector<WatchEvent> events;
    std::optional<Fault> end;  // set: the stream must end, for `error`
    std::string error;
    std::size_t bad_events = 0;  // events skipped: key or value not base64
  };
  // Events of the complete lines in `bytes`; stops at the first line that ends the stream.
  Step feed(std::string_view bytes);
  // The revision every event up to which has been seen (events' mod_revision,
  // and progress notifications' header revision): a new watch resumes after it.
  std::int64_t seen_revision() const { return seen_; }
  // A new watch from `seen` + 1 (0: from now; then its "created" answer's
  // revision counts as seen, as the watch sends what comes after it).
  void reset(std::int64_t seen) {
    line_.clear();
    seen_ = seen;
    from_now_ = seen == 0;
  }

 private:
  // One complete line's events into `step`; false when it ends the stream.
  bool on_line(std::string_view text, Step& step);
  std::string line_;
  std::int64_t seen_ = 0;
  bool from_now_ = true;
};

}  // namespace tund::daemon::etcd
