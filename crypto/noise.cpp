#include "crypto/noise.hpp"

#include <algorithm>
#include <cstring>

namespace tund::crypto::noise {

void SymmetricState::initialize(std::string_view name) {
  if (name.size() <= kHashSize) {
    h_.fill(0);
    std::memcpy(h_.data(), name.data(), name.size());
  } else {
    sha256(Bytes(reinterpret_cast<const std::uint8_t*>(name.data()), name.size()), {}, h_);
  }
  ck_ = h_;
  has_key_ = false;
  n_ = 0;
}

void SymmetricState::mix_hash(Bytes data) { sha256(h_, data, h_); }

void SymmetricState::mix_key(Bytes ikm) {
  Hash temp_k;
  hkdf2(ck_, ikm, ck_, temp_k);
  std::copy(temp_k.begin(), temp_k.end(), k_.begin());
  wipe(temp_k);
  has_key_ = true;
  n_ = 0;
}

void SymmetricState::encrypt_and_hash(Bytes plain, std::uint8_t* out) {
  std::size_t len = plain.size();
  if (has_key_) {
    aead_seal(k_, n_++, h_, plain, out);
    len += kAeadTag;
  } else if (out != plain.data()) {
    std::memmove(out, plain.data(), plain.size());
  }
  mix_hash(Bytes(out, len));
}

bool SymmetricState::decrypt_and_hash(Bytes cipher, std::uint8_t* out) {
  if (has_key_) {
    if (!aead_open(k_, n_, h_, cipher, out)) return false;
    ++n_;
  } else {
    std::memmove(out, cipher.data(), cipher.size());
  }
  mix_hash(cipher);
  return true;
}

void SymmetricState::split(Key& i2r, Key& r2i) const {
  Hash a, b;
  hkdf2(ck_, {}, a, b);
  std::copy(a.begin(), a.end(), i2r.begin());
  std::copy(b.begin(), b.end(), r2i.begin());
  wipe(a);
  wipe(b);
}

void SymmetricState::clear() {
  wipe(ck_);
  wipe(k_);
}

namespace {
// Mixes DH(priv, pub) into the chaining key; false for a low-order point.
bool mix_dh(SymmetricState& ss, const PrivateKey& priv, const PublicKey& pub) {
  Key shared;
  if (!dh(priv, pub, shared)) return false;
  ss.mix_key(shared);
  wipe(shared);
  return true;
}
}  // namespace

IkInitiator::IkInitiator(std::string_view protocol_name, Bytes prologue,
                         const PrivateKey& local_static, const PublicKey& local_static_pub,
                         const PublicKey& remote_static)
    : s_priv_(local_static), s_pub_(local_static_pub), rs_(remote_static) {
  symmetric_.initialize(protocol_name);
  symmetric_.mix_hash(prologue);
  symmetric_.mix_hash(rs_);  // pre-message: <- s
}

Failure IkInitiator::write_message1(const PrivateKey& ephemeral, Bytes payload, MutableBytes out) {
  if (out.size() != message1_size(payload.size())) return Failure::kBadSize;
  e_priv_ = ephemeral;
  PublicKey e_pub;
  if (!derive_public_key(e_priv_, e_pub)) return Failure::kLowOrder;
  std::uint8_t* p = out.data();
  std::memcpy(p, e_pub.data(), 32);  // e
  symmetric_.mix_hash(e_pub);
  p += 32;
  if (!mix_dh(symmetric_, e_priv_, rs_)) return Failure::kLowOrder;  // es
  symmetric_.encrypt_and_hash(s_pub_, p);                             // s
  p += 32 + kAeadTag;
  if (!mix_dh(symmetric_, s_priv_, rs_)) return Failure::kLowOrder;  // ss
  symmetric_.encrypt_and_hash(payload, p);
  return Failure::kNone;
}

Failure IkInitiator::read_message2(Bytes in, MutableBytes payload_out, TransportKeys& keys) {
  if (in.size() < message2_size(0) || payload_out.size() != in.size() - message2_size(0))
    return Failure::kBadSize;
  // Works on a copy and commits only when the AEAD check passes: a forged
  // response (anyone can compute a valid mac1) must leave the initiator able
  // to read the genuine one that follows.
  SymmetricState trial = symmetric_;
  PublicKey re;
  std::memcpy(re.data(), in.data(), 32);  // e
  trial.mix_hash(re);
  Failure f = Failure::kNone;
  if (!mix_dh(trial, e_priv_, re)) {
    f = Failure::kLowOrder;  // ee
  } else if (!mix_dh(trial, s_priv_, re)) {
    f = Failure::kLowOrder;  // se
  } else if (!trial.decrypt_and_hash(in.subspan(32), payload_out.data())) {
    f = Failure::kDecrypt;
  }
  if (f == Failure::kNone) {
    symmetric_ = trial;
    symmetric_.split(keys.send, keys.recv);
    keys.handshake_hash = symmetric_.handshake_hash();
  }
  trial.clear();
  return f;
}

IkResponder::IkResponder(std::string_view protocol_name, Bytes prologue,
                         const PrivateKey& local_static, const PublicKey& local_static_pub)
    : s_priv_(local_static) {
  symmetric_.initialize(protocol_name);
  symmetric_.mix_hash(prologue);
  symmetric_.mix_hash(local_static_pub);  // pre-message: <- s
}

Failure IkResponder::read_message1(Bytes in, MutableBytes payload_out, StaticSecretLookup lookup,
                                   const void* lookup_ctx) {
  if (in.size() < message1_size(0) || payload_out.size() != in.size() - message1_size(0))
    return Failure::kBadSize;
  // As in read_message2: a copy, committed only when every check passed.
  SymmetricState trial = symmetric_;
  PublicKey re, rs;
  const Failure f = read_message1_into(trial, re, rs, in, payload_out, lookup, lookup_ctx);
  if (f == Failure::kNone) {
    symmetric_ = trial;
    re_ = re;
    rs_ = rs;
  }
  trial.clear();
  return f;
}

Failure IkResponder::read_message1_into(SymmetricState& ss, PublicKey& re, PublicKey& rs, Bytes in,
                                        MutableBytes payload_out, StaticSecretLookup lookup,
                                        const void* lookup_ctx) const {
  const std::uint8_t* p = in.data();
  std::memcpy(re.data(), p, 32);  // e
  ss.mix_hash(re);
  p += 32;
  if (!mix_dh(ss, s_priv_, re)) return Failure::kLowOrder;  // es
  if (!ss.decrypt_and_hash(Bytes(p, 32 + kAeadTag), rs.data())) return Failure::kDecrypt;
  p += 32 + kAeadTag;
  if (const Key* shared = lookup ? lookup(lookup_ctx, rs) : nullptr) {
    ss.mix_key(*shared);  // ss, computed ahead
  } else if (!mix_dh(ss, s_priv_, rs)) {
    return Failure::kLowOrder;  // ss
  }
  const std::size_t rest = in.size() - static_cast<std::size_t>(p - in.data());
  if (!ss.decrypt_and_hash(Bytes(p, rest), payload_out.data())) return Failure::kDecrypt;
  return Failure::kNone;
}

Failure IkResponder::write_message2(const PrivateKey& ephemeral, Bytes payload, MutableBytes out,
                                    TransportKeys& keys) {
  if (out.size() != message2_size(payload.size())) return Failure::kBadSize;
  PublicKey e_pub;
  if (!derive_public_key(ephemeral, e_pub)) return Failure::kLowOrder;
  std::memcpy(out.data(), e_pub.data(), 32);  // e
  symmetric_.mix_hash(e_pub);
  if (!mix_dh(symmetric_, ephemeral, re_)) return Failure::kLowOrder;  // ee
  if (!mix_dh(symmetric_, ephemeral, rs_)) return Failure::kLowOrder;  // se
  symmetric_.encrypt_and_hash(payload, out.data() + 32);
  symmetric_.split(keys.recv, keys.send);  // responder receives on i->r
  keys.handshake_hash = symmetric_.handshake_hash();
  return Failure::kNone;
}

}  // namespace tund::crypto::noise
