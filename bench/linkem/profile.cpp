#include "profile.hpp"

#include <charconv>
#include <fstream>

namespace linkem {

namespace {

struct Unit {
  std::string_view suffix;
  double factor;
};

// A non-negative number followed by one of `units` (the first, usually "",
// is the default). Returns nullopt on anything else.
std::optional<double> number_with_unit(std::string_view v, std::initializer_list<Unit> units) {
  double x = 0;
  const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), x);
  if (ec != std::errc{} || x < 0 || x != x) return std::nullopt;
  const std::string_view suffix(end, std::size_t(v.data() + v.size() - end));
  for (const Unit& u : units)
    if (suffix == u.suffix) return x * u.factor;
  return std::nullopt;
}

std::optional<Time> duration(std::string_view v) {
  const auto ns = number_with_unit(v, {{"", 1e6}, {"ms", 1e6}, {"us", 1e3}, {"s", 1e9}});
  if (!ns || *ns > 1e13) return std::nullopt;  // over ~3 hours: a typo
  return Time(std::int64_t(*ns));
}

std::optional<double> fraction(std::string_view v) {
  const auto f = number_with_unit(v, {{"", 1}, {"%", 0.01}});
  if (!f || *f > 1) return std::nullopt;
  return f;
}

std::optional<TextError> apply_one(std::string_view key, std::string_view value,
                                   const std::filesystem::path& base, Params& p) {
  auto bad = [&](std::string what) {
    return TextError{0, std::string(key) + ": " + what + ", got \"" + std::string(value) + "\""};
  };
  if (key == "rate") {
    const auto bps = number_with_unit(value, {{"", 1}, {"bit", 1}, {"kbit", 1e3}, {"mbit", 1e6}, {"gbit", 1e9}});
    if (!bps) return bad("expected a rate such as 20mbit, 800kbit or 0");
    p.rate_bps = std::uint64_t(*bps);
    p.trace.reset();
  } else if (key == "trace") {
    if (value == "none") {
      p.trace.reset();
    } else {
      std::string error;
      auto trace = load_trace(base / std::string(value), error);
      if (!trace) return TextError{0, error};
      p.trace = std::move(trace);
    }
  } else if (key == "trace_start") {
    const auto d = duration(value);
    if (!d) return bad("expected a duration such as 38s");
    p.trace_start = *d;
  } else if (key == "delay" || key == "jitter") {
    const auto d = duration(value);
    if (!d) return bad("expected a duration such as 4ms, 500us or 1s");
    (key == "delay" ? p.delay : p.jitter) = *d;
  } else if (key == "loss" || key == "reorder") {
    const auto f = fraction(value);
    if (!f) return bad("expected a fraction such as 30% or 0.3");
    (key == "loss" ? p.loss : p.reorder) = *f;
  } else if (key == "ge") {
    double* fields[] = {&p.ge_p, &p.ge_r, &p.ge_loss_bad, &p.ge_loss_good};
    p.ge_loss_bad = 1;
    p.ge_loss_good = 0;
    std::size_t i = 0;
    for (std::string_view rest = value; !rest.empty() || i == 0; ++i) {
      const std::size_t comma = rest.find(',');
      const auto f = i < 4 ? fraction(rest.substr(0, comma)) : std::nullopt;
      if (!f) return bad("expected P,R[,BAD[,GOOD]], each a fraction");
      *fields[i] = *f;
      rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
    }
    if (i < 2) return bad("expected at least P,R");
  } else if (key == "queue") {
    const auto b = number_with_unit(value, {{"", 1}, {"B", 1}, {"kB", 1e3}, {"KB", 1e3}, {"KiB", 1024},
                                           {"MB", 1e6}, {"MiB", 1048576}});
    if (!b || *b < 1500 || *b > 1e9) return bad("expected a size from 1500 bytes to 1GB, such as 150kB");
    p.queue_bytes = std::size_t(*b);
  } else if (key == "outage") {
    if (value == "0") {
      p.outage_every = p.outage_for = Time{0};
    } else {
      const std::size_t slash = value.find('/');
      const auto lasting = duration(value.substr(0, slash));
      const auto every = slash == std::string_view::npos ? std::nullopt : duration(value.substr(slash + 1));
      if (!lasting || !every || *lasting >= *every) return bad("expected DURATION/PERIOD such as 200ms/15s");
      p.outage_for = *lasting;
      p.outage_every = *every;
    }
  } else {
    return TextError{0, "unknown key \"" + std::string(key) +
                            "\" (rate, trace, trace_start, delay, jitter, loss, reorder, ge, queue, outage)"};
  }
  return std::nullopt;
}

}  // namespace

std::optional<TextError> apply_words(std::string_view text, const std::filesystem::path& base, Params& params) {
  std::size_t i = 0;
  while (i < text.size()) {
    if (text[i] == ' ' || text[i] == '\t') {
      ++i;
      continue;
    }
    const std::size_t start = i;
    while (i < text.size() && text[i] != ' ' && text[i] != '\t') ++i;
    const std::string_view word = text.substr(start, i - start);
    const std::size_t eq = word.find('=');
    if (eq == std::string_view::npos || eq == 0)
      return TextError{start + 1, "expected key=value, got \"" + std::string(word) + "\""};
    if (auto e = apply_one(word.substr(0, eq), word.substr(eq + 1), base, params)) {
      e->column = start + 1;
      return e;
    }
  }
  return std::nullopt;
}

std::optional<Which> parse_which(std::string_view text, std::string_view& rest) {
  const std::size_t space = text.find_first_of(" \t");
  const std::string_view word = text.substr(0, space);
  rest = space == std::string_view::npos ? std::string_view{} : text.substr(space);
  if (word == "up") return Which::up;
  if (word == "down") return Which::down;
  if (word == "both") return Which::both;
  return std::nullopt;
}

std::optional<Profile> load_profile(const std::filesystem::path& file, std::string& error) {
  std::ifstream in(file);
  if (!in) {
    error = file.string() + ": cannot be read";
    return std::nullopt;
  }
  Profile profile;
  std::string line;
  for (std::size_t number = 1; std::getline(in, line); ++number) {
    const std::string_view text = std::string_view(line).substr(0, line.find('#'));
    const std::size_t first = text.find_first_not_of(" \t");
    if (first == std::string_view::npos) continue;
    auto fail = [&](std::size_t column, const std::string& reason) {
      error = file.string() + ":" + std::to_string(number) + ":" + std::to_string(column) + ": " + reason;
      return std::nullopt;
    };
    std::string_view rest;
    const auto which = parse_which(text.substr(first), rest);
    if (!which) return fail(first + 1, "a line starts with up, down or both");
    const std::size_t offset = std::size_t(rest.data() - text.data());
    for (Params* p : {&profile.up, &profile.down}) {
      if ((*which == Which::up && p != &profile.up) || (*which == Which::down && p != &profile.down)) continue;
      if (auto e = apply_words(rest, file.parent_path(), *p)) return fail(offset + e->column, e->reason);
    }
  }
  return profile;
}

std::shared_ptr<const Trace> load_trace(const std::filesystem::path& file, std::string& error) {
  std::ifstream in(file);
  if (!in) {
    error = file.string() + ": cannot be read";
    return nullptr;
  }
  auto trace = std::make_shared<Trace>();
  std::string line;
  for (std::size_t number = 1; std::getline(in, line); ++number) {
    if (line.empty()) continue;
    std::uint32_t ms = 0;
    const auto [end, ec] = std::from_chars(line.data(), line.data() + line.size(), ms);
    if (ec != std::errc{} || end != line.data() + line.size() ||
        (!trace->ms.empty() && ms < trace->ms.back())) {
      error = file.string() + ":" + std::to_string(number) + ": expected a millisecond count, not less than the line before";
      return nullptr;
    }
    trace->ms.push_back(ms);
  }
  if (trace->ms.empty() || trace->ms.back() == 0) {
    error = file.string() + ": a trace needs at least one line and a last value above 0";
    return nullptr;
  }
  trace->period_ms = trace->ms.back();
  return trace;
}

}  // namespace linkem
