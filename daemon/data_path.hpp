// The packet path's buffers and workers, the same for both daemons: the send
// batch, the receive batch, the TUN reader and writer, and the crypto pool.
// A daemon owns one and adds what differs: which session seals a packet, which
// socket a batch goes to, what a received datagram becomes.
#pragma once

#include <cstring>
#include <vector>

#include "daemon/config_check.hpp"
#include "daemon/crypto_pool.hpp"
#include "daemon/tun_io.hpp"
#include "daemon/udp_socket.hpp"
#include "session/inner_mtu.hpp"
#include "tund/wire.hpp"

namespace tund::daemon {

class DataPath {
 public:
  DataPath(TunDevice& tun, unsigned mtu, const config::DataPathSettings& settings)
      : tx(limits::kTxSlots, tx_stride(mtu)), reader(tun), writer(tun, settings.offload), pool(settings.crypto_threads) {}
  DataPath(const DataPath&) = delete;
  DataPath& operator=(const DataPath&) = delete;

  TxBatch tx;
  DatagramBatch rx;
  TunReader reader;
  TunWriter writer;
  CryptoPool pool;

  // Runs the send batch's deferred AEADs (in parallel) before it is sent.
  void seal_batch() {
    pool.run(tx.jobs.size(), [this](std::size_t i) { tx.jobs[i].run(); });
  }

  // The packet in send slot i does not fit the active path (SealResult::kTooBig;
  // the path carries `inner_mtu`). An IPv4 packet without DF is split into
  // fragments that fit, as a router would: the first in slot i, the rest in
  // slots appended to the batch, each given to seal_slot(slot) as a freshly
  // read packet would be. Any other gets the ICMP error a router would send,
  // into the TUN (rate-limited).
  template <class SealSlot>
  void too_big(std::size_t i, std::size_t inner_mtu, Time now, SealSlot&& seal_slot) {
    namespace t = wire::transport;
    const Bytes inner(tx.slot(i) + t::kDataOffset, tx.entry(i).len);
    tx.entry(i).len = 0;
    const std::size_t room = tx.stride() - t::kDataOffset - wire::kTagSize;
    const std::size_t n = session::ipv4_fragment_count(inner, inner_mtu);
    if (n && n - 1 <= tx.free()) {
      ++fragmented;
      for (std::size_t k = n; k-- > 0;) {  // the first last: it overwrites the original's head
        const std::size_t slot = k ? tx.count + k - 1 : i;
        tx.entry(slot).len = session::ipv4_fragment(inner, inner_mtu, k, MutableBytes(tx.slot(slot) + t::kDataOffset, room));
      }
      tx.count += n - 1;
      seal_slot(i);
      for (std::size_t k = 1; k < n; ++k) seal_slot(tx.count - n + k);
      return;
    }
    ++too_big_count;
    if (!too_big_limiter_.allow(now)) return;
    if (const std::size_t len = session::too_big_reply(inner, inner_mtu, too_big_buf_))
      writer.add(Bytes(too_big_buf_.data(), len));
  }
  // Seals the segments of one packet read from the TUN, slots [first,
  // first+count), each by seal_slot(slot, on_too_big); a segment too big for
  // the path goes to too_big() through on_too_big(slot, inner_mtu), and its
  // fragments to seal_slot again, where being too big (the path shrank in
  // between: a fragment fits by construction) drops them.
  template <class SealSlot>
  void seal_segments(std::size_t first, std::size_t count, Time now, SealSlot&& seal_slot) {
    const auto drop = [this](std::size_t slot, std::size_t) { tx.entry(slot).len = 0; };
    for (std::size_t i = first; i < first + count; ++i)
      seal_slot(i, [&](std::size_t at, std::size_t inner_mtu) {
        too_big(at, inner_mtu, now, [&](std::size_t fragment) { seal_slot(fragment, drop); });
      });
  }

  // The packet just sealed in send slot i wants a copy on a second path
  // (SealResult::copy, the redundancy policy): its inner packet, still
  // plaintext until the batch is sealed, is copied into a slot appended to
  // the batch, which seal_copy(slot, inner_len) seals and addresses (false:
  // no copy after all). No free slot: the copy is skipped and counted.
  template <class SealCopy>
  void copy_slot(std::size_t i, std::size_t inner_len, SealCopy&& seal_copy) {
    namespace t = wire::transport;
    if (tx.free() == 0) {
      ++copies_skipped;
      return;
    }
    const std::size_t c = tx.count++;
    std::memcpy(tx.slot(c) + t::kDataOffset, tx.slot(i) + t::kDataOffset, inner_len);
    if (!seal_copy(c, inner_len)) tx.entry(c).len = 0;
  }
  std::uint64_t copies_skipped = 0;  // redundant copies with no room in the batch
  std::uint64_t too_big_count = 0;  // packets answered with ICMP (or left unanswered: rate limit, no DF with options)
  std::uint64_t fragmented = 0;     // IPv4 packets without DF split to fit

  // Decrypts the receive batch ahead (keypair_for(datagram) names each
  // datagram's keypair), then calls handle(datagram, buffer index, job) for
  // every datagram in order; job is nullptr when none was decrypted ahead.
  template <class KeypairFor, class Handle>
  void open_batch(KeypairFor&& keypair_for, Handle&& handle) {
    pool.open_ahead(rx, open_jobs_, keypair_for);
    std::size_t next = 0;
    rx.for_each_datagram([&](MutableBytes d, std::size_t i) {
      const crypto::OpenJob* job =
          next < open_jobs_.size() && open_jobs_[next].msg == d.data() ? &open_jobs_[next++] : nullptr;
      handle(d, i, job);
    });
  }

 private:
  std::vector<crypto::OpenJob> open_jobs_;
  session::TooBigLimiter too_big_limiter_;
  std::array<std::uint8_t, session::kTooBigReplyMax> too_big_buf_{};
};

}  // namespace tund::daemon
