// Logging to stderr. When stderr is the journal (systemd's $JOURNAL_STREAM
// names it, see under_journal) lines carry a syslog priority prefix ("<3>")
// and no timestamp, since journald adds both; on a terminal or in a file they
// carry a local timestamp and the level in words.
//
// Events (log::event) are the lines an operator searches for: an uplink
// switch, a session connected or lost. In the journal they are structured
// entries (sd_journal_send) with a MESSAGE_ID per kind and TUND_* fields:
//   journalctl -u tund@main MESSAGE_ID=<kUplinkSwitch's id below>
//   journalctl TUND_HUB=main TUND_UPLINK_TO=lte0
// Anywhere else they are the same line as write() prints.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <initializer_list>
#include <string>
#include <string_view>

namespace tund::log {

enum class Level { kError = 3, kWarning = 4, kNotice = 5, kInfo = 6, kDebug = 7 };

void set_verbose(bool verbose);
void write(Level level, std::string_view message);

inline void error(std::string_view m) { write(Level::kError, m); }
inline void warning(std::string_view m) { write(Level::kWarning, m); }
inline void notice(std::string_view m) { write(Level::kNotice, m); }
inline void info(std::string_view m) { write(Level::kInfo, m); }
inline void debug(std::string_view m) { write(Level::kDebug, m); }

// A kind of event: its MESSAGE_ID, 128 bits as 32 hex digits (made once with
// `systemd-id128 new`, never changed: searches and alerts name them).
struct Event {
  std::string_view message_id;  // empty: a plain line
};
inline constexpr Event kUplinkSwitch{"b3cba8c97ee249b2be6eb8fd77440ef8"};          // client: a session's uplink moved
inline constexpr Event kSessionConnected{"9bebad64ebfb474da5c270fdc34f6de3"};      // client: a hub answered the handshake
inline constexpr Event kSessionLost{"6b7932b2d25c43ff8573de142e7bb40e"};           // client: a hub fell silent
inline constexpr Event kClientSessionStarted{"6dba318e4d294f12bfaa27113bbed5ee"};  // hub: a client's session began
inline constexpr Event kClientSessionEnded{"05e214b175e343bbbef8b123b9d67bae"};    // hub: a client's session ended
// A journal field: NAME is upper-case letters, digits and '_' (journald's
// rule), TUND_ first; values are single lines.
struct Field {
  std::string_view name;
  std::string_view value;
};
using Fields = std::initializer_list<Field>;
void event(Event kind, Level level, std::string_view message, Fields fields);

// systemd.exec(5): stderr is the journal's stream when $JOURNAL_STREAM,
// "DEVICE:INODE", names the file stderr is (an inherited variable with stderr
// redirected elsewhere does not count). Read once.
bool under_journal();
bool journal_stream_is(std::string_view journal_stream, dev_t device, ino_t inode);

// For messages the network can trigger at its own pace (handovers of a
// flapping link, re-handshakes): at most `burst` lines per `window` pass; the
// rest are counted and the count is reported with the next line that passes.
class RateLimited {
 public:
  RateLimited(unsigned burst, std::chrono::steady_clock::duration window) : burst_(burst), window_(window) {}
  void write(Level level, const std::string& message) { event({}, level, message, {}); }
  void event(Event kind, Level level, const std::string& message, Fields fields);

 private:
  unsigned burst_;
  std::chrono::steady_clock::duration window_;
  std::chrono::steady_clock::time_point window_start_{};
  unsigned sent_ = 0;
  unsigned suppressed_ = 0;
};

}  // namespace tund::log
