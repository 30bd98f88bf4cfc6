// Client::receive. First byte picks the mode:
//   0   the rest is a raw datagram on the active path
//   1   data plaintext sealed under the hub's real keys (reaches the inner
//       source check, the replay of data sequences, acks)
//   2   a control frame sealed under the hub's keys (acks, switch acks, probes)
// Invariant: after raw garbage the session still carries traffic both ways.
#include "fuzz.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace tund;
  if (size < 1) return 0;
  auto s = fuzz::connected_world();
  const std::uint8_t mode = data[0] % 3;
  std::vector<std::uint8_t> d;
  if (mode == 0) {
    d.assign(data + 1, data + size);
  } else {
    auto* kp = s->hub->current_keypair_for_test(0);
    fuzz::check(kp != nullptr, "hub keypair");
    d = fuzz::seal(*kp, mode == 1 ? wire::MessageType::kData : wire::MessageType::kControl, data + 1, size - 1);
  }
  s->inject_to_client(d);
  s->run_for(std::chrono::milliseconds(20));
  if (mode == 0) fuzz::check(fuzz::still_talks(*s), "the genuine peers still talk after garbage");
  return 0;
}
