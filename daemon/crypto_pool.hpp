// Runs the AEAD of a batch on several cores. The event-loop thread prepares
// a batch (counters reserved, headers written, in order), then run() splits
// the work by an atomic index between itself and the workers and returns when
// every item is done: per-session order is kept because the order was fixed
// before the work was shared, and the per-packet path takes no lock (one
// atomic add per chunk; one wake-up per batch, under a mutex that only the
// hand-over of a batch takes).
//
// Small batches run on the calling thread alone: waking a worker costs more
// than it saves below kParallelMin items.
#pragma once

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <cstddef>
#include <cstdint>
#include <thread>
#include <vector>

#include "crypto/keypair.hpp"
#include "tund/limits.hpp"

namespace tund::daemon {

class CryptoPool {
 public:
  static constexpr std::size_t kParallelMin = limits::kParallelCryptoMin;
  static constexpr std::size_t kChunk = limits::kCryptoChunk;

  // `workers` extra threads (0: everything on the caller).
  explicit CryptoPool(unsigned workers);
  ~CryptoPool();
  CryptoPool(const CryptoPool&) = delete;
  CryptoPool& operator=(const CryptoPool&) = delete;

  unsigned workers() const { return static_cast<unsigned>(threads_.size()); }

  // Decrypts a received batch ahead: one job per datagram whose keypair
  // `keypair_for(datagram)` names, all run in parallel. `jobs` is reused.
  template <class Batch, class KeypairFor>
  void open_ahead(Batch& batch, std::vector<crypto::OpenJob>& jobs, KeypairFor&& keypair_for) {
    jobs.clear();
    batch.for_each_datagram([&](MutableBytes d, std::size_t) {
      if (crypto::Keypair* kp = keypair_for(Bytes(d.data(), d.size()))) jobs.push_back({kp, d.data(), d.size(), false});
    });
    run(jobs.size(), [&jobs](std::size_t i) { jobs[i].run(); });
  }

  // Calls fn(i) for every i in [0, n), spread over the caller and the workers.
  template <class F>
  void run(std::size_t n, F&& fn) {
    if (n == 0) return;
    if (threads_.empty() || n < kParallelMin) {
      for (std::size_t i = 0; i < n; ++i) fn(i);
      return;
    }
    run_shared(n, [](void* ctx, std::size_t i) { (*static_cast<F*>(ctx))(i); }, &fn);
  }

  // How many items ran on worker threads (for status and tests).
  std::uint64_t items_on_workers() const { return on_workers_.load(std::memory_order_relaxed); }

 private:
  using Fn = void (*)(void*, std::size_t);
  void run_shared(std::size_t n, Fn fn, void* ctx);
  void worker_loop();
  std::size_t drain();

  std::vector<std::thread> threads_;
  // The job of the current generation.
  Fn fn_ = nullptr;
  void* ctx_ = nullptr;
  std::size_t n_ = 0;
  std::atomic<std::size_t> next_{0};
  std::atomic<std::size_t> done_{0};
  // Workers inside drain(): the job is never rewritten while one is.
  std::atomic<unsigned> active_{0};
  std::mutex mutex_;
  std::condition_variable wake_;
  std::uint64_t generation_ = 0;  // guarded by mutex_
  bool stop_ = false;             // guarded by mutex_
  std::atomic<std::uint64_t> on_workers_{0};
};

}  // namespace tund::daemon
