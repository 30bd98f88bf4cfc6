// Why a packet was dropped. Every bad input is counted by one of these and
// dropped; nothing on the data path throws or replies to the unauthenticated.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace tund {

#define TUND_DROP_REASONS(X)                                                          \
  X(kMalformed, "malformed")                 /* unknown type, bad reserved bytes, size */ \
  X(kBadMac1, "bad_mac1")                    /* handshake without a valid mac1 */         \
  X(kCookieSent, "cookie_sent")              /* under load, no valid mac2: cookie reply */ \
  X(kRateLimited, "rate_limited")            /* under load, source over its budget */     \
  X(kHandshakeFailed, "handshake_failed")    /* AEAD or DH failure inside the handshake */ \
  X(kLowOrderKey, "low_order_key")           /* DH result all-zero */                     \
  X(kUnknownPeer, "unknown_peer")            /* static key not configured */              \
  X(kStaleTimestamp, "stale_timestamp")      /* replayed or old initiation */             \
  X(kInitiationFlood, "initiation_flood")    /* initiations too close together */         \
  X(kUnexpectedResponse, "unexpected_response") /* no pending handshake for it */          \
  X(kBadCookie, "bad_cookie")                /* cookie reply failed to decrypt */         \
  X(kUnknownIndex, "unknown_index")          /* receiver index maps to no live key */     \
  X(kKeyExpired, "key_expired")              /* keypair past kRejectAfterTime */          \
  X(kCounterLimit, "counter_limit")          /* counter at the hard limit */              \
  X(kReplay, "replay")                       /* duplicate or older than the window */     \
  X(kDuplicateData, "duplicate_data")        /* a resent packet that had arrived already */ \
  X(kDuplicateCopy, "duplicate_copy")        /* a copy (suspicion, redundancy) after its original */ \
  X(kBadAck, "bad_ack")                      /* acknowledges data never sent */           \
  X(kAuthFailed, "auth_failed")              /* AEAD tag mismatch */                      \
  X(kBadControl, "bad_control")              /* control frame unknown or wrong size */    \
  X(kBadInnerPacket, "bad_inner_packet")     /* decrypted bytes are not an IP packet */   \
  X(kInnerSourceMismatch, "inner_source_mismatch") /* inner source is not the session's VIP */ \
  X(kBadInnerSource, "bad_inner_source")     /* client: inner source outside the hub's allowed prefixes */ \
  X(kBadAssignment, "bad_assignment")        /* client: the hub's VIP, prefix or gateway is unusable */ \
  X(kSwitchRateLimited, "switch_rate_limited") /* hub: switching exchange asked again too soon */ \
  X(kNoSession, "no_session")                /* outgoing packet for no live session */    \
  X(kStagingFull, "staging_full")            /* waiting for a key, queue full */          \
  X(kStagingTotalFull, "staging_total_full") /* hub: all sessions' staged packets at staged_total_bytes */ \
  X(kPacketTooBig, "packet_too_big")         /* inner packet exceeds the buffer */        \
  X(kPathMtuExceeded, "path_mtu_exceeded")   /* inner packet larger than the active path carries */ \
  X(kNotServing, "not_serving")              /* hub: a cluster member without its etcd lease takes no handshakes */ \
  X(kUnvalidatedStandby, "unvalidated_standby") /* hub: no redundant copy to a standby address not yet validated */ \
  X(kRedundantBudget, "redundant_budget")    /* hub: the session's redundant copies are over their bytes per second */ \
  X(kAmplificationLimit, "amplification_limit") /* hub: to an unvalidated address, 3x what came from it was sent */ \
  X(kQueueNoMemory, "queue_no_memory")       /* the flow queue's memory (a hub: all sessions') is spent */

enum class DropReason : std::uint8_t {
#define TUND_X(name, text) name,
  TUND_DROP_REASONS(TUND_X)
#undef TUND_X
  kCount
};

inline constexpr std::size_t kDropReasonCount = static_cast<std::size_t>(DropReason::kCount);

inline constexpr std::string_view to_string(DropReason r) {
  constexpr std::array<std::string_view, kDropReasonCount> names = {
#define TUND_X(name, text) text,
      TUND_DROP_REASONS(TUND_X)
#undef TUND_X
  };
  const auto i = static_cast<std::size_t>(r);
  return i < names.size() ? names[i] : "unknown";
}

// Per-reason drop counters, owned by each core object that drops packets.
struct DropCounters {
  std::array<std::uint64_t, kDropReasonCount> by_reason{};
  void count(DropReason r) { ++by_reason[static_cast<std::size_t>(r)]; }
  std::uint64_t operator[](DropReason r) const { return by_reason[static_cast<std::size_t>(r)]; }
  std::uint64_t total() const {
    std::uint64_t t = 0;
    for (auto v : by_reason) t += v;
    return t;
  }
};

}  // namespace tund
