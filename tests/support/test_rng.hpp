// Deterministic randomness for tests: a ChaCha20 keystream from a seed, so a
// simulation with the same seed replays exactly.
#pragma once

#include <sodium.h>

#include <cstring>

#include "tund/rng.hpp"

namespace tund::test {

class SeededRng final : public Rng {
 public:
  explicit SeededRng(std::uint64_t seed) {
    key_.fill(0);
    store_le64(key_.data(), seed);
  }
  void fill(MutableBytes out) override {
    std::uint8_t nonce[crypto_stream_chacha20_NONCEBYTES] = {};
    store_le64(nonce, counter_++);
    crypto_stream_chacha20(out.data(), out.size(), nonce, key_.data());
  }

 private:
  std::array<std::uint8_t, crypto_stream_chacha20_KEYBYTES> key_{};
  std::uint64_t counter_ = 0;
};

}  // namespace tund::test
