// Checks the IK state machine against the published Noise test vectors
// (cacophony and noise-c) for our exact suite, Noise_IK_25519_ChaChaPoly_SHA256:
// both handshake messages, the handshake hash, and the transport messages
// after Split().
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "crypto/noise.hpp"
#include "support/hex.hpp"

namespace tund {
namespace {

using crypto::noise::Failure;
using test::from_hex;

std::filesystem::path vectors_path() {
  return std::filesystem::path(TUND_SOURCE_DIR) / "tests" / "vectors" / "noise-25519.json";
}

template <std::size_t N>
std::array<std::uint8_t, N> arr(const std::string& hex) {
  const auto v = from_hex(hex);
  std::array<std::uint8_t, N> a{};
  EXPECT_EQ(v.size(), N);
  std::copy_n(v.begin(), std::min(N, v.size()), a.begin());
  return a;
}

TEST(NoiseVectors, IkChaChaPolySha256) {
  crypto::init();
  std::ifstream in(vectors_path());
  ASSERT_TRUE(in) << "missing " << vectors_path() << " (shared/ must sit beside the repo)";
  const auto doc = nlohmann::json::parse(in);
  int checked = 0;
  for (const auto& v : doc["vectors"]) {
    std::string name;
    for (const char* field : {"protocol_name", "name"})
      if (v.contains(field) && v[field].is_string()) name = v[field];
    if (name != crypto::noise::kProtocolName) continue;
    SCOPED_TRACE(name + " from " + std::string(v["source_file"]));
    ASSERT_FALSE(v.contains("init_psks"));

    const auto init_static = arr<32>(v["init_static"]);
    const auto resp_static = arr<32>(v["resp_static"]);
    PublicKey init_pub, resp_pub;
    ASSERT_TRUE(crypto::derive_public_key(init_static, init_pub));
    ASSERT_TRUE(crypto::derive_public_key(resp_static, resp_pub));
    EXPECT_EQ(arr<32>(v["init_remote_static"]), resp_pub);
    const auto iprologue = from_hex(v["init_prologue"]);
    const auto rprologue = from_hex(v["resp_prologue"]);

    crypto::noise::IkInitiator ini(name, iprologue, init_static, init_pub, resp_pub);
    crypto::noise::IkResponder res(name, rprologue, resp_static, resp_pub);
    const auto& msgs = v["messages"];
    ASSERT_GE(msgs.size(), 2u);

    // -> e, es, s, ss
    const auto p0 = from_hex(msgs[0]["payload"]);
    const auto c0 = from_hex(msgs[0]["ciphertext"]);
    std::vector<std::uint8_t> m0(crypto::noise::message1_size(p0.size()));
    ASSERT_EQ(ini.write_message1(arr<32>(v["init_ephemeral"]), p0, m0), Failure::kNone);
    EXPECT_EQ(test::to_hex(m0), test::to_hex(c0));
    std::vector<std::uint8_t> got0(p0.size());
    ASSERT_EQ(res.read_message1(m0, got0), Failure::kNone);
    EXPECT_EQ(got0, p0);
    EXPECT_EQ(res.remote_static(), init_pub);

    // <- e, ee, se
    const auto p1 = from_hex(msgs[1]["payload"]);
    const auto c1 = from_hex(msgs[1]["ciphertext"]);
    std::vector<std::uint8_t> m1(crypto::noise::message2_size(p1.size()));
    crypto::noise::TransportKeys rkeys, ikeys;
    ASSERT_EQ(res.write_message2(arr<32>(v["resp_ephemeral"]), p1, m1, rkeys), Failure::kNone);
    EXPECT_EQ(test::to_hex(m1), test::to_hex(c1));
    std::vector<std::uint8_t> got1(p1.size());
    ASSERT_EQ(ini.read_message2(m1, got1, ikeys), Failure::kNone);
    EXPECT_EQ(got1, p1);
    if (v.contains("handshake_hash")) {  // noise-c's file has it, cacophony's does not
      EXPECT_EQ(test::to_hex(ikeys.handshake_hash), std::string(v["handshake_hash"]));
    }
    EXPECT_EQ(ikeys.handshake_hash, rkeys.handshake_hash);
    EXPECT_EQ(ikeys.send, rkeys.recv);
    EXPECT_EQ(ikeys.recv, rkeys.send);

    // Transport: alternating initiator, responder, each with its own nonce.
    std::uint64_t n_i = 0, n_r = 0;
    for (std::size_t i = 2; i < msgs.size(); ++i) {
      const auto p = from_hex(msgs[i]["payload"]);
      const auto c = from_hex(msgs[i]["ciphertext"]);
      const bool from_initiator = i % 2 == 0;
      std::vector<std::uint8_t> out(p.size() + crypto::kAeadTag);
      crypto::aead_seal(from_initiator ? ikeys.send : rkeys.send, from_initiator ? n_i++ : n_r++, {}, p,
                        out.data());
      EXPECT_EQ(test::to_hex(out), test::to_hex(c)) << "transport message " << i;
    }
    ++checked;
  }
  EXPECT_EQ(checked, 2) << "expected the cacophony and noise-c vectors of our suite";
}

TEST(NoiseVectors, TamperedMessageFailsAndLowOrderRefused) {
  crypto::init();
  PrivateKey is{}, rs{}, ie{};
  is.fill(1);
  rs.fill(2);
  ie.fill(3);
  PublicKey ipub, rpub;
  ASSERT_TRUE(crypto::derive_public_key(is, ipub));
  ASSERT_TRUE(crypto::derive_public_key(rs, rpub));
  crypto::noise::IkInitiator ini("Noise_IK_25519_ChaChaPoly_SHA256", {}, is, ipub, rpub);
  std::vector<std::uint8_t> m0(crypto::noise::message1_size(0));
  ASSERT_EQ(ini.write_message1(ie, {}, m0), Failure::kNone);
  for (std::size_t i = 32; i < m0.size(); i += 7) {
    auto bad = m0;
    bad[i] ^= 1;
    crypto::noise::IkResponder res("Noise_IK_25519_ChaChaPoly_SHA256", {}, rs, rpub);
    std::vector<std::uint8_t> out(0);
    EXPECT_EQ(res.read_message1(bad, out), Failure::kDecrypt) << "byte " << i;
  }
  // An all-zero ephemeral is a low-order point: refused before any decryption.
  auto zero_e = m0;
  std::fill(zero_e.begin(), zero_e.begin() + 32, 0);
  crypto::noise::IkResponder res("Noise_IK_25519_ChaChaPoly_SHA256", {}, rs, rpub);
  std::vector<std::uint8_t> out(0);
  EXPECT_EQ(res.read_message1(zero_e, out), Failure::kLowOrder);
}

}  // namespace
}  // namespace tund
