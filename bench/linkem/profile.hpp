// The text form of a link's parameters, shared by profile files and the
// control socket: words "key=value" applied to one direction's Params.
//
//   rate=20mbit | 800kbit | 0          (0: no limit)
//   trace=FILE | none                  (mahimahi trace, relative to the profile)
//   trace_start=38s                    (start the trace there, not at its beginning)
//   delay=4ms  jitter=2ms              (us, ms or s; a bare number is ms)
//   loss=30% | 0.3   reorder=1%
//   ge=P,R[,BAD[,GOOD]]                (Gilbert-Elliott: good->bad, bad->good,
//                                       loss in bad (default 100%), in good (0))
//   queue=150kB | 250KB | 1MiB | 9000  (droptail, bytes; k=1000, Ki=1024)
//   outage=200ms/15s | 0               (drop everything for 200 ms every 15 s)
//
// A profile file holds lines "up|down|both WORD..." (up: from side A, the
// client's, to side B); '#' starts a comment. A profile replaces every
// parameter of both directions (unset ones take their defaults).
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "model.hpp"

namespace linkem {

struct TextError {
  std::size_t column = 0;  // 1-based, within the text given
  std::string reason;
};

// Applies the words of `text` to `params` (trace files relative to `base`).
// On error `params` may be partly changed: callers apply to a copy.
std::optional<TextError> apply_words(std::string_view text, const std::filesystem::path& base,
                                     Params& params);

enum class Which { up, down, both };
// "up", "down" or "both" at the start of `text`; the rest after it in `rest`.
std::optional<Which> parse_which(std::string_view text, std::string_view& rest);

struct Profile {
  Params up, down;
};
// Reads a profile file; on error, `error` says "FILE:LINE:COLUMN: reason".
std::optional<Profile> load_profile(const std::filesystem::path& file, std::string& error);

// Reads a mahimahi trace; on error, `error` says "FILE:LINE: reason".
std::shared_ptr<const Trace> load_trace(const std::filesystem::path& file, std::string& error);

}  // namespace linkem
