#include "daemon/log.hpp"

#include <errno.h>  // program_invocation_short_name
#include <sys/stat.h>
#include <sys/uio.h>
// No CODE_FILE/CODE_LINE: they would name this file for every entry.
#define SD_JOURNAL_SUPPRESS_LOCATION
#include <systemd/sd-journal.h>
#include <unistd.h>

#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <mutex>
#include <string>
#include <vector>

namespace tund::log {

namespace {
bool g_verbose = false;
std::mutex g_mutex;

const char* level_name(Level l) {
  switch (l) {
    case Level::kError: return "error";
    case Level::kWarning: return "warning";
    case Level::kNotice: return "notice";
    case Level::kInfo: return "info";
    case Level::kDebug: return "debug";
  }
  return "?";
}

// One structured entry; false when journald did not take it (the caller then
// writes the plain line, so nothing is lost).
bool journal_send(Event kind, Level level, std::string_view message, Fields fields) {
  std::vector<std::string> parts;
  parts.reserve(4 + fields.size());
  parts.push_back("MESSAGE=" + std::string(message));
  parts.push_back("PRIORITY=" + std::to_string(static_cast<int>(level)));
  parts.push_back("MESSAGE_ID=" + std::string(kind.message_id));
  // As the stderr lines have it (journalctl -t tund).
  parts.push_back(std::string("SYSLOG_IDENTIFIER=") + program_invocation_short_name);
  for (const auto& f : fields) parts.push_back(std::string(f.name) + "=" + std::string(f.value));
  std::vector<iovec> iov;
  iov.reserve(parts.size());
  for (auto& p : parts) iov.push_back({p.data(), p.size()});
  return sd_journal_sendv(iov.data(), static_cast<int>(iov.size())) >= 0;
}
}  // namespace

bool journal_stream_is(std::string_view journal_stream, dev_t device, ino_t inode) {
  const auto colon = journal_stream.find(':');
  if (colon == std::string_view::npos) return false;
  unsigned long long dev = 0, ino = 0;
  const auto parse = [](std::string_view text, unsigned long long& out) {
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
    return ec == std::errc() && end == text.data() + text.size() && !text.empty();
  };
  return parse(journal_stream.substr(0, colon), dev) && parse(journal_stream.substr(colon + 1), ino) &&
         dev == static_cast<unsigned long long>(device) && ino == static_cast<unsigned long long>(inode);
}

bool under_journal() {
  static const bool v = [] {
    const char* stream = std::getenv("JOURNAL_STREAM");
    struct stat st{};
    return stream && ::fstat(STDERR_FILENO, &st) == 0 && journal_stream_is(stream, st.st_dev, st.st_ino);
  }();
  return v;
}

void set_verbose(bool verbose) { g_verbose = verbose; }

void write(Level level, std::string_view message) {
  if (level == Level::kDebug && !g_verbose) return;
  // The prefix is formatted into a fixed buffer: building it from temporary
  // strings trips GCC 12's -Wrestrict false positive at -O3.
  char prefix[48];
  if (under_journal()) {
    std::snprintf(prefix, sizeof prefix, "<%d>", static_cast<int>(level));
  } else {
    char ts[16];
    const std::time_t now = std::time(nullptr);
    std::tm tm{};
    localtime_r(&now, &tm);
    std::strftime(ts, sizeof ts, "%H:%M:%S", &tm);
    std::snprintf(prefix, sizeof prefix, "%s %s: ", ts, level_name(level));
  }
  std::string line;
  line.reserve(sizeof prefix + message.size() + 1);
  line.append(prefix);
  line.append(message);
  line += '\n';
  std::lock_guard lock(g_mutex);
  std::fwrite(line.data(), 1, line.size(), stderr);
}

void event(Event kind, Level level, std::string_view message, Fields fields) {
  if (level == Level::kDebug && !g_verbose) return;
  if (!kind.message_id.empty() && under_journal() && journal_send(kind, level, message, fields)) return;
  write(level, message);
}

void RateLimited::event(Event kind, Level level, const std::string& message, Fields fields) {
  const auto now = std::chrono::steady_clock::now();
  if (now - window_start_ >= window_) {
    window_start_ = now;
    sent_ = 0;
  }
  if (sent_ >= burst_) {
    ++suppressed_;
    return;
  }
  ++sent_;
  if (suppressed_) {
    log::event(kind, level, message + " (" + std::to_string(suppressed_) + " similar messages suppressed before this one)",
               fields);
    suppressed_ = 0;
  } else {
    log::event(kind, level, message, fields);
  }
}

}  // namespace tund::log
