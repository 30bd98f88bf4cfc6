// Handshake MACs and cookies (WireGuard's scheme, over keyed BLAKE2b-128):
//   mac1 = MAC(SHA256("mac1----" || receiver's static public key), msg up to mac1)
//   mac2 = MAC(cookie, msg up to mac2), or zeros when the sender has no cookie
//   cookie = MAC(secret rotated every kCookieSecretLifetime, source address)
// A message without a valid mac1 costs the receiver no Diffie-Hellman and gets
// no reply. Under load, a responder answers an initiation without a valid mac2
// with a 64-byte cookie reply instead of processing it.
#pragma once

#include "crypto/primitives.hpp"
#include "tund/limits.hpp"
#include "tund/rng.hpp"

namespace tund::crypto {

// Responder side: validates macs on messages sent to us and makes cookie replies.
class CookieChecker {
 public:
  CookieChecker(const PublicKey& local_static_pub, Rng& rng);

  // `msg` is a whole handshake message whose mac1 sits at mac1_offset and mac2 right after.
  bool mac1_valid(Bytes msg, std::size_t mac1_offset) const;
  bool mac2_valid(Bytes msg, std::size_t mac2_offset, Bytes source, Time now);

  // Writes a cookie reply (wire::cookie_reply::kSize bytes) for the message
  // `msg` from `source`, addressed to `receiver_index`.
  void make_reply(Bytes msg, std::size_t mac1_offset, std::uint32_t receiver_index, Bytes source,
                  Time now, MutableBytes out);

 private:
  void cookie_for(Bytes source, Time now, Mac& out);

  Rng& rng_;
  Key mac1_key_{};
  Key cookie_key_{};
  Key secret_{};
  Time secret_born_ = Time::min();
};

// Initiator side: stamps mac1/mac2 on messages we send, remembers cookies.
class CookieMaker {
 public:
  explicit CookieMaker(const PublicKey& remote_static_pub);

  // Fills mac1 and mac2 of `msg` (mac2 = zeros without a fresh cookie) and
  // remembers mac1 so a cookie reply to this message can be opened.
  void stamp(MutableBytes msg, std::size_t mac1_offset, Time now);
  // Consumes a cookie reply; false if it does not decrypt against our last mac1.
  bool consume_reply(Bytes reply, Time now);
  bool has_cookie(Time now) const { return cookie_valid_ && now - cookie_born_ < limits::kCookieLifetime; }

 private:
  Key mac1_key_{};
  Key cookie_key_{};
  Mac last_mac1_{};
  bool last_mac1_valid_ = false;
  Mac cookie_{};
  bool cookie_valid_ = false;
  Time cookie_born_{};
};

}  // namespace tund::crypto
