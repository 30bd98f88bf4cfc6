// The packet path's buffers and workers, the same for both daemons: the send
// batch, the receive batch, the TUN reader and writer, and the crypto pool.
// A daemon owns one and adds what differs: which session seals a packet, which
// socket a batch goes to, what a received datagram becomes.
#pragma once

#include <vector>

#include "daemon/config_check.hpp"
#include "daemon/crypto_pool.hpp"
#include "daemon/tun_io.hpp"
#include "daemon/udp_socket.hpp"

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
};

}  // namespace tund::daemon
