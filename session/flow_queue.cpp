#include "session/flow_queue.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "offload/checksum.hpp"
#include "session/flow_fields.hpp"

namespace tund::session {

namespace {
// Every packet of one flow in one bucket; what is not IP shares bucket 0.
std::size_t bucket_of(Bytes inner, std::uint64_t seed) {
  FlowFields f;
  if (!read_flow_fields(inner, f)) return 0;
  return static_cast<std::size_t>(flow_hash(f, seed) % limits::kFlowBuckets);
}

}  // namespace

bool mark_congestion(MutableBytes p) {
  if (p.size() >= 20 && (p[0] >> 4) == 4) {
    if ((p[1] & 3) == 0) return false;  // Not-ECT
    const std::uint16_t before = load_be16(p.data());
    p[1] |= 3;
    offload::checksum_update_word(p.data() + 10, before, load_be16(p.data()));
    return true;
  }
  if (p.size() >= 40 && (p[0] >> 4) == 6) {
    // The traffic class straddles bytes 0 and 1; ECN is its low two bits,
    // bits 4-5 of byte 1.
    if (((p[1] >> 4) & 3) == 0) return false;
    p[1] |= 0x30;
    return true;
  }
  return false;
}

void FlowQueue::set_round_trip(Duration base_rtt, double bytes_per_second) {
  interval_ = std::clamp<Duration>(base_rtt * 2, limits::kCodelIntervalFloor, limits::kCodelIntervalCeiling);
  target_ = interval_ / limits::kCodelTargetDivisor;
  if (bytes_per_second > 0) {
    const auto packets = std::chrono::duration_cast<Duration>(std::chrono::duration<double>(
        static_cast<double>(limits::kCodelTargetPackets * limits::kFlowQuantum) / bytes_per_second));
    target_ = std::clamp<Duration>(packets, target_, interval_ / 2);
  }
}

std::int32_t FlowQueue::take_slot(std::size_t len) {
  std::int32_t i = free_;
  std::size_t grown_slots = slots_.capacity();
  if (i < 0) {
    if (slots_.size() >= limits::kFlowQueueMaxPackets) return -1;
    if (slots_.size() == slots_.capacity())
      grown_slots = std::min<std::size_t>(std::max<std::size_t>(16, slots_.size() * 2), limits::kFlowQueueMaxPackets);
  }
  const std::size_t have = i >= 0 ? slots_[i].data.capacity() : 0;
  const std::size_t want = have >= len ? have : std::max(len, limits::kFlowQueueSlotBytes);
  if (!account_.allows((grown_slots - slots_.capacity()) * sizeof(Packet) + (want - have))) return -1;
  if (i < 0) {
    slots_.reserve(grown_slots);
    slots_.emplace_back();
    i = static_cast<std::int32_t>(slots_.size() - 1);
  } else {
    free_ = slots_[i].next;
  }
  Packet& p = slots_[i];
  if (have < want) {
    p.data.reserve(want);
    data_bytes_ += p.data.capacity() - have;
  }
  p.next = -1;
  return i;
}

void FlowQueue::free_slot(std::int32_t i) {
  slots_[i].next = free_;
  free_ = i;
}

void FlowQueue::account() {
  account_.changed(account_.held(), buckets_.capacity() * sizeof(Bucket) + slots_.capacity() * sizeof(Packet) +
                                        data_bytes_ + (new_.capacity() + old_.capacity()) * sizeof(std::uint16_t));
}

bool FlowQueue::enqueue(Bytes inner, Time now, std::uint32_t tag) {
  if (inner.empty()) return false;
  if (buckets_.empty()) {
    if (!account_.allows(limits::kFlowBuckets * sizeof(Bucket))) {
      ++counters_.no_memory;
      return false;
    }
    buckets_.resize(limits::kFlowBuckets);
  }
  while (packets_ >= limits::kFlowQueueMaxPackets || bytes_ + inner.size() > limits::kFlowQueueMaxBytes) drop_fattest();
  const std::int32_t i = take_slot(inner.size());
  if (i < 0) {
    ++counters_.no_memory;
    return false;
  }
  Packet& p = slots_[i];
  p.data.resize(inner.size());
  std::memcpy(p.data.data(), inner.data(), inner.size());
  p.len = static_cast<std::uint32_t>(inner.size());
  p.queued = now;
  p.tag = tag;
  const std::size_t bi = bucket_of(inner, seed_);
  Bucket& b = buckets_[bi];
  if (b.tail >= 0) slots_[b.tail].next = i;
  else b.head = i;
  b.tail = i;
  b.bytes += p.len;
  ++packets_;
  bytes_ += p.len;
  ++counters_.queued;
  if (!b.listed) {
    // A flow with nothing waiting goes first (RFC 8290 4.1): a call's packet
    // waits for at most one turn.
    b.listed = true;
    b.deficit = limits::kFlowQuantum;
    new_.push_back(static_cast<std::uint16_t>(bi));
  }
  account();
  return true;
}

std::int32_t FlowQueue::pop_head(Bucket& b) {
  const std::int32_t i = b.head;
  if (i < 0) return -1;
  b.head = slots_[i].next;
  if (b.head < 0) b.tail = -1;
  b.bytes -= slots_[i].len;
  --packets_;
  bytes_ -= slots_[i].len;
  return i;
}

void FlowQueue::drop_fattest() {
  std::size_t fattest = 0;
  for (std::size_t k = 1; k < buckets_.size(); ++k)
    if (buckets_[k].bytes > buckets_[fattest].bytes) fattest = k;
  const std::int32_t i = pop_head(buckets_[fattest]);
  if (i < 0) return;  // cannot happen while anything waits
  free_slot(i);
  ++counters_.overflow;
}

Time FlowQueue::control_law(Time t, std::uint32_t count) const {
  return t + std::chrono::duration_cast<Duration>(interval_ / std::sqrt(static_cast<double>(std::max<std::uint32_t>(count, 1))));
}

bool FlowQueue::ok_to_drop(Bucket& b, std::int32_t head, Time now) {
  if (head < 0) {
    b.first_above = kNever;
    return false;
  }
  const Duration sojourn = now - slots_[head].queued;
  // Under target, or no more than a packet left to send: the queue is not
  // standing (nor while the pacer searches: set_managing).
  if (!managing_ || sojourn < target_ || b.bytes + slots_[head].len <= limits::kFlowQuantum) {
    b.first_above = kNever;
    return false;
  }
  if (b.first_above == kNever) {
    b.first_above = now + interval_;
    return false;
  }
  return now >= b.first_above;
}

bool FlowQueue::drop_or_mark(std::int32_t i) {
  Packet& p = slots_[i];
  if (mark_congestion(MutableBytes(p.data.data(), p.len))) {
    ++counters_.codel_marks;
    return true;
  }
  ++counters_.codel_drops;
  free_slot(i);
  return false;
}

std::int32_t FlowQueue::codel_dequeue(Bucket& b, Time now) {
  std::int32_t i = pop_head(b);
  bool drop = ok_to_drop(b, i, now);
  if (b.dropping) {
    if (!drop) {
      b.dropping = false;
      return i;
    }
    while (now >= b.drop_next && b.dropping) {
      ++b.count;
      if (drop_or_mark(i)) {
        b.drop_next = control_law(b.drop_next, b.count);
        return i;
      }
      i = pop_head(b);
      if (!ok_to_drop(b, i, now)) b.dropping = false;
      else b.drop_next = control_law(b.drop_next, b.count);
    }
    return i;
  }
  if (drop) {
    const bool marked = drop_or_mark(i);
    if (!marked) {
      i = pop_head(b);
      ok_to_drop(b, i, now);
    }
    b.dropping = true;
    // Start near the drop rate that worked last time if it was recent.
    const std::uint32_t delta = b.count - b.last_count;
    b.count = (delta > 1 && now - b.drop_next < interval_ * 16) ? delta : 1;
    b.last_count = b.count;
    b.drop_next = control_law(now, b.count);
  }
  return i;
}

std::optional<std::size_t> FlowQueue::dequeue(MutableBytes out, Time now, std::uint32_t ready) {
  const bool had_packets = packets_ > 0;
  // Each listed flow is passed over at most once (its head waits for a
  // pacer without room): the loop is bounded by the flows, not the packets.
  // A new flow passed over stays among the new ones, behind them: a call
  // whose path has no room this instant keeps its place before the bulk
  // (in the old flows' round it would wait a whole round of their quanta,
  // 60-100 ms in bench/bond against 30 in failover).
  std::size_t new_passed = 0, old_passed = 0;
  while (new_passed < new_.size() || old_passed < old_.size()) {
    const bool from_new = new_passed < new_.size();
    auto& list = from_new ? new_ : old_;
    const std::uint16_t bi = list.front();
    Bucket& b = buckets_[bi];
    if (b.deficit <= 0) {
      b.deficit += limits::kFlowQuantum;
      list.pop_front();
      old_.push_back(bi);
      continue;
    }
    if (const std::uint32_t tag = b.head >= 0 ? slots_[b.head].tag : 0; tag && !(ready >> tag & 1u)) {
      ++(from_new ? new_passed : old_passed);
      list.pop_front();
      list.push_back(bi);
      continue;
    }
    const std::int32_t i = codel_dequeue(b, now);
    if (i < 0) {
      list.pop_front();
      // An emptied new flow takes one more turn among the old ones, so that
      // a flow cannot stay "new" by sending a packet at a time (RFC 8290 4.2).
      if (from_new && !old_.empty()) old_.push_back(bi);
      else b.listed = false;
      continue;
    }
    Packet& p = slots_[i];
    const std::size_t n = p.len;
    const bool fits = n <= out.size();
    if (fits) std::memcpy(out.data(), p.data.data(), n);
    free_slot(i);
    if (packets_ == 0) empty_since_ = now;
    account();
    if (!fits) continue;  // the caller's buffer is always a slot: cannot happen
    b.deficit -= static_cast<std::int64_t>(n);
    return n;
  }
  if (had_packets && packets_ == 0) empty_since_ = now;
  account();
  return std::nullopt;
}

Duration FlowQueue::head_sojourn(Time now) const {
  Duration most{0};
  for (const auto& b : buckets_)
    if (b.head >= 0) most = std::max(most, now - slots_[b.head].queued);
  return most;
}

void FlowQueue::clear() {
  counters_.flushed += packets_;
  for (auto& b : buckets_) b = Bucket{};
  while (!new_.empty()) new_.pop_front();
  while (!old_.empty()) old_.pop_front();
  free_ = -1;
  for (std::size_t k = slots_.size(); k-- > 0;) free_slot(static_cast<std::int32_t>(k));
  packets_ = bytes_ = 0;
}

void FlowQueue::expire(Time now) {
  if (packets_ || buckets_.empty() || now < empty_since_ + limits::kFlowQueueIdleAfter) return;
  // Nothing waits: the lists hold only buckets about to be unlisted.
  // Assigning {} would keep the vectors' capacity: swap it away.
  std::vector<Bucket>().swap(buckets_);
  std::vector<Packet>().swap(slots_);
  new_ = Ring<std::uint16_t>();
  old_ = Ring<std::uint16_t>();
  free_ = -1;
  data_bytes_ = 0;
  account();
}

}  // namespace tund::session
