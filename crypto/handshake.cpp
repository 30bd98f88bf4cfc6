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

noise::Failure write_initiation(noise::IkInitiator& ik, const PrivateKey& ephemeral, std::uint32_t sender_index,
                                const InitiationPayload& payload, MutableBytes out) {
  namespace m = wire::initiation;
  namespace p = wire::initiation_payload;
  if (out.size() != m::kSize) return noise::Failure::kBadSize;
  wire::write_header(out.data(), wire::MessageType::kInitiation);
  store_le32(out.data() + m::kSender, sender_index);
  std::array<std::uint8_t, p::kSize> plain{};
  std::memcpy(plain.data() + p::kTimestamp, payload.timestamp.data(), payload.timestamp.size());
  store_le32(plain.data() + p::kCapabilities, payload.capabilities);
  store_le64(plain.data() + p::kSessionId, payload.session_id);
  return ik.write_message1(ephemeral, plain, out.subspan(m::kNoise, m::kNoiseSize));
}

std::uint32_t local_capabilities() {
  return aes256gcm_available() ? wire::initiation_payload::kCapAes256Gcm : 0;
}

noise::Failure read_response(noise::IkInitiator& ik, Bytes msg, ResponsePayload& payload,
                             noise::TransportKeys& keys) {
  namespace m = wire::response;
  namespace p = wire::response_payload;
  if (msg.size() != m::kSize) return noise::Failure::kBadSize;
  std::array<std::uint8_t, p::kSize> plain;
  const auto f = ik.read_message2(msg.subspan(m::kNoise, m::kNoiseSize), plain, keys);
  if (f != noise::Failure::kNone) return f;
  payload.vip.vip = load_be32(plain.data() + p::kVip);
  payload.vip.prefix_len = plain[p::kPrefixLen];
  payload.vip.mtu = static_cast<std::uint16_t>(plain[p::kMtu] | plain[p::kMtu + 1] << 8);
  payload.vip.gateway = load_be32(plain.data() + p::kGateway);
  payload.flags = plain[p::kFlags];
  std::memcpy(payload.vip.vip6.data(), plain.data() + p::kVip6, 16);
  payload.vip.prefix6_len = plain[p::kPrefix6Len];
  const std::uint8_t chosen = plain[p::kSuite];
  if (chosen == static_cast<std::uint8_t>(Suite::kChaCha20Poly1305)) {
    payload.suite = Suite::kChaCha20Poly1305;
  } else if (chosen == static_cast<std::uint8_t>(Suite::kAes256Gcm) && aes256gcm_available()) {
    payload.suite = Suite::kAes256Gcm;
  } else {
    // The keys were derived before the suite could be read: they go now,
    // not with whatever the caller does with a failed `keys`.
    wipe(keys.send);
    wipe(keys.recv);
    wipe(plain);
    return noise::Failure::kDecrypt;
  }
  wipe(plain);
  return noise::Failure::kNone;
}

noise::IkResponder make_responder(const StaticKeypair& local) {
  return noise::IkResponder(noise::kProtocolName, prologue(), local.priv, local.pub);
}

noise::Failure read_initiation(noise::IkResponder& ik, Bytes msg, InitiationPayload& payload,
                               noise::IkResponder::StaticSecretLookup lookup, const void* lookup_ctx) {
  namespace m = wire::initiation;
  namespace p = wire::initiation_payload;
  if (msg.size() != m::kSize) return noise::Failure::kBadSize;
  std::array<std::uint8_t, p::kSize> plain;
  const auto f = ik.read_message1(msg.subspan(m::kNoise, m::kNoiseSize), plain, lookup, lookup_ctx);
  if (f != noise::Failure::kNone) return f;
  std::memcpy(payload.timestamp.data(), plain.data() + p::kTimestamp, payload.timestamp.size());
  payload.capabilities = load_le32(plain.data() + p::kCapabilities);
  payload.session_id = load_le64(plain.data() + p::kSessionId);
  return noise::Failure::kNone;
}

noise::Failure write_response(noise::IkResponder& ik, const PrivateKey& ephemeral, std::uint32_t sender_index,
                              std::uint32_t receiver_index, const ResponsePayload& payload, MutableBytes out,
                              noise::TransportKeys& keys) {
  namespace m = wire::response;
  namespace p = wire::response_payload;
  if (out.size() != m::kSize) return noise::Failure::kBadSize;
  std::array<std::uint8_t, p::kSize> plain{};
  store_be32(plain.data() + p::kVip, payload.vip.vip);
  plain[p::kPrefixLen] = payload.vip.prefix_len;
  plain[p::kSuite] = static_cast<std::uint8_t>(payload.suite);
  plain[p::kFlags] = payload.flags;
  plain[p::kMtu] = static_cast<std::uint8_t>(payload.vip.mtu);
  plain[p::kMtu + 1] = static_cast<std::uint8_t>(payload.vip.mtu >> 8);
  store_be32(plain.data() + p::kGateway, payload.vip.gateway);
  std::memcpy(plain.data() + p::kVip6, payload.vip.vip6.data(), 16);
  plain[p::kPrefix6Len] = payload.vip.prefix6_len;
  wire::write_header(out.data(), wire::MessageType::kResponse);
  store_le32(out.data() + m::kSender, sender_index);
  store_le32(out.data() + m::kReceiver, receiver_index);
  return ik.write_message2(ephemeral, plain, out.subspan(m::kNoise, m::kNoiseSize), keys);
}

}  // namespace tund::crypto
