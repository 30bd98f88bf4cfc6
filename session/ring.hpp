// A first-in first-out queue over one array: push at the back, pop at the
// front, index from the front. The array grows (doubling) to the largest size
// the queue reaches and is reused from then on, so a steady stream through it
// allocates nothing; std::deque allocates and frees a node every few elements.
// The caller bounds its size.
#pragma once

#include <cstddef>
#include <utility>
#include <vector>

namespace tund::session {

template <class T>
class Ring {
 public:
  bool empty() const { return size_ == 0; }
  std::size_t size() const { return size_; }
  T& operator[](std::size_t i) { return slots_[(head_ + i) & (slots_.size() - 1)]; }
  const T& operator[](std::size_t i) const { return slots_[(head_ + i) & (slots_.size() - 1)]; }
  T& front() { return (*this)[0]; }
  T& back() { return (*this)[size_ - 1]; }

  void push_back(T value) {
    if (size_ == slots_.size()) grow();
    (*this)[size_++] = std::move(value);
  }
  // The front slot keeps whatever the caller left in it (moved from, usually).
  void pop_front() {
    head_ = (head_ + 1) & (slots_.size() - 1);
    --size_;
  }

 private:
  void grow() {
    std::vector<T> bigger(slots_.empty() ? kFirstCapacity : slots_.size() * 2);  // a power of two
    for (std::size_t i = 0; i < size_; ++i) bigger[i] = std::move((*this)[i]);
    slots_ = std::move(bigger);
    head_ = 0;
  }

  static constexpr std::size_t kFirstCapacity = 16;
  std::vector<T> slots_;
  std::size_t head_ = 0;
  std::size_t size_ = 0;
};

}  // namespace tund::session
