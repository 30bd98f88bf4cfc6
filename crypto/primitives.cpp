#include "crypto/primitives.hpp"

#include <sodium.h>

#include <cstdlib>
#include <cstring>

namespace tund::crypto {

void init() {
  // sodium_init is idempotent and thread-safe; -1 means no entropy source,
  // which no later step could recover from.
  if (sodium_init() < 0) std::abort();
}

void wipe(MutableBytes b) { sodium_memzero(b.data(), b.size()); }

void generate_private_key(Rng& rng, PrivateKey& out) {
  rng.fill(out);
  // Clamp as X25519 does, so the stored key is canonical.
  out[0] &= 248;
  out[31] &= 127;
  out[31] |= 64;
}

bool derive_public_key(const PrivateKey& priv, PublicKey& out) {
  return crypto_scalarmult_base(out.data(), priv.data()) == 0;
}

bool dh(const PrivateKey& priv, const PublicKey& pub, Key& out) {
  // libsodium returns -1 when the shared secret is all zero (low-order point).
  return crypto_scalarmult(out.data(), priv.data(), pub.data()) == 0;
}

bool is_low_order(const PublicKey& pub) {
  // Any fixed scalar works: a low-order point always gives an all-zero result.
  static const PrivateKey probe = [] {
    PrivateKey k{};
    k.fill(0x5a);
    k[0] &= 248;
    k[31] = (k[31] & 127) | 64;
    return k;
  }();
  Key shared;
  const bool ok = dh(probe, pub, shared);
  sodium_memzero(shared.data(), shared.size());
  return !ok;
}

void sha256(Bytes a, Bytes b, Hash& out) {
  crypto_hash_sha256_state st;
  crypto_hash_sha256_init(&st);
  crypto_hash_sha256_update(&st, a.data(), a.size());
  crypto_hash_sha256_update(&st, b.data(), b.size());
  crypto_hash_sha256_final(&st, out.data());
}

void hmac_sha256(Bytes key, Bytes a, Bytes b, Hash& out) {
  crypto_auth_hmacsha256_state st;
  crypto_auth_hmacsha256_init(&st, key.data(), key.size());
  crypto_auth_hmacsha256_update(&st, a.data(), a.size());
  crypto_auth_hmacsha256_update(&st, b.data(), b.size());
  crypto_auth_hmacsha256_final(&st, out.data());
  sodium_memzero(&st, sizeof st);
}

namespace {
void hkdf(const Hash& ck, Bytes ikm, Hash* outs[], int n) {
  Hash temp;
  hmac_sha256(ck, ikm, {}, temp);
  const std::uint8_t one = 1;
  hmac_sha256(temp, Bytes(&one, 1), {}, *outs[0]);
  for (int i = 1; i < n; ++i) {
    const std::uint8_t idx = static_cast<std::uint8_t>(i + 1);
    hmac_sha256(temp, *outs[i - 1], Bytes(&idx, 1), *outs[i]);
  }
  sodium_memzero(temp.data(), temp.size());
}
}  // namespace

void hkdf2(const Hash& ck, Bytes ikm, Hash& out1, Hash& out2) {
  Hash* outs[] = {&out1, &out2};
  hkdf(ck, ikm, outs, 2);
}

void hkdf3(const Hash& ck, Bytes ikm, Hash& out1, Hash& out2, Hash& out3) {
  Hash* outs[] = {&out1, &out2, &out3};
  hkdf(ck, ikm, outs, 3);
}

void mac16(Bytes key, Bytes msg, Mac& out) {
  crypto_generichash(out.data(), out.size(), msg.data(), msg.size(), key.data(), key.size());
}

namespace {
void noise_nonce(std::uint64_t counter, std::uint8_t nonce[12]) {
  std::memset(nonce, 0, 4);
  store_le64(nonce + 4, counter);
}
}  // namespace

void aead_seal(const Key& key, std::uint64_t counter, Bytes ad, Bytes plain, std::uint8_t* out) {
  std::uint8_t nonce[12];
  noise_nonce(counter, nonce);
  crypto_aead_chacha20poly1305_ietf_encrypt_detached(out, out + plain.size(), nullptr, plain.data(),
                                                     plain.size(), ad.data(), ad.size(), nullptr,
                                                     nonce, key.data());
}

bool aead_open(const Key& key, std::uint64_t counter, Bytes ad, Bytes cipher, std::uint8_t* out) {
  if (cipher.size() < kAeadTag) return false;
  std::uint8_t nonce[12];
  noise_nonce(counter, nonce);
  const std::size_t n = cipher.size() - kAeadTag;
  return crypto_aead_chacha20poly1305_ietf_decrypt_detached(out, nullptr, cipher.data(), n,
                                                            cipher.data() + n, ad.data(), ad.size(),
                                                            nonce, key.data()) == 0;
}

bool aes256gcm_available() {
  // libsodium learns the CPU's features in sodium_init: make sure it ran.
  static const bool available = (init(), crypto_aead_aes256gcm_is_available() == 1);
  return available;
}

const char* to_string(Suite s) { return s == Suite::kAes256Gcm ? "aes-256-gcm" : "chacha20-poly1305"; }

void aead_seal(Suite suite, const Key& key, std::uint64_t counter, Bytes ad, Bytes plain, std::uint8_t* out) {
  if (suite == Suite::kChaCha20Poly1305) return aead_seal(key, counter, ad, plain, out);
  std::uint8_t nonce[12];
  noise_nonce(counter, nonce);
  crypto_aead_aes256gcm_encrypt_detached(out, out + plain.size(), nullptr, plain.data(), plain.size(), ad.data(),
                                         ad.size(), nullptr, nonce, key.data());
}

bool aead_open(Suite suite, const Key& key, std::uint64_t counter, Bytes ad, Bytes cipher, std::uint8_t* out) {
  if (suite == Suite::kChaCha20Poly1305) return aead_open(key, counter, ad, cipher, out);
  if (cipher.size() < kAeadTag) return false;
  std::uint8_t nonce[12];
  noise_nonce(counter, nonce);
  const std::size_t n = cipher.size() - kAeadTag;
  return crypto_aead_aes256gcm_decrypt_detached(out, nullptr, cipher.data(), n, cipher.data() + n, ad.data(),
                                                ad.size(), nonce, key.data()) == 0;
}

void xaead_seal(const Key& key, const std::uint8_t* nonce24, Bytes ad, Bytes plain,
                std::uint8_t* out) {
  crypto_aead_xchacha20poly1305_ietf_encrypt_detached(out, out + plain.size(), nullptr,
                                                      plain.data(), plain.size(), ad.data(),
                                                      ad.size(), nullptr, nonce24, key.data());
}

bool xaead_open(const Key& key, const std::uint8_t* nonce24, Bytes ad, Bytes cipher,
                std::uint8_t* out) {
  if (cipher.size() < kAeadTag) return false;
  const std::size_t n = cipher.size() - kAeadTag;
  return crypto_aead_xchacha20poly1305_ietf_decrypt_detached(out, nullptr, cipher.data(), n,
                                                             cipher.data() + n, ad.data(),
                                                             ad.size(), nonce24, key.data()) == 0;
}

bool equal(Bytes a, Bytes b) {
  return a.size() == b.size() && sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string key_to_base64(const Key& key) {
  char buf[sodium_base64_ENCODED_LEN(kKeySize, sodium_base64_VARIANT_ORIGINAL)];
  sodium_bin2base64(buf, sizeof buf, key.data(), key.size(), sodium_base64_VARIANT_ORIGINAL);
  return std::string(buf);
}

bool key_from_base64(std::string_view text, Key& out) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' '))
    text.remove_suffix(1);
  if (text.size() != 44) return false;
  std::size_t len = 0;
  const char* end = nullptr;
  if (sodium_base642bin(out.data(), out.size(), text.data(), text.size(), nullptr, &len, &end,
                        sodium_base64_VARIANT_ORIGINAL) != 0)
    return false;
  return len == kKeySize && end == text.data() + text.size();
}

void SodiumRng::fill(MutableBytes out) { randombytes_buf(out.data(), out.size()); }

}  // namespace tund::crypto
