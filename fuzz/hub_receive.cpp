// Hub::receive. First byte picks the mode:
//   0   the rest is a raw datagram from an unknown address
//   1   the rest is a raw datagram from the client's own address
//   2   the rest is data plaintext (sequence + inner packet) sealed under the
//       client's real keys, from its address (reaches the VIP check, acks)
//   3   the same as a control frame (probes, acks, switch acks)
//   4   the same as a data copy (sent on suspicion), from another address
// Invariants: a reply only to a handshake, always smaller than what came;
// after raw garbage the live session still carries traffic both ways; a copy
// never moves the hub's return path.
#include "fuzz.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace tund;
  if (size < 1) return 0;
  auto s = fuzz::connected_world();
  const std::uint8_t mode = data[0] % 5;
  std::vector<std::uint8_t> d;
  if (mode < 2) {
    d.assign(data + 1, data + size);
  } else {
    auto* kp = s->cs().current_keypair_for_test();
    const auto type = mode == 2 ? wire::MessageType::kData : mode == 3 ? wire::MessageType::kControl
                                                                       : wire::MessageType::kDataCopy;
    d = fuzz::seal(*kp, type, data + 1, size - 1);
  }
  const auto from = mode == 0 || mode == 4 ? Endpoint::v4(0x0a0100ee, 999) : s->client_addr();
  const Endpoint before = s->hub->session(0)->endpoint();
  std::vector<std::uint8_t> reply;
  const auto r = s->inject_to_hub(d, from, &reply);
  if (mode >= 2) fuzz::check(r.kind != session::ReceiveResult::Kind::kReply, "a transport packet is never answered directly");
  if (r.kind == session::ReceiveResult::Kind::kReply)
    fuzz::check(reply.size() < d.size(), "replies to the unauthenticated are smaller");
  s->run_for(std::chrono::milliseconds(20));
  if (mode == 4) fuzz::check(s->hub->session(0)->endpoint() == before, "a copy never moves the return path");
  if (mode < 2) fuzz::check(fuzz::still_talks(*s), "the genuine peers still talk after garbage");
  return 0;
}
