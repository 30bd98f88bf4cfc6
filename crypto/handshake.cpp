#include "crypto/handshake.hpp"

#include <cstring>

namespace tund::crypto {

namespace {
Bytes prologue() {
  return Bytes(reinterpret_cast<const std::uint8_t*>(kPrologue.data()), kPrologue.size());
}
}  // namespace

bool StaticKeypair::complete() { return derive_public_key(priv, pub) && !is_low_order(pub); }

Timestamp encode_timestamp(WallTime ns) {
  Timestamp ts;
  store_be64(ts.data(), ns / 1'000'000'000u);
  store_be32(ts.data() + 8, static_cast<std::uint32_t>(ns % 1'000'000'000u));
  return ts;
}

noise::IkInitiator make_initiator(const StaticKeypair& local, const PublicKey& hub) {
  return noise::IkInitiator(noise::kProtocolName, prologue(), local.priv, local.pub, hub);
}

noise::Failure write_initiation(noise::IkInitiator& ik, const PrivateKey& ephemeral,
                                std::uint32_t sender_index, const Timestamp& ts, std::uint32_t capabilities,
                                MutableBytes out) {
  namespace m = wire::initiation;
  namespace p = wire::initiation_payload;
  if (out.size() != m::kSize) return noise::Failure::kBadSize;
  wire::write_header(out.data(), wire::MessageType::kInitiation);
  store_le32(out.data() + m::kSender, sender_index);
  std::array<std::uint8_t, p::kSize> payload{};
  std::memcpy(payload.data() + p::kTimestamp, ts.data(), ts.size());
  store_le32(payload.data() + p::kCapabilities, capabilities);
  return ik.write_message1(ephemeral, payload, out.subspan(m::kNoise, m::kNoiseSize));
}

std::uint32_t local_capabilities() {
  return aes256gcm_available() ? wire::initiation_payload::kCapAes256Gcm : 0;
}

noise::Failure read_response(noise::IkInitiator& ik, Bytes msg, VipAssignment& vip, Suite& suite,
                             std::uint8_t& flags, noise::TransportKeys& keys) {
  namespace m = wire::response;
  namespace p = wire::response_payload;
  if (msg.size() != m::kSize) return noise::Failure::kBadSize;
  std::array<std::uint8_t, p::kSize> payload;
  const auto f = ik.read_message2(msg.subspan(m::kNoise, m::kNoiseSize), payload, keys);
  if (f != noise::Failure::kNone) return f;
  vip.vip = load_be32(payload.data() + p::kVip);
  vip.prefix_len = payload[p::kPrefixLen];
  vip.mtu = static_cast<std::uint16_t>(payload[p::kMtu] | payload[p::kMtu + 1] << 8);
  vip.gateway = load_be32(payload.data() + p::kGateway);
  flags = payload[p::kFlags];
  // A suite we did not offer, or do not know, fails the handshake.
  const std::uint8_t chosen = payload[p::kSuite];
  if (chosen == static_cast<std::uint8_t>(Suite::kChaCha20Poly1305)) {
    suite = Suite::kChaCha20Poly1305;
  } else if (chosen == static_cast<std::uint8_t>(Suite::kAes256Gcm) && aes256gcm_available()) {
    suite = Suite::kAes256Gcm;
  } else {
    return noise::Failure::kDecrypt;
  }
  return noise::Failure::kNone;
}

noise::IkResponder make_responder(const StaticKeypair& local) {
  return noise::IkResponder(noise::kProtocolName, prologue(), local.priv, local.pub);
}

noise::Failure read_initiation(noise::IkResponder& ik, Bytes msg, Timestamp& ts, std::uint32_t& capabilities,
                               noise::IkResponder::StaticSecretLookup lookup, const void* lookup_ctx) {
  namespace m = wire::initiation;
  namespace p = wire::initiation_payload;
  if (msg.size() != m::kSize) return noise::Failure::kBadSize;
  std::array<std::uint8_t, p::kSize> payload;
  const auto f = ik.read_message1(msg.subspan(m::kNoise, m::kNoiseSize), payload, lookup, lookup_ctx);
  if (f != noise::Failure::kNone) return f;
  std::memcpy(ts.data(), payload.data() + p::kTimestamp, ts.size());
  capabilities = load_le32(payload.data() + p::kCapabilities);
  return noise::Failure::kNone;
}

noise::Failure write_response(noise::IkResponder& ik, const PrivateKey& ephemeral,
                              std::uint32_t sender_index, std::uint32_t receiver_index,
                              const VipAssignment& vip, Suite suite, std::uint8_t flags, MutableBytes out,
                              noise::TransportKeys& keys) {
  namespace m = wire::response;
  namespace p = wire::response_payload;
  if (out.size() != m::kSize) return noise::Failure::kBadSize;
  std::array<std::uint8_t, p::kSize> payload{};
  store_be32(payload.data() + p::kVip, vip.vip);
  payload[p::kPrefixLen] = vip.prefix_len;
  payload[p::kSuite] = static_cast<std::uint8_t>(suite);
  payload[p::kFlags] = flags;
  payload[p::kMtu] = static_cast<std::uint8_t>(vip.mtu);
  payload[p::kMtu + 1] = static_cast<std::uint8_t>(vip.mtu >> 8);
  store_be32(payload.data() + p::kGateway, vip.gateway);
  wire::write_header(out.data(), wire::MessageType::kResponse);
  store_le32(out.data() + m::kSender, sender_index);
  store_le32(out.data() + m::kReceiver, receiver_index);
  return ik.write_message2(ephemeral, payload, out.subspan(m::kNoise, m::kNoiseSize), keys);
}

}  // namespace tund::crypto
