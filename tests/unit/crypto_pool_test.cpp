// The crypto pool runs every item of every batch exactly once, whatever the
// batch size and however batches follow each other, and sealing a batch in
// parallel produces the same bytes as sealing it on one thread.
#include <gtest/gtest.h>

#include <atomic>
#include <vector>

#include "crypto/keypair.hpp"
#include "crypto/primitives.hpp"
#include "daemon/crypto_pool.hpp"

namespace tund::daemon {
namespace {

TEST(CryptoPool, EveryItemRunsExactlyOnceAcrossManyBatches) {
  for (unsigned workers : {0u, 1u, 3u}) {
    CryptoPool pool(workers);
    std::vector<std::atomic<int>> hits(4096);
    for (int round = 0; round < 2000; ++round) {
      const std::size_t n = static_cast<std::size_t>((round * 37) % 700);
      for (std::size_t i = 0; i < n; ++i) hits[i].store(0);
      pool.run(n, [&](std::size_t i) { hits[i].fetch_add(1); });
      for (std::size_t i = 0; i < n; ++i) ASSERT_EQ(hits[i].load(), 1) << "round " << round << " item " << i;
    }
    if (workers) {
      EXPECT_GT(pool.items_on_workers(), 0u) << "workers took part";
    }
  }
}

TEST(CryptoPool, ParallelSealsEqualSerialSeals) {
  crypto::init();
  crypto::noise::TransportKeys keys{};
  for (std::size_t i = 0; i < keys.send.size(); ++i) keys.send[i] = static_cast<std::uint8_t>(i);
  crypto::Keypair kp(keys, 1, 2, Time{});
  constexpr std::size_t kCount = 300, kLen = 1400;
  std::vector<std::vector<std::uint8_t>> serial(kCount), parallel(kCount);
  std::vector<crypto::SealJob> jobs;
  for (std::size_t i = 0; i < kCount; ++i) {
    serial[i].assign(kLen + wire::transport::kOverhead, static_cast<std::uint8_t>(i));
    parallel[i] = serial[i];
    const auto counter = kp.reserve_counter();
    ASSERT_TRUE(counter);
    kp.seal(wire::MessageType::kData, *counter,
            Bytes(serial[i].data() + wire::transport::kHeaderSize, kLen), serial[i].data());
    jobs.push_back({&kp, *counter, wire::MessageType::kData, parallel[i].data(), kLen});
  }
  CryptoPool pool(2);
  pool.run(jobs.size(), [&](std::size_t i) { jobs[i].run(); });
  EXPECT_EQ(parallel, serial);
}

}  // namespace
}  // namespace tund::daemon
