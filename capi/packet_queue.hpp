// A bounded FIFO of packets in storage allocated once: what the C API holds
// for its caller between an input and the caller's tund_poll_* (datagrams to
// send, inner packets for the TUN). Full: the oldest is dropped and counted,
// so a caller that stops polling costs packets, never memory.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "tund/types.hpp"

namespace tund::capi {

template <class Meta>
class PacketQueue {
 public:
  // One slot more than it holds: back() is always free to fill.
  PacketQueue(std::size_t slots, std::size_t stride)
      : stride_(stride), data_((slots + 1) * stride), entries_(slots + 1) {}

  std::size_t stride() const { return stride_; }
  std::size_t size() const { return count_; }
  std::uint64_t dropped() const { return dropped_; }

  // The slot the next push() fills.
  MutableBytes back() { return MutableBytes(data_.data() + tail() * stride_, stride_); }
  // Commits what back() was filled with (len == 0: nothing); full, the
  // oldest goes (its slot becomes the next back()).
  void push(std::size_t len, const Meta& meta) {
    if (!len) return;
    entries_[tail()] = {len, meta};
    if (count_ == entries_.size() - 1) {
      pop();
      ++dropped_;
    }
    ++count_;
  }
  bool empty() const { return count_ == 0; }
  Bytes front() const { return Bytes(data_.data() + head_ * stride_, entries_[head_].len); }
  const Meta& front_meta() const { return entries_[head_].meta; }
  void pop() {
    head_ = (head_ + 1) % entries_.size();
    --count_;
  }

 private:
  struct Entry {
    std::size_t len = 0;
    Meta meta{};
  };
  std::size_t tail() const { return (head_ + count_) % entries_.size(); }

  std::size_t stride_;
  std::vector<std::uint8_t> data_;
  std::vector<Entry> entries_;
  std::size_t head_ = 0, count_ = 0;
  std::uint64_t dropped_ = 0;
};

}  // namespace tund::capi
