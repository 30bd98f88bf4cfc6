// CookieMaker::consume_reply on fuzzed replies: none is accepted (the key is
// the hub's), and a genuine reply afterwards still is.
#include "crypto/cookie.hpp"
#include "fuzz.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace tund;
  static const bool ready = (crypto::init(), true);
  (void)ready;
  static const auto hub = test::keypair_from_seed(2);
  test::SeededRng rng(5);
  crypto::CookieMaker maker(hub.pub);
  crypto::CookieChecker checker(hub.pub, rng);
  const Time now = Time{} + std::chrono::hours(1);
  std::vector<std::uint8_t> msg(wire::initiation::kSize, 0x11);
  wire::write_header(msg.data(), wire::MessageType::kInitiation);
  maker.stamp(msg, wire::initiation::kMac1, now);
  std::vector<std::uint8_t> bad(data, data + size);
  const auto source = Endpoint::v4(0x0a010002, 4000).key_bytes();
  std::vector<std::uint8_t> good(wire::cookie_reply::kSize);
  checker.make_reply(msg, wire::initiation::kMac1, 1, source, now, good);
  // Only nonce and sealed cookie are the reply's to authenticate (type and
  // receiver index are checked by whoever routes it here).
  const bool genuine = bad.size() == good.size() &&
                       std::equal(bad.begin() + wire::cookie_reply::kNonce, bad.end(), good.begin() + wire::cookie_reply::kNonce);
  if (!genuine) fuzz::check(!maker.consume_reply(bad, now), "forged cookie reply accepted");
  fuzz::check(maker.consume_reply(good, now), "maker changed by a failure");
  return 0;
}
