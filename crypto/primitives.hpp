// Thin, allocation-free wrappers over libsodium for what the protocol uses:
// X25519, the two transport AEADs (ChaCha20-Poly1305 IETF, and AES-256-GCM
// where the CPU has AES), SHA-256 with HMAC and HKDF, keyed BLAKE2b-128 for
// handshake MACs and XChaCha20-Poly1305 for cookie replies.
#pragma once

#include <array>
#include <cstdint>

#include <string>
#include <string_view>

#include "tund/rng.hpp"
#include "tund/types.hpp"

namespace tund::crypto {

inline constexpr std::size_t kHashSize = 32;
using Hash = std::array<std::uint8_t, kHashSize>;
using Mac = std::array<std::uint8_t, 16>;

// Must be called once before anything else here; safe to call repeatedly.
void init();

// Wipes secrets on destruction and on request.
void wipe(MutableBytes b);

// --- X25519 ------------------------------------------------------------------
void generate_private_key(Rng& rng, PrivateKey& out);
// Returns false for a private key that yields no usable public key.
bool derive_public_key(const PrivateKey& priv, PublicKey& out);
// Returns false when the result is all zero (peer sent a low-order point).
[[nodiscard]] bool dh(const PrivateKey& priv, const PublicKey& pub, Key& out);
// True when `pub` is a low-order point (any DH with it gives zero).
bool is_low_order(const PublicKey& pub);

// --- Hashes ------------------------------------------------------------------
void sha256(Bytes a, Bytes b, Hash& out);  // SHA-256(a || b)
void hmac_sha256(Bytes key, Bytes a, Bytes b, Hash& out);  // HMAC(key, a || b)
// Noise HKDF with two or three outputs (HKDF from HMAC-SHA256).
void hkdf2(const Hash& chaining_key, Bytes ikm, Hash& out1, Hash& out2);
void hkdf3(const Hash& chaining_key, Bytes ikm, Hash& out1, Hash& out2, Hash& out3);
// Keyed BLAKE2b with a 16-byte output: the handshake's mac1/mac2 and cookies.
void mac16(Bytes key, Bytes msg, Mac& out);

// --- AEAD ---------------------------------------------------------------------
inline constexpr std::size_t kAeadTag = 16;
// ChaCha20-Poly1305 IETF with a Noise nonce: 4 zero bytes then the counter LE.
// `out` must hold plain.size() + kAeadTag bytes; in-place is allowed.
void aead_seal(const Key& key, std::uint64_t counter, Bytes ad, Bytes plain, std::uint8_t* out);

// Transport AEAD suites, chosen in the handshake: ChaCha20-Poly1305 always,
// AES-256-GCM when both ends have hardware AES (libsodium only offers it then).
// Same 12-byte nonce (4 zero bytes, 64-bit LE counter), same 16-byte tag.
enum class Suite : std::uint8_t { kChaCha20Poly1305 = 0, kAes256Gcm = 1 };
bool aes256gcm_available();
const char* to_string(Suite s);
void aead_seal(Suite suite, const Key& key, std::uint64_t counter, Bytes ad, Bytes plain, std::uint8_t* out);
[[nodiscard]] bool aead_open(Suite suite, const Key& key, std::uint64_t counter, Bytes ad, Bytes cipher,
                             std::uint8_t* out);
// Returns false on a bad tag; `out` holds cipher.size() - kAeadTag bytes.
[[nodiscard]] bool aead_open(const Key& key, std::uint64_t counter, Bytes ad, Bytes cipher,
                             std::uint8_t* out);
// XChaCha20-Poly1305 with an explicit 24-byte nonce (cookie replies).
void xaead_seal(const Key& key, const std::uint8_t* nonce24, Bytes ad, Bytes plain,
                std::uint8_t* out);
[[nodiscard]] bool xaead_open(const Key& key, const std::uint8_t* nonce24, Bytes ad, Bytes cipher,
                              std::uint8_t* out);

bool equal(Bytes a, Bytes b);  // constant time for equal sizes

// Base64 of a 32-byte key (standard alphabet, padded), as wg prints keys.
std::string key_to_base64(const Key& key);
bool key_from_base64(std::string_view text, Key& out);

// The daemons' randomness: libsodium's CSPRNG.
class SodiumRng final : public Rng {
 public:
  void fill(MutableBytes out) override;
};

}  // namespace tund::crypto
