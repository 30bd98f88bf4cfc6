// A hub's part in a cluster ([cluster] in its config): what it keeps in etcd
// and which VIP routes it puts in the kernel table BIRD announces.
//
//   etcd, under /tund/<cluster>/:
//     client/<key hex> -> pool address   \  created once, together, by one
//     vip/<address>    -> key hex         /  transaction: no VIP twice, ever
//     owner/<key hex>  -> member name        on this member's lease (TTL 2 s)
//   table <T>, proto 77, dev hub0:
//     the home block of the pool (one aggregate), and a host route per
//     client here whose VIP is outside it (both families)
//
// It runs on the daemon's io_context, asynchronously: etcd being slow or
// gone never holds up a packet. A member whose keepalives all failed for a
// lease TTL (etcd down, or this member cut off from it) stops claiming: no
// new sessions (not_serving), while the live ones fail static, routes and
// all; but a session whose data has gone unanswered for a TTL ends (its
// client may have gone to a member that etcd lets claim it), so no two
// members deliver for one VIP much longer than the TTL. Quiet alone ends
// nothing: an idle client is heard only every kIdleKeepalive, and etcd down
// must not cost every idle client its session (none could get a new one).
// Holding a lease again, it claims its sessions anew and serves.
//
// The lease (grant, keepalive) has a connection of its own: a keepalive never
// waits behind queued claims and releases, so a busy member keeps its lease
// while etcd answers. What etcd says is checked (cluster_keys.hpp): a bad
// mapping is refused, counted by reason (refusals()) and logged (rate-limited).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "daemon/asio.hpp"
#include "daemon/etcd.hpp"
#include "daemon/etcd_watch.hpp"
#include "daemon/log.hpp"
#include "daemon/netlink_config.hpp"
#include "hub/cluster_keys.hpp"
#include "hub/hub_config.hpp"
#include "session/rendezvous.hpp"

namespace tund::hub {

// The pool addresses a client may get, in the order tried: its home block's
// usable addresses, then the rest of the pool's (never the network,
// broadcast or hub address).
std::vector<std::uint32_t> vip_candidates(const config::Prefix& pool, const session::PoolBlock& home);

class ClusterAgent {
 public:
  struct Hooks {
    std::function<void(const PublicKey&)> taken_over;  // another member holds this client's session now
    std::function<void(bool)> serving;                 // the lease was lost (false) or is held again (true)
    std::function<void()> end_unanswering_sessions;    // while not serving: those whose data went unanswered for a TTL
  };
  ClusterAgent(asio::io_context& io, ClusterSettings settings, const HubSettings& hub, Hooks hooks);
  ~ClusterAgent();
  ClusterAgent(const ClusterAgent&) = delete;
  ClusterAgent& operator=(const ClusterAgent&) = delete;

  using Allocated = std::function<void(std::vector<std::uint32_t> vips, const std::string& error)>;
  // Each key's pool address: the one etcd holds, else a free one claimed.
  void allocate(std::vector<PublicKey> keys, Allocated done);
  // The same, waiting (startup, before the loop runs); throws std::runtime_error.
  std::vector<std::uint32_t> allocate_now(std::vector<PublicKey> keys);

  // Takes the lease, watches owner/ and installs the aggregate route on `ifindex`.
  void start(int ifindex);
  // The daemon's sessions: claims in etcd and host routes follow them.
  void session_started(const PublicKey& key);
  void session_ended(const PublicKey& key);

  bool serving() const { return serving_; }
  nlohmann::json status() const;
  std::uint64_t etcd_errors() const { return etcd_errors_; }
  std::uint64_t takeovers() const { return takeovers_; }
  std::uint64_t lease_losses() const { return lease_losses_; }
  // What etcd sent that was refused (cluster_keys.hpp), by reason.
  const Refusals& refusals() const { return refusals_; }
  // Failed etcd requests and refused answers of all three connections, by reason.
  daemon::etcd::Faults etcd_faults() const;

 private:
  struct Allocation;
  void allocate_batch(std::shared_ptr<Allocation> a);
  void allocate_next(std::shared_ptr<Allocation> a);
  // The first of k's candidates (vip_candidates of its home block) not taken; 0: none.
  std::uint32_t first_free(const PublicKey& k, const std::set<std::uint32_t>& taken) const;
  void grant();
  void keepalive();
  void check_lease();
  void stop_serving(const std::string& why);
  void claim(const std::string& hex);
  void send_claims();
  void watch_owners();
  void on_owner(const std::string& key, const std::string& value, bool deleted, std::int64_t revision);
  // Host routes of a client outside the home block (and the block itself): both families.
  void route(std::uint32_t pool_addr, std::uint8_t len, bool add);
  void etcd_failed(const std::string& what, const std::string& error);
  void refused(Refusal why, const std::string& key, const std::string& detail);
  std::string key(const std::string& kind, const std::string& id) const;

  asio::io_context& io_;
  ClusterSettings settings_;
  config::Prefix pool_;
  std::optional<config::Prefix6> net6_;
  session::PoolBlock home_;
  Hooks hooks_;
  daemon::EtcdClient etcd_;        // VIPs, claims, releases
  daemon::EtcdClient lease_etcd_;  // lease grant and keepalives alone
  daemon::EtcdWatch watch_;
  daemon::NetlinkConfig routes_;
  asio::steady_timer keepalive_timer_;
  asio::steady_timer watch_timer_;
  int ifindex_ = 0;
  struct Client {
    PublicKey key;
    std::uint32_t addr;  // its pool address
  };
  std::map<std::string, Client> vips_;  // by key hex, as allocated
  std::set<std::string> here_;                 // key hex of the sessions on this member
  std::set<std::string> to_claim_;             // of those, the claims not yet sent
  bool claiming_ = false;                      // a claim transaction is in flight
  std::int64_t lease_ = 0;
  bool granting_ = false;
  bool aggregate_ = false;  // the home block's route is in the table
  bool serving_ = false;
  std::chrono::steady_clock::time_point lease_until_{};  // no keepalive sent after it succeeded: not ours
  std::int64_t watch_revision_ = 0;
  std::uint64_t etcd_errors_ = 0, takeovers_ = 0, lease_losses_ = 0;
  Refusals refusals_;
  log::RateLimited refusal_log_{limits::kLogBurst, limits::kLogWindow};
  std::string last_error_;
};

}  // namespace tund::hub
