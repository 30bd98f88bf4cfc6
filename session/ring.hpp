// A first-in first-out queue over one array: push at the back, pop at the
// front, index from the front. The array grows (doubling) to the largest size
// the queue reaches and is reused from then on, so a steady stream through it
// allocates nothing; std::deque allocates and frees a node every few elements.
// The caller bounds its size, and shrinks it when it has been idle: the owner
// knows when memory is worth more than the next burst's allocations.
#pragma once

#include <algorithm>
#include <bit>
#include <cstddef>
#include <utility>
#include <vector>

namespace tund::session {

template <class T>
class Ring {
 public:
  bool empty() const { return size_ == 0; }
  std::size_t size() const { return size_; }
  // Slots the array holds (each sizeof(T)), and how many it would hold after
  // the next growth: what pushing onto a full ring costs, known beforehand.
  std::size_t capacity() const { return slots_.size(); }
  std::size_t grown_capacity() const { return slots_.empty() ? kFirstCapacity : slots_.size() * 2; }
  T& operator[](std::size_t i) { return slots_[(head_ + i) & (slots_.size() - 1)]; }
  const T& operator[](std::size_t i) const { return slots_[(head_ + i) & (slots_.size() - 1)]; }
  T& front() { return (*this)[0]; }
  T& back() { return (*this)[size_ - 1]; }

  void push_back(T value) {
    if (size_ == slots_.size()) resize(grown_capacity());
    (*this)[size_++] = std::move(value);
  }
  // The front slot keeps whatever the caller left in it (moved from, usually).
  void pop_front() {
    head_ = (head_ + 1) & (slots_.size() - 1);
    --size_;
  }
  // The array down to the smallest power of two that holds what is queued and
  // at least `floor` slots (0: none at all while empty). Never grows it.
  void shrink(std::size_t floor) {
    const std::size_t want = std::max(size_, floor);
    const std::size_t cap = want ? std::bit_ceil(want) : 0;
    if (cap < slots_.size()) resize(cap);
  }

 private:
  void resize(std::size_t cap) {  // a power of two, or 0 when empty
    std::vector<T> other(cap);
    for (std::size_t i = 0; i < size_; ++i) other[i] = std::move((*this)[i]);
    slots_ = std::move(other);
    head_ = 0;
  }

  static constexpr std::size_t kFirstCapacity = 16;
  std::vector<T> slots_;
  std::size_t head_ = 0;
  std::size_t size_ = 0;
};

}  // namespace tund::session
