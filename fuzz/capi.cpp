// The C API (include/tund/tund.h) with hostile input through its C functions,
// a connected client beside the in-memory hub. First byte picks the mode:
//   0   the rest, split at 0xff bytes, are raw datagrams from the hub's
//       address on uplink 1 (tund_outer_datagram)
//   1   the rest is a data plaintext sealed under the hub's genuine keys
//   2   the rest is an inner packet from the TUN (tund_inner_packet)
//   3   the rest drives the uplink table: each byte an add, remove, up/down
//       or metered call on uplinks 1..4, then a time step
// Invariant: after raw garbage, hostile inner packets or any uplink churn
// that ends with uplink 1 up, the client still carries traffic both ways.
#include "fuzz.hpp"
#include "support/capi_world.hpp"

namespace {

using namespace tund;

bool still_talks(test::CapiWorld& w) {
  const auto up = w.to_hub.size(), down = w.to_client.size();
  const auto inner = test::make_inner(test::kClientVip, test::kServer, 77);
  if (tund_inner_packet(w.c, inner.data(), inner.size(), w.now_us) != TUND_OK) return false;
  w.run_for(30000);
  w.hub_send(78);
  w.run_for(30000);
  return w.to_hub.size() > up && w.to_client.size() > down;
}

void churn_uplinks(test::CapiWorld& w, const std::uint8_t* data, std::size_t size) {
  for (std::size_t i = 0; i < size; ++i) {
    const std::uint32_t id = 1 + (data[i] & 3);
    switch ((data[i] >> 2) & 3) {
      case 0: tund_uplink_add(w.c, id, id == 1 ? "wlan0" : "lte0", (data[i] >> 4) & 15, 1200 + data[i], w.now_us); break;
      case 1: tund_uplink_remove(w.c, id, w.now_us); break;
      case 2: tund_uplink_set_up(w.c, id, data[i] & 16, w.now_us); break;
      default: tund_uplink_set_metered(w.c, id, data[i] & 16, w.now_us); break;
    }
    w.run_for(1000 * (1 + (data[i] >> 6)));
  }
  // Every uplink reaches the hub; at the end wlan0 is up, and the policy
  // gets a hold-down's time to settle.
  tund_uplink_add(w.c, 1, "wlan0", TUND_UPLINK_UP | TUND_UPLINK_IPV4, 1500, w.now_us);
  w.run_for(3000000);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  test::CapiWorld w;
  fuzz::check(w.c != nullptr, "the harness's config loads");
  tund_uplink_add(w.c, 1, "wlan0", TUND_UPLINK_UP | TUND_UPLINK_IPV4, 1500, w.now_us);
  w.run_for(100000);
  fuzz::check(w.saw(TUND_EVENT_CONNECTED), "the harness connects");
  const std::uint8_t mode = data[0] % 4;
  const std::uint8_t* rest = data + 1;
  const std::size_t n = size - 1;
  if (mode == 0) {
    for (std::size_t at = 0; at <= n;) {
      const auto* end = static_cast<const std::uint8_t*>(std::memchr(rest + at, 0xff, n - at));
      const std::size_t len = end ? static_cast<std::size_t>(end - (rest + at)) : n - at;
      w.deliver(1, rest + at, len);
      at += len + 1;
    }
  } else if (mode == 1) {
    auto* kp = w.hub_keypair();
    fuzz::check(kp != nullptr, "hub keypair");
    const auto d = fuzz::seal(*kp, wire::MessageType::kData, rest, n);
    w.deliver(1, d.data(), d.size());
  } else if (mode == 2) {
    tund_inner_packet(w.c, rest, n, w.now_us);
  } else {
    churn_uplinks(w, rest, n);
  }
  w.run_for(20000);
  char* status = tund_status_json(w.c, w.now_us);
  fuzz::check(status != nullptr, "status JSON after any input");
  tund_string_free(status);
  if (mode != 1) fuzz::check(still_talks(w), "the client still talks after hostile input");
  return 0;
}
