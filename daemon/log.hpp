// Logging to stderr. Under systemd (JOURNAL_STREAM set) lines carry a syslog
// priority prefix ("<3>") and no timestamp, since journald adds both; on a
// terminal they carry a local timestamp and the level in words.
#pragma once

#include <chrono>
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

// For messages the network can trigger at its own pace (handovers of a
// flapping link, re-handshakes): at most `burst` lines per `window` pass; the
// rest are counted and the count is reported with the next line that passes.
class RateLimited {
 public:
  RateLimited(unsigned burst, std::chrono::steady_clock::duration window) : burst_(burst), window_(window) {}
  void write(Level level, const std::string& message);

 private:
  unsigned burst_;
  std::chrono::steady_clock::duration window_;
  std::chrono::steady_clock::time_point window_start_{};
  unsigned sent_ = 0;
  unsigned suppressed_ = 0;
};

}  // namespace tund::log
