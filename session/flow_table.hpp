// A bounded map from an inner flow's hash (flow_fields.hpp) to what a
// session remembers of it: which path a client's bond pinned it to
// (bond_scheduler.hpp), which endpoint a hub returns it to (hub.hpp).
// Set-associative: kWays entries per set, a new flow takes a free way of its
// set or the one heard from longest ago, so lookups and inserts are O(1),
// memory is `capacity` entries, allocated at the first insert, and however
// many flows a peer or an application opens, the table never grows. A flow
// not heard from for `idle` counts as new.
#pragma once

#include <cstdint>
#include <vector>

#include "tund/types.hpp"

namespace tund::session {

template <class Value>
class FlowTable {
 public:
  struct Entry {
    std::uint64_t hash = 0;  // 0: free (hashes are stored with the low bit set)
    Time last_seen{};
    Value value{};
  };

  FlowTable(std::size_t capacity, Duration idle) : capacity_(capacity), idle_(idle) {}

  // The flow's entry, `fresh` when it was not known (or idle): then its
  // value is reset and `evicted` says whether a live flow made room for it.
  Entry& touch(std::uint64_t hash, Time now, bool& fresh, bool& evicted) {
    hash |= 1;
    if (entries_.empty()) entries_.resize(capacity_ - capacity_ % kWays);
    const std::size_t sets = entries_.size() / kWays;
    Entry* set = &entries_[(hash % sets) * kWays];
    Entry* victim = set;
    evicted = false;
    for (std::size_t w = 0; w < kWays; ++w) {
      if (set[w].hash == hash) {
        fresh = now - set[w].last_seen > idle_;
        if (fresh) set[w].value = Value{};
        set[w].last_seen = now;
        return set[w];
      }
      if (victim->hash && (!set[w].hash || set[w].last_seen < victim->last_seen)) victim = &set[w];
    }
    evicted = victim->hash != 0 && now - victim->last_seen <= idle_;
    *victim = Entry{hash, now, Value{}};
    fresh = true;
    return *victim;
  }
  // The flow's entry when it is known and not idle (nothing changes).
  const Entry* find(std::uint64_t hash, Time now) const {
    hash |= 1;
    if (entries_.empty()) return nullptr;
    const std::size_t sets = entries_.size() / kWays;
    const Entry* set = &entries_[(hash % sets) * kWays];
    for (std::size_t w = 0; w < kWays; ++w)
      if (set[w].hash == hash) return now - set[w].last_seen > idle_ ? nullptr : &set[w];
    return nullptr;
  }
  Entry* find(std::uint64_t hash, Time now) {
    return const_cast<Entry*>(static_cast<const FlowTable&>(*this).find(hash, now));
  }
  bool live(const Entry& e, Time now) const { return e.hash && now - e.last_seen <= idle_; }
  const std::vector<Entry>& entries() const { return entries_; }
  void clear() { std::vector<Entry>().swap(entries_); }

 private:
  static constexpr std::size_t kWays = 4;
  std::size_t capacity_;
  Duration idle_;
  std::vector<Entry> entries_;
};

}  // namespace tund::session
