// mac1, mac2 and cookie replies, and low-order key detection.
#include <gtest/gtest.h>

#include "crypto/cookie.hpp"
#include "support/hex.hpp"
#include "support/sim.hpp"

namespace tund {
namespace {

using namespace std::chrono_literals;

TEST(Cookie, Mac1BindsToTheReceiverKeyAndEveryByte) {
  crypto::init();
  test::SeededRng rng(7);
  const auto hub = test::keypair_from_seed(2);
  const auto other = test::keypair_from_seed(3);
  crypto::CookieChecker checker(hub.pub, rng);
  crypto::CookieMaker maker(hub.pub), wrong(other.pub);
  const Time now{};
  std::vector<std::uint8_t> msg(wire::initiation::kSize, 0x11);
  maker.stamp(msg, wire::initiation::kMac1, now);
  EXPECT_TRUE(checker.mac1_valid(msg, wire::initiation::kMac1));
  for (std::size_t i = 0; i < wire::initiation::kMac2; ++i) {
    auto bad = msg;
    bad[i] ^= 0x80;
    EXPECT_FALSE(checker.mac1_valid(bad, wire::initiation::kMac1)) << i;
  }
  wrong.stamp(msg, wire::initiation::kMac1, now);
  EXPECT_FALSE(checker.mac1_valid(msg, wire::initiation::kMac1));
}

TEST(Cookie, ReplyGivesMac2ForThatSourceOnly) {
  crypto::init();
  test::SeededRng rng(8);
  const auto hub = test::keypair_from_seed(2);
  crypto::CookieChecker checker(hub.pub, rng);
  crypto::CookieMaker maker(hub.pub);
  Time now = Time{} + 1h;
  const auto src = Endpoint::v4(0x0a010002, 1234).key_bytes();
  const auto other_src = Endpoint::v4(0x0a010003, 1234).key_bytes();

  std::vector<std::uint8_t> msg(wire::initiation::kSize, 0x22);
  maker.stamp(msg, wire::initiation::kMac1, now);
  EXPECT_FALSE(checker.mac2_valid(msg, wire::initiation::kMac2, src, now));  // no cookie yet

  std::vector<std::uint8_t> reply(wire::cookie_reply::kSize);
  checker.make_reply(msg, wire::initiation::kMac1, 99, src, now, reply);
  EXPECT_EQ(wire::classify(reply), wire::MessageType::kCookieReply);
  EXPECT_EQ(load_le32(reply.data() + 4), 99u);

  auto tampered = reply;
  tampered[40] ^= 1;
  EXPECT_FALSE(maker.consume_reply(tampered, now));
  EXPECT_TRUE(maker.consume_reply(reply, now));
  EXPECT_FALSE(maker.consume_reply(reply, now)) << "one reply per message";
  EXPECT_TRUE(maker.has_cookie(now));

  maker.stamp(msg, wire::initiation::kMac1, now);
  EXPECT_TRUE(checker.mac2_valid(msg, wire::initiation::kMac2, src, now));
  EXPECT_FALSE(checker.mac2_valid(msg, wire::initiation::kMac2, other_src, now));

  // The secret rotates: an old cookie stops working, and the maker stops using it.
  now += limits::kCookieSecretLifetime;
  EXPECT_FALSE(checker.mac2_valid(msg, wire::initiation::kMac2, src, now));
  EXPECT_FALSE(maker.has_cookie(now));
}

TEST(Cookie, ReplyToAnotherMessageIsRefused) {
  crypto::init();
  test::SeededRng rng(9);
  const auto hub = test::keypair_from_seed(2);
  crypto::CookieChecker checker(hub.pub, rng);
  crypto::CookieMaker maker(hub.pub);
  const Time now{};
  std::vector<std::uint8_t> first(wire::initiation::kSize, 1), second(wire::initiation::kSize, 2);
  maker.stamp(first, wire::initiation::kMac1, now);
  std::vector<std::uint8_t> reply(wire::cookie_reply::kSize);
  checker.make_reply(first, wire::initiation::kMac1, 1, Endpoint::v4(1, 1).key_bytes(), now, reply);
  maker.stamp(second, wire::initiation::kMac1, now);  // the maker moved on
  EXPECT_FALSE(maker.consume_reply(reply, now));
}

TEST(LowOrder, AllKnownLowOrderPointsAreRefused) {
  crypto::init();
  const char* points[] = {
      "0000000000000000000000000000000000000000000000000000000000000000",
      "0100000000000000000000000000000000000000000000000000000000000000",
      "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
      "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
      "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
      "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
      "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
  };
  const auto me = test::keypair_from_seed(5);
  for (const char* hex : points) {
    PublicKey p;
    const auto v = test::from_hex(hex);
    std::copy(v.begin(), v.end(), p.begin());
    EXPECT_TRUE(crypto::is_low_order(p)) << hex;
    Key out;
    EXPECT_FALSE(crypto::dh(me.priv, p, out)) << hex;
  }
  EXPECT_FALSE(crypto::is_low_order(test::keypair_from_seed(6).pub));
}

TEST(Base64, KeysRoundTripAndBadInputIsRefused) {
  crypto::init();
  const auto k = test::keypair_from_seed(4).pub;
  const auto text = crypto::key_to_base64(k);
  EXPECT_EQ(text.size(), 44u);
  Key back;
  ASSERT_TRUE(crypto::key_from_base64(text + "\n", back));
  EXPECT_EQ(back, k);
  EXPECT_FALSE(crypto::key_from_base64(text.substr(0, 43), back));
  EXPECT_FALSE(crypto::key_from_base64("!" + text.substr(1), back));
  EXPECT_FALSE(crypto::key_from_base64("", back));
  EXPECT_FALSE(crypto::key_from_base64("AAAA", back));
}

}  // namespace
}  // namespace tund
