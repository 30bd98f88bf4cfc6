#include "daemon/log.hpp"

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <mutex>
#include <string>

namespace tund::log {

namespace {
bool g_verbose = false;
std::mutex g_mutex;

bool under_journal() {
  static const bool v = std::getenv("JOURNAL_STREAM") != nullptr;
  return v;
}

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
}  // namespace

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

void RateLimited::write(Level level, const std::string& message) {
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
    log::write(level, message + " (" + std::to_string(suppressed_) + " similar messages suppressed before this one)");
    suppressed_ = 0;
  } else {
    log::write(level, message);
  }
}

}  // namespace tund::log
