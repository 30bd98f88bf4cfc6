// Shared by the libFuzzer targets: a fresh, deterministic client-hub world per
// input (fixed keys and seeds, so a crash file reproduces), and a helper that
// seals fuzzed plaintext under a live session's real keys so structure-aware
// inputs get past the AEAD into the session layer.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstdio>
#include <vector>

#include "support/sim.hpp"

namespace tund::fuzz {

// A connected world: handshake done, one data packet each way (so both
// sides have confirmed keys).
inline std::unique_ptr<test::Sim> connected_world() {
  auto s = std::make_unique<test::Sim>(7);
  const bool connected = s->connect();
  s->client_send(test::make_inner(test::kClientVip, test::kServer, 1));
  s->hub_send(test::make_inner(test::kServer, test::kClientVip, 2));
  s->run_for(std::chrono::milliseconds(30));
  if (!connected || s->delivered_to_hub.size() != 1 || s->delivered_to_client.size() != 1)
    std::abort();  // the harness itself is broken
  return s;
}

// After unauthenticated garbage the genuine peers still talk both ways. (Not
// asked after an authenticated peer's own fuzzed input: a peer can always
// break its own session, e.g. by jumping its data sequence.)
inline bool still_talks(test::Sim& s) {
  const auto up = s.delivered_to_hub.size(), down = s.delivered_to_client.size();
  s.client_send(test::make_inner(test::kClientVip, test::kServer, 77));
  s.hub_send(test::make_inner(test::kServer, test::kClientVip, 78));
  s.run_for(std::chrono::milliseconds(30));
  return s.delivered_to_hub.size() > up && s.delivered_to_client.size() > down;
}

// header + AEAD(plain) under `kp`, as its owner would send it.
inline std::vector<std::uint8_t> seal(crypto::Keypair& kp, wire::MessageType type, const std::uint8_t* plain,
                                      std::size_t n) {
  std::vector<std::uint8_t> out(n + wire::transport::kOverhead);
  const auto counter = kp.reserve_counter();
  if (!counter) std::abort();
  kp.seal(type, *counter, Bytes(plain, n), out.data());
  return out;
}

// Fails the run (libFuzzer records the input) when `ok` is false.
inline void check(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "fuzz invariant broken: %s\n", what);
  std::abort();
}

}  // namespace tund::fuzz
