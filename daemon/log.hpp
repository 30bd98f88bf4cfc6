// Logging to stderr. Under systemd (JOURNAL_STREAM set) lines carry a syslog
// priority prefix ("<3>") and no timestamp, since journald adds both; on a
// terminal they carry a local timestamp and the level in words.
#pragma once

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

}  // namespace tund::log
