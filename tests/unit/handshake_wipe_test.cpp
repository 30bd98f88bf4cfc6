// Secrets the handshake leaves behind: an IkInitiator or IkResponder wipes
// its copy of the static private key when it is destroyed, and a response
// refused for its suite leaves no derived transport keys in the caller's
// struct. (Before: both stayed in memory until overwritten.)
#include <gtest/gtest.h>

#include <algorithm>
#include <new>

#include "crypto/handshake.hpp"
#include "support/sim.hpp"

namespace tund {
namespace {

using crypto::StaticKeypair;

template <std::size_t N>
bool holds(const unsigned char (&storage)[N], const PrivateKey& k) {
  return std::search(storage, storage + N, k.begin(), k.end()) != storage + N;
}

TEST(HandshakeWipe, InitiatorAndResponderWipeTheirStaticKeyWhenDestroyed) {
  crypto::init();
  const StaticKeypair client = test::keypair_from_seed(11), hub = test::keypair_from_seed(12);
  {
    alignas(crypto::noise::IkInitiator) unsigned char storage[sizeof(crypto::noise::IkInitiator)];
    auto* ik = new (storage) crypto::noise::IkInitiator(crypto::make_initiator(client, hub.pub));
    ASSERT_TRUE(holds(storage, client.priv));  // the test looks in the right place
    ik->~IkInitiator();
    EXPECT_FALSE(holds(storage, client.priv));
  }
  {
    alignas(crypto::noise::IkResponder) unsigned char storage[sizeof(crypto::noise::IkResponder)];
    auto* ik = new (storage) crypto::noise::IkResponder(crypto::make_responder(hub));
    ASSERT_TRUE(holds(storage, hub.priv));
    ik->~IkResponder();
    EXPECT_FALSE(holds(storage, hub.priv));
  }
}

TEST(HandshakeWipe, AResponseRefusedForItsSuiteLeavesNoKeys) {
  crypto::init();
  const StaticKeypair client = test::keypair_from_seed(11), hub = test::keypair_from_seed(12);
  PrivateKey e1 = test::keypair_from_seed(13).priv, e2 = test::keypair_from_seed(14).priv;
  auto initiator = crypto::make_initiator(client, hub.pub);
  auto responder = crypto::make_responder(hub);
  std::array<std::uint8_t, wire::initiation::kSize> init{};
  ASSERT_EQ(crypto::write_initiation(initiator, e1, 1, {}, init), crypto::noise::Failure::kNone);
  crypto::InitiationPayload got;
  ASSERT_EQ(crypto::read_initiation(responder, init, got), crypto::noise::Failure::kNone);
  crypto::ResponsePayload answer;
  answer.suite = static_cast<crypto::Suite>(7);  // a suite the client never offered
  std::array<std::uint8_t, wire::response::kSize> resp{};
  crypto::noise::TransportKeys hub_keys, client_keys;
  ASSERT_EQ(crypto::write_response(responder, e2, 2, 1, answer, resp, hub_keys), crypto::noise::Failure::kNone);
  crypto::ResponsePayload read;
  EXPECT_EQ(crypto::read_response(initiator, resp, read, client_keys), crypto::noise::Failure::kDecrypt);
  const Key zero{};
  EXPECT_EQ(client_keys.send, zero);
  EXPECT_EQ(client_keys.recv, zero);
}

}  // namespace
}  // namespace tund
