#include "daemon/etcd_parse.hpp"

#include "daemon/etcd.hpp"
#include "tund/limits.hpp"

namespace tund::daemon::etcd {

using nlohmann::json;

const char* fault_name(Fault f) {
  switch (f) {
    case Fault::kTransport: return "transport";
    case Fault::kDeadline: return "deadline";
    case Fault::kTooLarge: return "too_large";
    case Fault::kTooDeep: return "too_deep";
    case Fault::kNotJson: return "not_json";
    case Fault::kStatus: return "http_status";
    case Fault::kNotChunked: return "not_chunked";
    case Fault::kEtcdError: return "etcd_error";
    case Fault::kCanceled: return "watch_canceled";
    case Fault::kBadEvent: return "bad_event";
    case Fault::kWatchIdle: return "watch_idle";
    case Fault::kTls: return "tls";
    case Fault::kAuth: return "auth";
    case Fault::kCount: break;
  }
  return "unknown";
}

bool depth_within(std::string_view text, std::size_t max_depth) {
  std::size_t depth = 0;
  bool in_string = false, escaped = false;
  for (const char c : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > max_depth) return false;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;  // an unmatched one: the parser refuses the text anyway
    }
  }
  return true;
}

std::optional<json> parse_json(std::string_view text, Fault& why) {
  // Before parsing, not after: a deep document parses (nlohmann's parser
  // keeps its own stack) but anything that walks it recursively, dump()
  // above all, overflows the thread's stack.
  if (!depth_within(text, limits::kEtcdMaxDepth)) {
    why = Fault::kTooDeep;
    return std::nullopt;
  }
  auto parsed = json::parse(text.begin(), text.end(), nullptr, false);
  if (parsed.is_discarded()) {
    why = Fault::kNotJson;
    return std::nullopt;
  }
  return parsed;
}

std::string excerpt(std::string_view raw) {
  std::string out(raw.substr(0, limits::kEtcdLogExcerpt));
  for (char& c : out)
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) c = '?';
  if (raw.size() > limits::kEtcdLogExcerpt) out += "...";
  return out;
}

std::optional<json> parse_answer(unsigned status, std::string_view body, Fault& why, std::string& error) {
  if (status != 200) {
    why = Fault::kStatus;
    error = "etcd " + std::to_string(status) + ": " + excerpt(body);
    return std::nullopt;
  }
  auto parsed = parse_json(body, why);
  if (!parsed) error = std::string("etcd's answer: ") + fault_name(why) + ": " + excerpt(body);
  return parsed;
}

bool token_refused(std::string_view text) {
  // etcd's ErrInvalidAuthToken and ErrAuthOldRevision, as its gateway words them.
  return text.find("etcdserver: invalid auth token") != std::string_view::npos ||
         text.find("etcdserver: revision of auth store is old") != std::string_view::npos;
}

WatchStream::Step WatchStream::feed(std::string_view bytes) {
  Step step;
  while (!bytes.empty()) {
    const auto nl = bytes.find('\n');
    const auto piece = bytes.substr(0, nl);
    if (line_.size() + piece.size() > limits::kEtcdMaxLine) {
      // Not cut and parsed: a cut line is never valid JSON, and a line this
      // long is not an answer to our watch.
      line_.clear();
      step.end = Fault::kTooLarge;
      step.error = "watch: a line over " + std::to_string(limits::kEtcdMaxLine) + " bytes";
      return step;
    }
    line_.append(piece);
    if (nl == std::string_view::npos) break;
    bytes.remove_prefix(nl + 1);
    const std::string text = std::move(line_);
    line_.clear();
    if (!text.empty() && !on_line(text, step)) return step;
  }
  return step;
}

bool WatchStream::on_line(std::string_view line, Step& step) {
  Fault why{};
  const auto j = parse_json(line, why);
  if (!j) {
    step.end = why;
    step.error = std::string("watch: a line that is ") + (why == Fault::kTooDeep ? "nested too deep" : "not JSON") +
                 ": " + excerpt(line);
    return false;
  }
  if (!field(*j, "error").is_null()) {
    step.end = Fault::kEtcdError;
    step.error = "watch: etcd says: " + excerpt(line);  // the raw text: never dump() what came in
    return false;
  }
  const auto& r = field(*j, "result");
  if (flag(r, "canceled")) {
    step.end = Fault::kCanceled;
    // A reason when etcd refused the watch itself (auth, permission); none
    // when it was compacted away.
    const auto reason = text(r, "cancel_reason");
    step.error = reason.empty() ? "watch canceled (compacted at " + std::to_string(integer(r, "compact_revision")) + ")"
                                : "watch canceled: " + excerpt(reason);
    return false;
  }
  const auto& events = field(r, "events");
  if (!events.is_array() || events.empty()) {
    // A progress notification (or the "created" answer): every event up to
    // the header's revision has been sent.
    // (A watch from a past revision is created before it catches up: its
    // "created" revision says nothing about what was sent.)
    if (!flag(r, "created") || from_now_) seen_ = std::max(seen_, integer(field(r, "header"), "revision"));
    return true;
  }
  for (const auto& e : events) {
    const auto& kv = field(e, "kv");
    auto key = unbase64(text(kv, "key"));
    auto value = unbase64(text(kv, "value"));
    if (!key || !value) {
      ++step.bad_events;  // counted and skipped; the rest of the line still counts
      continue;
    }
    const std::int64_t revision = integer(kv, "mod_revision");
    seen_ = std::max(seen_, revision);
    step.events.push_back({std::move(*key), std::move(*value), text(e, "type") == "DELETE", revision});
  }
  return true;
}

}  // namespace tund::daemon::etcd
