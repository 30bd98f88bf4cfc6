// Two full peers through a wire that drops, duplicates and reorders, on a fake
// clock, for several simulated minutes with traffic both ways (so rekeys happen
// under loss). Asserts: the handshake completes, every inner packet arrives at
// most once and intact, most arrive, and no (key, nonce) pair is ever sent twice.
#include <gtest/gtest.h>

#include <map>

#include "support/sim.hpp"

namespace tund {
namespace {

using namespace std::chrono_literals;

struct Params {
  std::uint64_t seed;
  double drop;
  double duplicate;
  Duration reorder;
  bool batched = false;  // deferred seals, batches decrypted ahead (as the daemons run)
};

class NoisyWire : public ::testing::TestWithParam<Params> {};

void check_delivered(const std::vector<std::vector<std::uint8_t>>& got, std::uint32_t src,
                     std::uint32_t dst, std::uint32_t sent, double min_fraction) {
  std::map<std::uint32_t, int> seen;
  for (const auto& p : got) {
    ASSERT_GE(p.size(), 32u);
    const std::uint32_t seq = load_be32(p.data() + 28);
    ASSERT_LT(seq, sent);
    EXPECT_EQ(p, test::make_inner(src, dst, seq, p.size())) << "corrupt packet " << seq;
    EXPECT_EQ(++seen[seq], 1) << "packet " << seq << " delivered twice";
  }
  EXPECT_GE(static_cast<double>(seen.size()), min_fraction * sent);
}

TEST_P(NoisyWire, EveryPacketAtMostOnceIntactAndNoNonceReuse) {
  const auto p = GetParam();
  test::Sim s(p.seed, test::WireNoise{p.drop, p.duplicate, p.reorder});
  s.batched = p.batched;
  s.cs().start(s.now);

  std::uint32_t up = 0, down = 0;
  const auto end = s.now + 6min;  // three rekeys at 120 s
  std::mt19937_64 rng(p.seed);
  while (s.now < end) {
    s.now += 20ms;
    // Bursts in both directions, sizes varying; the hub can only send once it has a session.
    for (int i = 0; i < 2; ++i) {
      const std::size_t size = 40 + rng() % 1300;
      if (s.client_send(test::make_inner(test::kClientVip, test::kServer, up, size)).kind !=
          session::SealResult::Kind::kDrop)
        ++up;
      if (s.hub->session(0) &&
          s.hub_send(test::make_inner(test::kServer, test::kClientVip, down, size)).kind !=
              session::SealResult::Kind::kDrop)
        ++down;
    }
    s.pump();
  }
  s.run_for(1s);

  EXPECT_TRUE(s.cs().established());
  EXPECT_GE(s.cs().stats().handshakes, 3u) << "rekeys happened under loss";
  EXPECT_FALSE(s.nonce_reused);
  const double expected = (1.0 - p.drop) * 0.9;
  check_delivered(s.delivered_to_hub, test::kClientVip, test::kServer, up, expected);
  check_delivered(s.delivered_to_client, test::kServer, test::kClientVip, down, expected);
  EXPECT_EQ(s.hub->drops()[DropReason::kAuthFailed], 0u);
  if (p.duplicate > 0) {
    EXPECT_GT(s.hub->drops()[DropReason::kReplay], 0u) << "duplicates were caught";
  }
}

INSTANTIATE_TEST_SUITE_P(Seeds, NoisyWire,
                         ::testing::Values(Params{1, 0.0, 0.0, 0ms}, Params{2, 0.1, 0.1, 30ms},
                                           Params{3, 0.2, 0.05, 80ms}, Params{4, 0.3, 0.3, 200ms},
                                           Params{5, 0.05, 0.5, 5ms}, Params{6, 0.0, 0.0, 0ms, true},
                                           Params{7, 0.1, 0.3, 30ms, true}, Params{8, 0.3, 0.5, 200ms, true}));

}  // namespace
}  // namespace tund
