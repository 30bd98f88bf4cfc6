#include "crypto/cookie.hpp"

#include <algorithm>
#include <cstring>

#include "tund/wire.hpp"

namespace tund::crypto {

namespace {
constexpr std::string_view kLabelMac1 = "mac1----";
constexpr std::string_view kLabelCookie = "cookie--";

void derive_key(std::string_view label, const PublicKey& pub, Key& out) {
  Hash h;
  sha256(Bytes(reinterpret_cast<const std::uint8_t*>(label.data()), label.size()), pub, h);
  std::copy(h.begin(), h.end(), out.begin());
}
}  // namespace

CookieChecker::CookieChecker(const PublicKey& local_static_pub, Rng& rng) : rng_(rng) {
  derive_key(kLabelMac1, local_static_pub, mac1_key_);
  derive_key(kLabelCookie, local_static_pub, cookie_key_);
}

bool CookieChecker::mac1_valid(Bytes msg, std::size_t mac1_offset) const {
  Mac expected;
  mac16(mac1_key_, msg.first(mac1_offset), expected);
  return equal(expected, msg.subspan(mac1_offset, wire::kMacSize));
}

void CookieChecker::cookie_for(Bytes source, Time now, Mac& out) {
  if (secret_born_ == Time::min() || now - secret_born_ >= limits::kCookieSecretLifetime) {
    rng_.fill(secret_);
    secret_born_ = now;
  }
  mac16(secret_, source, out);
}

bool CookieChecker::mac2_valid(Bytes msg, std::size_t mac2_offset, Bytes source, Time now) {
  Mac cookie, expected;
  cookie_for(source, now, cookie);
  mac16(cookie, msg.first(mac2_offset), expected);
  return equal(expected, msg.subspan(mac2_offset, wire::kMacSize));
}

void CookieChecker::make_reply(Bytes msg, std::size_t mac1_offset, std::uint32_t receiver_index,
                               Bytes source, Time now, MutableBytes out) {
  namespace cr = wire::cookie_reply;
  Mac cookie;
  cookie_for(source, now, cookie);
  std::uint8_t* p = out.data();
  wire::write_header(p, wire::MessageType::kCookieReply);
  store_le32(p + cr::kReceiver, receiver_index);
  rng_.fill(MutableBytes(p + cr::kNonce, cr::kNonceSize));
  xaead_seal(cookie_key_, p + cr::kNonce, msg.subspan(mac1_offset, wire::kMacSize), cookie,
             p + cr::kCookie);
}

CookieMaker::CookieMaker(const PublicKey& remote_static_pub) {
  derive_key(kLabelMac1, remote_static_pub, mac1_key_);
  derive_key(kLabelCookie, remote_static_pub, cookie_key_);
}

void CookieMaker::stamp(MutableBytes msg, std::size_t mac1_offset, Time now) {
  Mac mac1;
  mac16(mac1_key_, Bytes(msg.data(), mac1_offset), mac1);
  std::memcpy(msg.data() + mac1_offset, mac1.data(), mac1.size());
  last_mac1_ = mac1;
  last_mac1_valid_ = true;
  const std::size_t mac2_offset = mac1_offset + wire::kMacSize;
  if (has_cookie(now)) {
    Mac mac2;
    mac16(cookie_, Bytes(msg.data(), mac2_offset), mac2);
    std::memcpy(msg.data() + mac2_offset, mac2.data(), mac2.size());
  } else {
    std::memset(msg.data() + mac2_offset, 0, wire::kMacSize);
  }
}

bool CookieMaker::consume_reply(Bytes reply, Time now) {
  namespace cr = wire::cookie_reply;
  if (!last_mac1_valid_ || reply.size() != cr::kSize) return false;
  Mac cookie;
  if (!xaead_open(cookie_key_, reply.data() + cr::kNonce, last_mac1_,
                  reply.subspan(cr::kCookie, cr::kCookieSize + kAeadTag), cookie.data()))
    return false;
  cookie_ = cookie;
  cookie_valid_ = true;
  cookie_born_ = now;
  // A reply is good for one message: a second copy of it must not refresh the cookie.
  last_mac1_valid_ = false;
  return true;
}

}  // namespace tund::crypto
