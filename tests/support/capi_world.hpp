// A C API client (include/tund/tund.h, through its exported functions) and
// the sans-I/O hub in memory, on a clock of its own: the unit tests' and the
// capi fuzz target's world. Uplinks 1 to 4 reach the hub; those in `down`
// lose everything.
#pragma once

#include <cstring>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "support/sim.hpp"
#include "tund/tund.h"

namespace tund::test {

inline constexpr std::uint64_t kStartUs = 3600ull * 1000000;
inline constexpr std::uint32_t kUplinks = 4;
inline const Endpoint kHubAddr = Endpoint::v4(0x0a030002, 51900);  // 10.3.0.2:51900

class CapiWorld {
 public:
  CapiWorld() : rng_(9), hub_(hub_config(), rng_) {
    const auto client = keypair_from_seed(1);
    hub_.add_client(client.pub, crypto::VipAssignment{kClientVip, 24, 0, kHubVip});
    const std::string toml = "private_key = \"" + crypto::key_to_base64(client.priv) + "\"\n" +
                             "[[hub]]\nname = \"main\"\nendpoint = \"10.3.0.2:51900\"\n" +
                             "public_key = \"" + crypto::key_to_base64(keypair_from_seed(2).pub) + "\"\n" +
                             "routes = [\"10.4.0.0/24\"]\n";
    c = tund_client_new(toml.data(), toml.size(), 1'700'000'000ll * 1'000'000'000ll, error, sizeof error);
  }
  ~CapiWorld() { tund_client_free(c); }

  static session::HubConfig hub_config() {
    session::HubConfig hc;
    hc.identity = keypair_from_seed(2);
    return hc;
  }
  Time time() const { return Time(std::chrono::microseconds(now_us)); }
  // Where the hub sees each uplink's datagrams come from.
  static Endpoint source(std::uint32_t uplink) { return Endpoint::v4(0x0a000002 + (uplink << 16), 40000); }

  // Moves datagrams both ways until nothing is left, then advances the clock.
  void run_for(std::uint64_t us) {
    const std::uint64_t end = now_us + us;
    while (now_us < end) {
      for (int round = 0; round < 100; ++round) {
        bool progress = false;
        std::uint8_t buf[2048];
        std::uint32_t uplink = 0;
        tund_addr to{};
        for (long n; (n = tund_poll_transmit(c, buf, sizeof buf, &uplink, &to)) > 0;) {
          progress = true;
          if (down.count(uplink)) continue;
          std::vector<std::uint8_t> reply(2048);
          const auto r = hub_.receive(MutableBytes(buf, static_cast<std::size_t>(n)), source(uplink), time(), reply);
          if (r.kind == session::ReceiveResult::Kind::kDeliver)
            to_hub.emplace_back(buf + r.offset, buf + r.offset + r.len);
          if (r.kind == session::ReceiveResult::Kind::kReply) deliver(uplink, reply.data(), r.len);
        }
        std::vector<std::uint8_t> out(2048);
        while (auto t = hub_.poll_transmit(out, time())) {
          progress = true;
          for (std::uint32_t u = 1; u <= kUplinks; ++u)
            if (t->to == source(u) && !down.count(u)) deliver(u, out.data(), t->len);
        }
        for (long n; (n = tund_poll_inner(c, buf, sizeof buf)) > 0;) to_client.emplace_back(buf, buf + n);
        for (tund_event ev; tund_poll_event(c, &ev) == 1;) events.push_back(ev);
        if (!progress) break;
      }
      if (hub_.next_deadline() <= time()) hub_.on_timer(time());
      now_us += 1000;
      if (tund_next_deadline_us(c) <= now_us) tund_on_time(c, now_us);
    }
  }
  int deliver(std::uint32_t uplink, const std::uint8_t* d, std::size_t n) {
    tund_addr from{};
    from.family = 4;
    std::memcpy(from.addr, kHubAddr.addr.data(), 4);
    from.port = kHubAddr.port;
    return tund_outer_datagram(c, uplink, &from, d, n, now_us);
  }
  bool saw(int kind) const {
    for (const auto& e : events)
      if (e.kind == kind) return true;
    return false;
  }
  nlohmann::json status() {
    char* s = tund_status_json(c, now_us);
    auto j = nlohmann::json::parse(s);
    tund_string_free(s);
    return j;
  }
  // The hub's genuine key for sealing as it would (the fuzz target's structured inputs).
  crypto::Keypair* hub_keypair() { return hub_.current_keypair_for_test(0); }
  // The server behind the hub sends an inner packet to the client's VIP.
  void hub_send(std::uint32_t seq) {
    std::vector<std::uint8_t> buf(2048);
    const auto inner = make_inner(kServer, kClientVip, seq);
    std::copy(inner.begin(), inner.end(), buf.begin() + wire::transport::kDataOffset);
    const auto r = hub_.seal_to_vip(kClientVip, buf, inner.size(), time());
    for (std::uint32_t u = 1; u <= kUplinks; ++u)
      if (r.kind == session::SealResult::Kind::kSend && r.to == source(u) && !down.count(u)) deliver(u, buf.data(), r.len);
  }

  tund_client* c = nullptr;  // null when the config was refused (error says why)
  char error[256] = "";
  std::uint64_t now_us = kStartUs;
  std::set<std::uint32_t> down;
  std::vector<tund_event> events;
  std::vector<std::vector<std::uint8_t>> to_hub, to_client;

 private:
  SeededRng rng_;
  session::Hub hub_;
};

}  // namespace tund::test
