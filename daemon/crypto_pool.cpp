#include "daemon/crypto_pool.hpp"

#include <algorithm>

namespace tund::daemon {

CryptoPool::CryptoPool(unsigned workers) {
  for (unsigned i = 0; i < workers; ++i) threads_.emplace_back([this] { worker_loop(); });
}

CryptoPool::~CryptoPool() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  for (auto& t : threads_) t.join();
}

// Takes chunks until none is left; returns how many items this thread ran.
std::size_t CryptoPool::drain() {
  std::size_t ran = 0;
  for (;;) {
    const std::size_t start = next_.fetch_add(kChunk, std::memory_order_relaxed);
    if (start >= n_) break;
    const std::size_t end = std::min(start + kChunk, n_);
    for (std::size_t i = start; i < end; ++i) fn_(ctx_, i);
    ran += end - start;
  }
  if (ran) done_.fetch_add(ran, std::memory_order_acq_rel);
  return ran;
}

void CryptoPool::run_shared(std::size_t n, Fn fn, void* ctx) {
  // A worker may still be leaving the previous batch's drain(): wait until
  // none is (workers only enter under the mutex, so holding it with active_
  // at zero means none can read the job while it is rewritten).
  std::unique_lock lock(mutex_);
  while (active_.load(std::memory_order_acquire) != 0) {
    lock.unlock();
    std::this_thread::yield();
    lock.lock();
  }
  fn_ = fn;
  ctx_ = ctx;
  n_ = n;
  done_.store(0, std::memory_order_relaxed);
  next_.store(0, std::memory_order_relaxed);
  ++generation_;
  lock.unlock();
  wake_.notify_all();
  drain();
  // Chunks that workers took may still be running (a few packets each).
  while (done_.load(std::memory_order_acquire) < n) std::this_thread::yield();
}

void CryptoPool::worker_loop() {
  std::uint64_t seen = 0;
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [&] { return stop_ || generation_ != seen; });
      if (stop_) return;
      seen = generation_;
      active_.fetch_add(1, std::memory_order_acq_rel);
    }
    on_workers_.fetch_add(drain(), std::memory_order_relaxed);
    active_.fetch_sub(1, std::memory_order_acq_rel);
  }
}

}  // namespace tund::daemon
