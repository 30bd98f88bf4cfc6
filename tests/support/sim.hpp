// An in-memory two-party world: one session::Client and one session::Hub, a
// fake clock, and a wire that can drop, duplicate and reorder with a fixed
// seed. Records every (direction, receiver index, counter) that is sent, so a
// test can assert no nonce is ever used twice under one key.
#pragma once

#include <algorithm>
#include <array>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <tuple>
#include <vector>

#include "crypto/primitives.hpp"
#include "session/client.hpp"
#include "session/hub.hpp"
#include "support/test_rng.hpp"

namespace tund::test {

struct WireNoise {
  double drop = 0;
  double duplicate = 0;
  Duration max_extra_delay{0};  // uniform extra delay per datagram: reorders
};

inline crypto::StaticKeypair keypair_from_seed(std::uint8_t seed) {
  crypto::StaticKeypair k;
  k.priv.fill(seed);
  k.priv[0] &= 248;
  k.priv[31] = (k.priv[31] & 127) | 64;
  k.complete();
  return k;
}

inline constexpr std::uint32_t kClientVip = 0x0a4d0002;  // 10.77.0.2
inline constexpr std::uint32_t kHubVip = 0x0a4d0001;
inline constexpr std::uint32_t kServer = 0x0a040002;     // 10.4.0.2

// An IPv4/UDP-shaped packet whose payload is a sequence number and a pattern.
inline std::vector<std::uint8_t> make_inner(std::uint32_t src, std::uint32_t dst, std::uint32_t seq,
                                            std::size_t size = 200) {
  std::vector<std::uint8_t> p(size, 0);
  p[0] = 0x45;
  store_be16(p.data() + 2, static_cast<std::uint16_t>(size));
  p[8] = 64;
  p[9] = 17;
  store_be32(p.data() + 12, src);
  store_be32(p.data() + 16, dst);
  store_be32(p.data() + 28, seq);
  for (std::size_t i = 32; i < size; ++i) p[i] = static_cast<std::uint8_t>(seq * 31 + i);
  return p;
}

// A UDP packet of the flow client:port <-> server:7000: up (client to
// server) or down (its reply), as bonding and spreading tests send them.
inline std::vector<std::uint8_t> flow_up(std::uint16_t port, std::uint32_t seq, std::size_t size = 300) {
  auto p = make_inner(kClientVip, kServer, seq, size);
  store_be16(p.data() + 20, port);
  store_be16(p.data() + 22, 7000);
  return p;
}
inline std::vector<std::uint8_t> flow_down(std::uint16_t port, std::uint32_t seq, std::size_t size = 300) {
  auto p = make_inner(kServer, kClientVip, seq, size);
  store_be16(p.data() + 20, 7000);
  store_be16(p.data() + 22, port);
  return p;
}

class Sim {
 public:
  static constexpr std::size_t kBuf = 2048;
  enum class Dir { kToHub, kToClient };

  explicit Sim(std::uint64_t seed, WireNoise noise = {},
               std::uint32_t under_load_threshold = limits::kUnderLoadInitiationsPerSecond,
               std::size_t hub_resend_total_bytes = 256u << 20,
               const std::function<void(session::ClientConfig&, session::HubConfig&)>& tweak = {})
      : rng_client_(seed * 3 + 1), rng_hub_(seed * 3 + 2), noise_rng_(seed), noise_(noise) {
    crypto::init();
    session::ClientConfig cc;
    cc.identity = keypair_from_seed(1);
    cc.wall_offset = 1'700'000'000ull * 1'000'000'000ull;
    session::HubConfig hc;
    hc.identity = keypair_from_seed(2);
    hc.under_load_initiations_per_second = under_load_threshold;
    hc.resend_total_bytes = hub_resend_total_bytes;
    if (tweak) tweak(cc, hc);
    hub_key = hc.identity.pub;
    client_key = cc.identity.pub;
    hub_config_ = hc;
    hub = std::make_unique<session::Hub>(hc, rng_hub_);
    hub->add_client(client_key, crypto::VipAssignment{kClientVip, 24, 0, kHubVip});
    client_config_ = cc;
    make_client();
  }

  // The client process restarts: its sessions, keys and data streams are gone.
  void restart_client() {
    client.reset();
    make_client();
  }

  Time now = Time{} + std::chrono::hours(1);
  PublicKey hub_key{}, client_key{};
  std::unique_ptr<session::Client> client;
  std::unique_ptr<session::Hub> hub;
  std::size_t slot = 0;
  // The client's uplinks: path id -> its address as the hub sees it. A path
  // in `dead` silently loses everything sent on it or to it.
  std::map<session::PathId, Endpoint> paths{{1, Endpoint::v4(0x0a010002, 40000)}};
  std::set<session::PathId> dead;
  // Paths that carry at most this many UDP payload bytes (as a 1280 link would).
  std::map<session::PathId, std::size_t> path_mtu;
  // Paths that lose this share of what crosses them, both ways, at random.
  std::map<session::PathId, double> path_loss;
  // Paths that take this much longer than 1 ms, both ways.
  std::map<session::PathId, Duration> path_delay;
  // Paths that carry at most this many bits a second each way, behind a
  // buffer of path_buffer (beyond it a datagram is lost): a bottleneck that
  // a pacer measures and fills.
  std::map<session::PathId, double> path_rate_bps;
  Duration path_buffer = std::chrono::milliseconds(100);
  std::size_t too_big_for_path = 0;
  Endpoint client_addr() const { return paths.at(1); }
  // Another uplink of the client (path `id`, seen by the hub at `addr`).
  void add_uplink(session::PathId id, const Endpoint& addr) {
    paths[id] = addr;
    cs().add_path(id, now);
  }
  Endpoint path_addr(session::PathId p) const { return paths.at(p); }

  // What each side delivered to its TUN, in order.
  std::vector<std::vector<std::uint8_t>> delivered_to_hub, delivered_to_client;
  std::set<std::tuple<int, std::uint32_t, std::uint64_t>> nonces;
  bool nonce_reused = false;
  std::size_t sent_to_hub = 0, sent_to_client = 0;
  std::size_t bytes_to_hub = 0, bytes_to_client = 0;

  session::ClientSession& cs() { return client->session(slot); }

  // Starts the client's session and runs the handshake; true once established.
  bool connect() {
    cs().start(now);
    run_for(std::chrono::milliseconds(50));
    return cs().established();
  }

  // Batched mode, as the daemons run: seals are deferred and run afterwards,
  // and everything due at one time step reaches each side as one batch that
  // is decrypted ahead (keypair_for, OpenJob::run) before it is processed.
  bool batched = false;

  // Client app sends an inner packet into the tunnel.
  session::SealResult client_send(const std::vector<std::uint8_t>& inner) {
    std::vector<std::uint8_t> buf(kBuf);
    std::copy(inner.begin(), inner.end(), buf.begin() + wire::transport::kDataOffset);
    crypto::SealJob job;
    const auto r = cs().seal(buf, inner.size(), now, batched ? &job : nullptr);
    // The redundancy policy's copy, as the daemon makes it (before the batch's AEAD runs).
    if (r.kind == session::SealResult::Kind::kSend && r.copy) {
      std::vector<std::uint8_t> copy(kBuf);
      std::copy(inner.begin(), inner.end(), copy.begin() + wire::transport::kDataOffset);
      crypto::SealJob copy_job;
      const auto t = cs().seal_redundant_copy(copy, inner.size(), now, batched ? &copy_job : nullptr);
      if (t && batched) copy_job.run();
      if (t) put_from_path(t->path, Bytes(copy.data(), t->len));
    }
    if (batched && r.kind == session::SealResult::Kind::kSend) job.run();
    // In a bond a packet goes on the path its flow is pinned to (r.path).
    if (r.kind == session::SealResult::Kind::kSend)
      put_from_path(r.path ? r.path : cs().active_path(), Bytes(buf.data(), r.len), r.fragment);
    return r;
  }
  session::SealResult hub_send(const std::vector<std::uint8_t>& inner) {
    std::vector<std::uint8_t> buf(kBuf);
    std::copy(inner.begin(), inner.end(), buf.begin() + wire::transport::kDataOffset);
    crypto::SealJob job;
    const auto r = hub->seal_to_vip(kClientVip, buf, inner.size(), now, batched ? &job : nullptr);
    if (r.kind == session::SealResult::Kind::kSend && r.copy) {
      std::vector<std::uint8_t> copy(kBuf);
      std::copy(inner.begin(), inner.end(), copy.begin() + wire::transport::kDataOffset);
      crypto::SealJob copy_job;
      const auto c = hub->seal_redundant_copy(copy, inner.size(), now, batched ? &copy_job : nullptr);
      if (c.kind == session::SealResult::Kind::kSend && batched) copy_job.run();
      if (c.kind == session::SealResult::Kind::kSend) put(Dir::kToClient, Bytes(copy.data(), c.len), c.to);
    }
    if (batched && r.kind == session::SealResult::Kind::kSend) job.run();
    if (r.kind == session::SealResult::Kind::kSend) put(Dir::kToClient, Bytes(buf.data(), r.len), r.to, r.fragment);
    return r;
  }

  // Moves everything that is due: polls, timers, deliveries. Call after each time step.
  void pump() {
    for (int rounds = 0; rounds < 1000; ++rounds) {
      bool progress = false;
      if (client->next_deadline() <= now) client->on_timer(now);
      if (hub->next_deadline() <= now) hub->on_timer(now);
      release_ordered();
      std::vector<std::uint8_t> out(kBuf);
      while (auto t = cs().poll_transmit(out, now)) {
        put_from_path(t->path, Bytes(out.data(), t->len), t->fragment);
        progress = true;
      }
      while (auto t = hub->poll_transmit(out, now)) {
        put(Dir::kToClient, Bytes(out.data(), t->len), t->to, t->fragment);
        progress = true;
      }
      progress = release_paced() || progress;
      std::vector<InFlight> due;
      while (!in_flight_.empty() && in_flight_.begin()->first.first <= now) {
        due.push_back(std::move(in_flight_.extract(in_flight_.begin()).mapped()));
        progress = true;
      }
      std::vector<crypto::OpenJob> jobs(due.size());
      if (batched) {
        for (std::size_t i = 0; i < due.size(); ++i) {
          auto& d = due[i].bytes;
          jobs[i] = {due[i].dir == Dir::kToHub ? hub->keypair_for(d, now) : client->keypair_for(d, now), d.data(),
                     d.size(), false};
        }
        for (auto& j : jobs)
          if (j.keypair) j.run();
      }
      for (std::size_t i = 0; i < due.size(); ++i) deliver(due[i], jobs[i].keypair ? &jobs[i] : nullptr);
      if (!progress) return;
    }
  }

  // Advances the clock in steps, pumping at each.
  void run_for(Duration d, Duration step = std::chrono::milliseconds(10)) {
    const Time end = now + d;
    while (now < end) {
      now += step;
      pump();
    }
  }

  void put_from_path(session::PathId path, Bytes datagram, bool fragmentable = false) {
    ++sent_per_path[path];
    if (dead.count(path) || !paths.count(path)) {
      record_nonce(Dir::kToHub, datagram);
      ++sent_to_hub;
      return;
    }
    put(Dir::kToHub, datagram, paths.at(path), fragmentable);
  }

  // `to_or_from`: the client's address (source toward the hub, destination back).
  // `fragmentable`: sent with outer fragmentation allowed (SealResult::fragment),
  // so a smaller path carries it in pieces, as the kernel and routers would.
  void put(Dir dir, Bytes datagram, const Endpoint& to_or_from, bool fragmentable = false) {
    Endpoint addr = to_or_from;
    if (dir == Dir::kToHub && spoof && !spoof(datagram, addr)) return;
    (dir == Dir::kToHub ? bytes_from_addr : bytes_to_addr)[addr.key_bytes()] += datagram.size();
    if (dir == Dir::kToClient && std::find(not_ours.begin(), not_ours.end(), addr) != not_ours.end()) return;
    // A path that carries fewer bytes loses what is bigger, both ways, silently.
    for (const auto& [id, a] : paths)
      if (a == addr && path_mtu.count(id) && datagram.size() > path_mtu.at(id) && !fragmentable) {
        ++too_big_for_path;
        return;
      }
    record_nonce(dir, datagram);
    (dir == Dir::kToHub ? sent_to_hub : sent_to_client)++;
    (dir == Dir::kToHub ? bytes_to_hub : bytes_to_client) += datagram.size();
    std::uniform_real_distribution<double> u(0, 1);
    for (const auto& [id, share] : path_loss)
      if (paths.count(id) && paths.at(id) == addr && u(noise_rng_) < share) return;
    if (u(noise_rng_) < noise_.drop) return;
    const int copies = u(noise_rng_) < noise_.duplicate ? 2 : 1;
    // The bottleneck: what is sent waits behind what it queued earlier.
    Time leaves = now;
    for (const auto& [id, bps] : path_rate_bps) {
      if (!paths.count(id) || !(paths.at(id) == addr)) continue;
      Time& busy = busy_until_[{id, dir}];
      if (busy > now && busy - now > path_buffer) return;
      busy = std::max(busy, now) + std::chrono::duration_cast<Duration>(
                                       std::chrono::duration<double>(static_cast<double>(datagram.size()) * 8 / bps));
      leaves = busy;
    }
    for (int i = 0; i < copies; ++i) {
      Duration delay = (leaves - now) + std::chrono::milliseconds(1);
      for (const auto& [id, extra] : path_delay)
        if (paths.count(id) && paths.at(id) == addr) delay += extra;
      if (noise_.max_extra_delay.count() > 0)
        delay += Duration(noise_rng_() % static_cast<std::uint64_t>(noise_.max_extra_delay.count()));
      in_flight_.emplace(std::make_pair(now + delay, seq_++),
                         InFlight{dir, addr, std::vector<std::uint8_t>(datagram.begin(), datagram.end())});
    }
  }

  // Injects raw bytes as if they came from `from` (attacks, garbage).
  session::ReceiveResult inject_to_hub(std::vector<std::uint8_t> bytes, const Endpoint& from,
                                       std::vector<std::uint8_t>* reply_out = nullptr) {
    std::vector<std::uint8_t> reply(kBuf);
    const auto r = hub->receive(bytes, from, now, reply);
    if (r.kind == session::ReceiveResult::Kind::kDeliver)
      delivered_to_hub.emplace_back(bytes.begin() + r.offset, bytes.begin() + r.offset + r.len);
    if (reply_out) reply_out->assign(reply.begin(), reply.begin() + (r.kind == session::ReceiveResult::Kind::kReply ? r.len : 0));
    return r;
  }

  // Injects raw bytes as if they arrived at the client on `path`.
  session::ReceiveResult inject_to_client(std::vector<std::uint8_t> bytes, session::PathId path = 1) {
    const auto r = client->receive(bytes, path, now);
    if (r.kind == session::ReceiveResult::Kind::kDeliver)
      delivered_to_client.emplace_back(bytes.begin() + r.offset, bytes.begin() + r.offset + r.len);
    return r;
  }

  // The hub process restarts: every session and key is gone, the config stays.
  void restart_hub() {
    hub = std::make_unique<session::Hub>(hub_config_, rng_hub_);
    hub->add_client(client_key, crypto::VipAssignment{kClientVip, 24, 0, kHubVip});
  }
  // While down, the hub receives nothing.
  bool hub_down = false;

  // Takes every datagram still on the wire in one direction (to hand it over by hand).
  std::vector<std::vector<std::uint8_t>> take_in_flight(Dir dir) {
    std::vector<std::vector<std::uint8_t>> out;
    for (auto it = in_flight_.begin(); it != in_flight_.end();) {
      if (it->second.dir != dir) {
        ++it;
        continue;
      }
      out.push_back(std::move(it->second.bytes));
      it = in_flight_.erase(it);
    }
    return out;
  }

  // A client that lies about its address: may rewrite the source of what it
  // sends toward the hub (false: it sends nothing after all).
  std::function<bool(Bytes datagram, Endpoint& from)> spoof;
  // Addresses the client does not own (a spoofing victim's): what is sent
  // there is counted and never reaches the client; a path at one only sends.
  std::vector<Endpoint> not_ours;
  // Bytes on the wire by the client-side address: toward the hub from it,
  // and from the hub to it.
  std::size_t bytes_from(const Endpoint& a) const { return lookup(bytes_from_addr, a); }
  std::size_t bytes_to(const Endpoint& a) const { return lookup(bytes_to_addr, a); }

  std::vector<std::vector<std::uint8_t>> captured_to_hub;  // every datagram the hub received
  bool capture = false;

 private:
  void record_nonce(Dir dir, Bytes d) {
    const auto type = wire::classify(d);
    if (!type || (!wire::carries_data(*type) && *type != wire::MessageType::kControl)) return;
    const auto key = std::make_tuple(int(dir), load_le32(d.data() + 4), load_le64(d.data() + 8));
    if (!nonces.insert(key).second) nonce_reused = true;
  }

  using ByAddr = std::map<std::array<std::uint8_t, 18>, std::size_t>;
  ByAddr bytes_from_addr, bytes_to_addr;
  static std::size_t lookup(const ByAddr& m, const Endpoint& a) {
    const auto it = m.find(a.key_bytes());
    return it == m.end() ? 0 : it->second;
  }

  struct InFlight {
    Dir dir;
    Endpoint addr;
    std::vector<std::uint8_t> bytes;
  };

  void deliver(InFlight& f, const crypto::OpenJob* job) {
    auto& d = f.bytes;
    if (f.dir == Dir::kToHub) {
      if (hub_down) return;
      if (capture) captured_to_hub.push_back(d);
      std::vector<std::uint8_t> reply(kBuf);
      const auto r = hub->receive(d, f.addr, now, reply, job);
      if (r.kind == session::ReceiveResult::Kind::kDeliver)
        delivered_to_hub.emplace_back(d.begin() + r.offset, d.begin() + r.offset + r.len);
      release_ordered();
      if (r.kind == session::ReceiveResult::Kind::kReply) put(Dir::kToClient, Bytes(reply.data(), r.len), f.addr);
    } else {
      std::optional<session::PathId> path;
      for (const auto& [id, a] : paths)
        if (a == f.addr && !dead.count(id)) path = id;
      if (!path) return;  // nobody is at that address any more
      ++delivered_per_path[*path];
      const auto r = client->receive(d, *path, now, job);
      if (r.kind == session::ReceiveResult::Kind::kDeliver)
        delivered_to_client.emplace_back(d.begin() + r.offset, d.begin() + r.offset + r.len);
      release_ordered();
    }
  }

  // What the pacers ([performance] pacing) let go now, sealed as the
  // daemons seal it (released); true when anything left.
  bool release_paced() {
    bool any = false;
    std::vector<std::uint8_t> buf(kBuf);
    const MutableBytes inner(buf.data() + wire::transport::kDataOffset, kBuf - wire::transport::kDataOverhead);
    while (const auto n = cs().release_paced(inner, now)) {
      const auto r = cs().seal(buf, *n, now, nullptr, true);
      if (r.kind == session::SealResult::Kind::kSend)
        put_from_path(r.path ? r.path : cs().active_path(), Bytes(buf.data(), r.len), r.fragment);
      any = true;
    }
    session::ClientId who = 0;
    while (const auto n = hub->release_paced(inner, now, who)) {
      const auto r = hub->seal_released(who, buf, *n, now);
      if (r.kind == session::SealResult::Kind::kSend) put(Dir::kToClient, Bytes(buf.data(), r.len), r.to, r.fragment);
      any = true;
    }
    return any;
  }

  // Spread flows' packets each side held for order and now hands over, as the daemons do.
  void release_ordered() {
    hub->release_ordered(now, [&](Bytes p) { delivered_to_hub.emplace_back(p.begin(), p.end()); });
    client->release_ordered(now, [&](Bytes p) { delivered_to_client.emplace_back(p.begin(), p.end()); });
  }

 public:
  std::map<session::PathId, std::size_t> delivered_per_path;  // hub -> client, by the path it arrived on
  std::map<session::PathId, std::size_t> sent_per_path;       // client -> hub, by the path it left on

 private:

  void make_client() {
    client = std::make_unique<session::Client>(client_config_, rng_client_);
    slot = client->add_hub(hub_key);
    // As a client config would: the servers' network is routed to this hub
    // (the client delivers only what comes from a hub's own prefixes).
    client->set_routes(slot, {session::IpPrefix::v4(kServer & 0xFFFFFF00u, 24)});
    cs().add_path(1, now);
    cs().set_active_path(1, now);
  }

  session::ClientConfig client_config_;
  session::HubConfig hub_config_;
  SeededRng rng_client_, rng_hub_;
  std::mt19937_64 noise_rng_;
  WireNoise noise_;
  std::uint64_t seq_ = 0;
  std::map<std::pair<Time, std::uint64_t>, InFlight> in_flight_;
  std::map<std::pair<session::PathId, Dir>, Time> busy_until_;  // path_rate_bps queues
};

// A client with a second uplink (path 2), connected, with a few seconds of
// probes behind it on both (RTT and its variation measured).
inline Sim two_path_sim(std::uint64_t seed) {
  Sim s(seed);
  s.add_uplink(2, Endpoint::v4(0x0a020002, 40002));
  s.cs().start(s.now);
  s.run_for(std::chrono::seconds(3), std::chrono::milliseconds(1));
  return s;
}

}  // namespace tund::test
