#include "session/resend_buffer.hpp"

#include <algorithm>
#include <cstring>

namespace tund::session {

namespace {
constexpr std::uint64_t kAckBits = wire::control::kAckBitmapBytes * 8;  // 512
}  // namespace

void ResendBuffer::pop_front() {
  Entry& e = entries_.front();
  bytes_ -= e.data.size();
  if (e.resend && !e.acked) --resend_pending_;
  if (!to_pool(e.data)) {
    account_.less(e.data.capacity());
    e.data = Buffer();  // freed now, not when the slot is reused
  }
  entries_.pop_front();
}

bool ResendBuffer::to_pool(Buffer& data) {
  // Kept packets come before pooled buffers: with the shared budget nearly
  // spent (this buffer would not fit it again) it is freed, for whichever
  // session keeps a packet next.
  if (pool_.size() >= limits::kResendPoolMax || !account_.allows(data.capacity())) return false;
  if (pool_.size() == pool_.capacity()) {
    // The pool's own slots grow in steps chosen here, so they are counted
    // and checked like the buffers.
    const std::size_t before = pool_.capacity();
    const std::size_t grown = std::min(limits::kResendPoolMax, std::max<std::size_t>(16, before * 2));
    if (!account_.allows((grown - before) * sizeof(Buffer))) return false;
    pool_.reserve(grown);
    account_.changed(before * sizeof(Buffer), pool_.capacity() * sizeof(Buffer));
  }
  pool_.push_back(std::move(data));
  return true;
}

void ResendBuffer::trim_front() {
  while (!entries_.empty() && entries_.front().acked) pop_front();
}

bool ResendBuffer::remember(std::uint64_t seq, Bytes packet, Time now, std::uint32_t path) {
  if (packet.size() > limits_.max_bytes || limits_.max_packets == 0) return false;
  while (!entries_.empty() &&
         (bytes_ + packet.size() > limits_.max_bytes || entries_.size() >= limits_.max_packets))
    pop_front();
  // What keeping it adds to what is held: the buffer it takes (a pooled one,
  // grown if too small), and the ring's next size when the ring is full.
  const std::size_t pooled = pool_.empty() ? 0 : pool_.back().capacity();
  const std::size_t slots = entries_.size() == entries_.capacity() ? entries_.grown_capacity() - entries_.capacity() : 0;
  if (!account_.allows((packet.size() > pooled ? packet.size() - pooled : 0) + slots * sizeof(Entry))) return false;
  Buffer data;
  if (!pool_.empty()) {
    data = std::move(pool_.back());
    pool_.pop_back();
  }
  const std::size_t before = data.capacity() + entries_.capacity() * sizeof(Entry);
  data.assign(packet.begin(), packet.end());  // reuses the recycled capacity
  bytes_ += data.size();
  const std::size_t after = data.capacity();
  entries_.push_back(Entry{seq, now, false, false, false, false, path, std::move(data)});
  account_.changed(before, after + entries_.capacity() * sizeof(Entry));
  last_kept_ = now;
  return true;
}

bool ResendBuffer::on_ack(const Ack& ack, std::uint64_t next_seq, AckOutcome* outcome) {
  if (ack.highest >= next_seq) return false;  // acknowledges data never sent
  const std::uint64_t floor = ack.highest >= kAckBits ? ack.highest - kAckBits : 0;
  for (std::size_t i = 0; i < entries_.size(); ++i) {
    Entry& e = entries_[i];
    if (e.seq > ack.highest) break;
    if (outcome && e.seq == ack.highest && !e.resent) {
      outcome->highest_sent = e.sent;
      outcome->highest_path = e.path;
    }
    bool have = e.seq == ack.highest || e.seq < floor;
    if (!have) {
      const std::uint64_t bit = ack.highest - 1 - e.seq;
      have = (ack.bitmap[bit / 8] >> (bit % 8)) & 1;
    }
    if (have && !e.acked) {
      e.acked = true;
      if (e.resend) --resend_pending_;
      if (outcome && e.sent >= outcome->since) {
        ++outcome->acked;
        outcome->bytes += e.data.size();
        if (!e.resent && (!outcome->newest_sent || e.sent > *outcome->newest_sent)) outcome->newest_sent = e.sent;
        auto& share = outcome->share_for(e.path);
        ++share.acked;
        share.bytes += e.data.size();
        if (!e.resent && (!share.newest_sent || e.sent > *share.newest_sent)) share.newest_sent = e.sent;
      }
    }
  }
  if (outcome && outcome->newest_sent) {
    for (std::size_t i = 0; i < entries_.size(); ++i) {
      Entry& e = entries_[i];
      if (e.sent + outcome->reorder >= *outcome->newest_sent) break;  // in send order: the rest are newer
      if (e.acked || e.counted_lost || e.sent < outcome->since) continue;
      // Only a newer packet of its own path says it is lost.
      const auto* share = outcome->share(e.path);
      if (!share || !share->newest_sent || e.sent + outcome->reorder >= *share->newest_sent) continue;
      e.counted_lost = true;
      ++outcome->lost;
      auto& lost_share = outcome->share_for(e.path);
      ++lost_share.lost;
      lost_share.lost_bytes += e.data.size();
    }
  }
  trim_front();
  return true;
}

std::size_t ResendBuffer::schedule_resend(std::uint64_t end_seq, Time now) {
  expire(now);
  std::size_t n = 0;
  for (std::size_t i = 0; i < entries_.size(); ++i) {
    Entry& e = entries_[i];
    if (e.seq >= end_seq) break;
    if (!e.acked && !e.resend) {
      e.resend = true;
      ++resend_pending_;
      ++n;
    }
  }
  return n;
}

std::size_t ResendBuffer::schedule_resend_path(std::uint32_t path, Time now) {
  expire(now);
  std::size_t n = 0;
  for (std::size_t i = 0; i < entries_.size(); ++i) {
    Entry& e = entries_[i];
    if (e.path != path || e.acked || e.resend) continue;
    e.resend = true;
    ++resend_pending_;
    ++n;
  }
  return n;
}

std::optional<std::size_t> ResendBuffer::next_resend(MutableBytes out, std::uint64_t& seq, std::uint32_t path) {
  if (!resend_pending_) return std::nullopt;
  for (std::size_t i = 0; i < entries_.size(); ++i) {
    Entry& e = entries_[i];
    if (!e.resend || e.acked) continue;
    e.resend = false;
    e.resent = true;
    --resend_pending_;
    if (e.data.size() > out.size()) continue;
    std::memcpy(out.data(), e.data.data(), e.data.size());
    seq = e.seq;
    if (path) e.path = path;
    ++resent_;
    return e.data.size();
  }
  return std::nullopt;
}

void ResendBuffer::expire(Time now) {
  while (!entries_.empty() && (entries_.front().acked || now - entries_.front().sent > limits_.max_age)) pop_front();
  if (const Time at = idle_release_at(); at != kNever && now >= at) release();
}

Time ResendBuffer::idle_release_at() const {
  const bool above_floor = pool_.capacity() > 0 || entries_.capacity() > limits::kResendIdleSlots;
  return entries_.empty() && above_floor ? last_kept_ + limits::kResendIdleAfter : kNever;
}

void ResendBuffer::release() {
  std::size_t before = pool_.capacity() * sizeof(Buffer) + entries_.capacity() * sizeof(Entry);
  for (const auto& b : pool_) before += b.capacity();
  std::vector<Buffer>().swap(pool_);
  entries_.shrink(limits::kResendIdleSlots);
  account_.changed(before, entries_.capacity() * sizeof(Entry));
}

void ResendBuffer::schedule_last() {
  if (entries_.empty() || entries_.back().acked || entries_.back().resend) return;
  entries_.back().resend = true;
  ++resend_pending_;
}

void ResendBuffer::copied(std::uint64_t seq) {
  if (!entries_.empty() && entries_.back().seq == seq) entries_.back().resent = true;
}

void ResendBuffer::cancel_resend() {
  for (std::size_t i = 0; i < entries_.size(); ++i) entries_[i].resend = false;
  resend_pending_ = 0;
}

void ResendBuffer::clear() {
  while (!entries_.empty()) pop_front();
}

bool AckState::accept(std::uint64_t seq, Time now) {
  const bool newest = !window_.has_any() || seq > window_.highest();
  if (!window_.accept(seq)) return false;
  if (newest) highest_at_ = now;
  if (unacked_++ == 0) first_unacked_ = now;
  return true;
}

bool AckState::due(Time now) const {
  return unacked_ >= limits::kAckEveryPackets || (unacked_ > 0 && now >= first_unacked_ + delay_);
}

Time AckState::deadline() const { return unacked_ > 0 ? first_unacked_ + delay_ : kNever; }

void AckState::set_round_trip(Duration rtt) {
  delay_ = std::clamp<Duration>(rtt / limits::kAckDelayRttDivisor, limits::kAckDelay, limits::kAckDelayCeiling);
}

Ack AckState::make_ack(std::uint32_t flags) {
  Ack a;
  a.flags = flags;
  unacked_ = 0;
  first_unacked_ = kNever;
  if (!window_.has_any()) return a;
  a.highest = window_.highest();
  const auto us = static_cast<std::uint32_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(highest_at_.time_since_epoch()).count());
  a.received_us = us ? us : 1;  // 0 says "not said"
  for (std::uint64_t bit = 0; bit < kAckBits && bit < a.highest; ++bit)
    if (window_.seen(a.highest - 1 - bit)) a.bitmap[bit / 8] |= static_cast<std::uint8_t>(1u << (bit % 8));
  return a;
}

}  // namespace tund::session
