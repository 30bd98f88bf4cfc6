// Randomness is an input to the core, like time: the daemons pass a
// libsodium-backed source, tests pass a seeded deterministic one, so a
// simulation replays bit for bit.
#pragma once

#include "tund/types.hpp"

namespace tund {

class Rng {
 public:
  virtual ~Rng() = default;
  virtual void fill(MutableBytes out) = 0;

  std::uint32_t next_u32() {
    std::uint8_t b[4];
    fill(b);
    return load_le32(b);
  }
  // Uniform in [0, bound) for bound > 0 (modulo bias is irrelevant for jitter).
  std::uint32_t uniform(std::uint32_t bound) { return bound ? next_u32() % bound : 0; }
};

}  // namespace tund
