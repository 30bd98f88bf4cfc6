// Both handshake readers on fuzzed messages. A fuzzed initiation or response
// never succeeds, and never changes the reader: the genuine message read
// afterwards by the same object still succeeds.
#include <cstring>

#include "crypto/handshake.hpp"
#include "fuzz.hpp"

namespace {
using namespace tund;

struct Keys {
  crypto::StaticKeypair client = test::keypair_from_seed(1), hub = test::keypair_from_seed(2);
};

void fill_to(std::vector<std::uint8_t>& m, const std::uint8_t* data, std::size_t size) {
  // The fuzzed bytes go over a valid-shaped message (header kept), so sizes match.
  for (std::size_t i = 4; i < m.size() && i - 4 < size; ++i) m[i] = data[i - 4];
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const bool ready = (crypto::init(), true);
  (void)ready;
  static const Keys keys;
  PrivateKey e1, e2;
  e1.fill(3);
  e2.fill(4);
  const crypto::InitiationPayload ip{crypto::encode_timestamp(1), 0, 42};

  // Responder: fuzzed initiation, then the genuine one.
  auto initiator = crypto::make_initiator(keys.client, keys.hub.pub);
  std::vector<std::uint8_t> init(wire::initiation::kSize);
  fuzz::check(crypto::write_initiation(initiator, e1, 1, ip, init) == crypto::noise::Failure::kNone, "write");
  auto responder = crypto::make_responder(keys.hub);
  std::vector<std::uint8_t> bad = init;
  fill_to(bad, data, size);
  crypto::InitiationPayload got;
  // Only the Noise message is the reader's to authenticate (sender index and
  // macs are checked before it, by the session layer and cookie.hpp).
  const auto noise_equal = [](const std::vector<std::uint8_t>& a, const std::vector<std::uint8_t>& b, std::size_t off,
                              std::size_t n) { return std::equal(a.begin() + off, a.begin() + off + n, b.begin() + off); };
  if (!noise_equal(bad, init, wire::initiation::kNoise, wire::initiation::kNoiseSize)) fuzz::check(crypto::read_initiation(responder, bad, got) != crypto::noise::Failure::kNone, "forged initiation accepted");
  fuzz::check(crypto::read_initiation(responder, init, got) == crypto::noise::Failure::kNone, "responder changed by a failure");
  fuzz::check(got.session_id == 42, "payload");

  // Initiator: fuzzed response, then the genuine one.
  std::vector<std::uint8_t> resp(wire::response::kSize);
  crypto::noise::TransportKeys hub_keys, client_keys;
  crypto::ResponsePayload answer;
  answer.vip = {0x0a4d0002, 24, 0, 0x0a4d0001};
  fuzz::check(crypto::write_response(responder, e2, 5, 1, answer, resp, hub_keys) == crypto::noise::Failure::kNone, "write response");
  std::vector<std::uint8_t> bad_resp = resp;
  fill_to(bad_resp, data, size);
  crypto::ResponsePayload read;
  if (!noise_equal(bad_resp, resp, wire::response::kNoise, wire::response::kNoiseSize))
    fuzz::check(crypto::read_response(initiator, bad_resp, read, client_keys) != crypto::noise::Failure::kNone, "forged response accepted");
  fuzz::check(crypto::read_response(initiator, resp, read, client_keys) == crypto::noise::Failure::kNone, "initiator changed by a failure");
  fuzz::check(client_keys.send == hub_keys.recv && client_keys.recv == hub_keys.send, "keys agree");
  return 0;
}
