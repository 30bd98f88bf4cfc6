#include "session/reorder_buffer.hpp"

#include <algorithm>
#include <cstring>

namespace tund::session {

namespace {
constexpr std::size_t kBuffersBytes =
    limits::kReorderPackets * (limits::kReorderSlotBytes + 2 * sizeof(std::uint16_t)) +
    limits::kReorderSpan * sizeof(std::uint16_t);
// What arrivals_ may hold, released entries behind a waiting one included.
constexpr std::size_t kArrivalsMax = 2 * limits::kReorderPackets;
}  // namespace

void ReorderBuffer::reset() {
  watermark_ = 0;
  next_due_ = 1;
  seen_.fill(0);
  std::fill(slot_of_.begin(), slot_of_.end(), 0);
  free_.clear();
  for (std::size_t i = lengths_.size(); i-- > 0;) free_.push_back(static_cast<std::uint16_t>(i));
  while (!arrivals_.empty()) arrivals_.pop_front();
  waiting_ = 0;
  for (std::size_t i = 0; i < paths_n_; ++i) paths_[i].highest = 0;
  unlisted_at_ = Time::min();
  passed_from_ = passed_to_ = 0;
}

void ReorderBuffer::set_seen(std::uint64_t seq, bool on) {
  std::uint64_t& word = seen_[(seq / 64) % kWords];
  const std::uint64_t bit = std::uint64_t{1} << (seq % 64);
  word = on ? (word | bit) : (word & ~bit);
}

void ReorderBuffer::advance() {
  while (seen(watermark_ + 1)) {
    set_seen(watermark_ + 1, false);
    ++watermark_;
  }
}

void ReorderBuffer::give_up_to(std::uint64_t seq) {
  if (seq <= watermark_) return;
  if (seq - watermark_ >= limits::kReorderSpan) {
    seen_.fill(0);  // every tracked sequence is at or below `seq`
    watermark_ = seq;
  } else {
    while (watermark_ < seq) set_seen(++watermark_, false);
  }
  advance();
}

void ReorderBuffer::roll(Time now) {
  if (skew_at_ != Time::min() && now - skew_at_ < limits::kReorderSkewWindow) return;
  // A new window; the last one is kept, an older one forgotten.
  skew_[1] = skew_at_ != Time::min() && now - skew_at_ < 2 * limits::kReorderSkewWindow ? skew_[0] : Duration{0};
  skew_[0] = Duration{0};
  skew_at_ = now;
}

void ReorderBuffer::arrived(std::uint64_t seq, Time now, std::uint64_t path) {
  roll(now);
  if (!seq) return;
  if (seq <= watermark_) {
    // New (the stream drops duplicates) and below the watermark: its gap
    // was given up on. By the wait: it came at least the wait then after
    // the packet that waited for it, and how long after the give-up
    // besides. By the path rule: its path delivered out of order.
    give_up_passed(seq, now, path);
    ++counters_.late;
    if (seq > passed_from_ && seq <= passed_to_)
      ++counters_.passed_late;
    else if (gave_up_at_ != Time::min())
      skew_[0] = std::max(skew_[0], gave_up_wait_ + (now - gave_up_at_));
    return;
  }
  const std::uint64_t was = watermark_;
  // Beyond the span: what is further back than the span is given up (a
  // peer's jump ahead moves the watermark once, never a loop over the jump).
  if (seq - watermark_ > limits::kReorderSpan) give_up_to(seq - limits::kReorderSpan);
  set_seen(seq, true);
  advance();
  // A gap filled while packets waited: how much later than the first of
  // them this one came.
  if (waiting_ && watermark_ > was)
    for (std::size_t i = 0; i < arrivals_.size(); ++i)
      if (arrivals_[i].seq > was) {
        if (arrivals_[i].seq <= watermark_) skew_[0] = std::max(skew_[0], now - arrivals_[i].at);
        break;
      }
  give_up_passed(seq, now, path);
}

void ReorderBuffer::set_paths(std::span<const std::uint64_t> paths) {
  std::array<PathMark, limits::kReorderPaths> next{};
  std::size_t n = 0;
  if (paths.size() >= 2 && paths.size() <= next.size())
    for (const std::uint64_t path : paths) {
      next[n] = {path, 0};
      for (std::size_t i = 0; i < paths_n_; ++i)
        if (paths_[i].path == path) next[n] = paths_[i];  // what it delivered still holds
      ++n;
    }
  paths_ = next;
  paths_n_ = n;
}

void ReorderBuffer::give_up_passed(std::uint64_t seq, Time now, std::uint64_t path) {
  if (!paths_n_) return;
  PathMark* mark = nullptr;
  for (std::size_t i = 0; i < paths_n_; ++i)
    if (paths_[i].path == path) mark = &paths_[i];
  if (!mark) {
    // Data on a path the session does not know it spreads over: what else
    // it carries is unseen, so the rule rests a while.
    unlisted_at_ = now;
    return;
  }
  mark->highest = std::max(mark->highest, seq);
  if (unlisted_at_ != Time::min() && now - unlisted_at_ < limits::kReorderPathRest) return;
  std::uint64_t passed = mark->highest;
  for (std::size_t i = 0; i < paths_n_; ++i) passed = std::min(passed, paths_[i].highest);
  // Below `passed` nothing is on its way: what is missing there is lost.
  if (passed <= watermark_ + 1) return;
  ++counters_.gaps_passed;
  passed_from_ = watermark_;
  passed_to_ = passed - 1;
  give_up_to(passed - 1);
}

bool ReorderBuffer::allocate(Time now) {
  if (!account_.allows(kBuffersBytes)) return false;
  last_hold_ = now;  // the idle clock starts with the memory, even if this packet is refused
  storage_.assign(limits::kReorderPackets * limits::kReorderSlotBytes, 0);
  lengths_.assign(limits::kReorderPackets, 0);
  slot_of_.assign(limits::kReorderSpan, 0);
  free_.clear();
  free_.reserve(limits::kReorderPackets);
  for (std::size_t i = limits::kReorderPackets; i-- > 0;) free_.push_back(static_cast<std::uint16_t>(i));
  account_.more(kBuffersBytes);
  return true;
}

bool ReorderBuffer::hold(std::uint64_t seq, Bytes inner, Time now) {
  // Nothing earlier is missing, and nothing earlier waits to be released
  // (a gap given up as this one came leaves them due: this one goes after).
  if (seq <= watermark_ && (!waiting_ || seq <= next_due_)) return false;
  // The checks that need no memory come first: a packet refused anyway
  // allocates nothing.
  if (inner.empty() || inner.size() > limits::kReorderSlotBytes || arrivals_.size() >= kArrivalsMax ||
      seq - next_due_ >= limits::kReorderSpan || (storage_.empty() && !allocate(now)) || free_.empty() ||
      slot_of_[seq % limits::kReorderSpan]) {
    // No room, or its place in the span is still taken by a due packet
    // (the watermark jumped a whole span): it goes now, out of order,
    // rather than never.
    ++counters_.unordered;
    return false;
  }
  const std::uint16_t slot = free_.back();
  free_.pop_back();
  std::memcpy(storage_.data() + std::size_t{slot} * limits::kReorderSlotBytes, inner.data(), inner.size());
  lengths_[slot] = static_cast<std::uint16_t>(inner.size());
  slot_of_[seq % limits::kReorderSpan] = static_cast<std::uint16_t>(slot + 1);
  arrivals_.push_back({seq, now});
  ++waiting_;
  ++counters_.held;
  last_hold_ = now;
  return true;
}

void ReorderBuffer::give_up_expired(Time now) {
  while (!arrivals_.empty()) {
    const Arrival a = arrivals_.front();
    if (a.seq > watermark_) {
      if (now - a.at < wait()) return;
      give_up_to(a.seq);
      ++counters_.gaps_given_up;
      gave_up_at_ = now;
      gave_up_wait_ = wait();
    }
    arrivals_.pop_front();
  }
}

Time ReorderBuffer::deadline() const {
  if (!waiting_) return kNever;
  for (std::size_t i = 0; i < arrivals_.size(); ++i)
    if (arrivals_[i].seq > watermark_) return arrivals_[i].at + wait();
  return Time::min();  // everything waiting is due
}

void ReorderBuffer::set_wait(Duration wait) {
  base_wait_ = wait;
}

void ReorderBuffer::expire(Time now) {
  if (waiting_ || storage_.empty() || now - last_hold_ < limits::kReorderIdleAfter) return;
  storage_ = {};
  lengths_ = {};
  slot_of_ = {};
  free_ = {};
  while (!arrivals_.empty()) arrivals_.pop_front();
  arrivals_.shrink(0);
  account_.less(kBuffersBytes);
}

}  // namespace tund::session
