#include "hub/cluster_agent.hpp"

#include <algorithm>

#include "daemon/log.hpp"

namespace tund::hub {

using nlohmann::json;
namespace etcd = daemon::etcd;
using Clock = std::chrono::steady_clock;

namespace {

std::string hex(const PublicKey& k) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (auto b : k) {
    out += digits[b >> 4];
    out += digits[b & 15];
  }
  return out;
}

json range_of_prefix(const std::string& prefix, bool keys_only) {
  json r{{"key", etcd::base64(prefix)}, {"range_end", etcd::base64(etcd::prefix_end(prefix))}};
  if (keys_only) r["keys_only"] = true;
  return r;
}

// A txn compare: `k` does not exist; and a txn put.
json absent(const std::string& k) {
  return json{{"target", "CREATE"}, {"key", etcd::base64(k)}, {"result", "EQUAL"}, {"create_revision", "0"}};
}
json put(const std::string& k, const std::string& v) {
  return json{{"request_put", {{"key", etcd::base64(k)}, {"value", etcd::base64(v)}}}};
}

}  // namespace

namespace {

// Calls f(address) for each of vip_candidates' addresses, in its order,
// until f returns true; returns that address, or 0.
template <class F>
std::uint32_t find_candidate(const config::Prefix& pool, const session::PoolBlock& home, F&& f) {
  const std::uint32_t mask = prefix_mask_v4(pool.len);
  const std::uint32_t network = pool.addr & mask, broadcast = network | ~mask;
  const bool has_edges = pool.len <= 30;
  const auto usable = [&](std::uint32_t a) {
    return a != pool.addr && (!has_edges || (a != network && a != broadcast));
  };
  for (const bool in_home : {true, false})
    for (std::uint64_t a = network; a <= broadcast; ++a) {
      const auto addr = static_cast<std::uint32_t>(a);
      if (home.contains(addr) == in_home && usable(addr) && f(addr)) return addr;
    }
  return 0;
}

}  // namespace

std::vector<std::uint32_t> vip_candidates(const config::Prefix& pool, const session::PoolBlock& home) {
  std::vector<std::uint32_t> out;
  find_candidate(pool, home, [&](std::uint32_t a) {
    out.push_back(a);
    return false;
  });
  return out;
}

std::uint32_t ClusterAgent::first_free(const PublicKey& k, const std::set<std::uint32_t>& taken) const {
  const auto home = session::home_block(pool_.addr & prefix_mask_v4(pool_.len), pool_.len, settings_.members.size(),
                                        session::home_member(k, settings_.members.size()));
  return find_candidate(pool_, home, [&](std::uint32_t a) { return !taken.count(a); });
}

struct ClusterAgent::Allocation {
  std::vector<PublicKey> keys;
  std::vector<std::uint32_t> vips;
  std::set<std::uint32_t> taken;
  std::size_t next = 0;  // the key being allocated one at a time
  Allocated done;
};

ClusterAgent::ClusterAgent(asio::io_context& io, ClusterSettings settings, const HubSettings& hub, Hooks hooks)
    : io_(io),
      settings_(std::move(settings)),
      pool_(hub.vip_pool),
      net6_(hub.tun_address6),
      home_(session::home_block(pool_.addr & prefix_mask_v4(pool_.len), pool_.len, settings_.members.size(),
                                settings_.index)),
      hooks_(std::move(hooks)),
      etcd_(io, settings_.etcd, limits::kEtcdTimeout, settings_.etcd_security),
      lease_etcd_(io, settings_.etcd, limits::kEtcdTimeout, settings_.etcd_security),
      watch_(io, settings_.etcd,
             [this](const std::string& k, const std::string& v, bool d, std::int64_t r) { on_owner(k, v, d, r); },
             [this](const std::string& e) {
               etcd_failed("watch", e);
               watch_timer_.expires_after(limits::kClusterRetry);
               watch_timer_.async_wait([this](boost::system::error_code ec) {
                 if (!ec) watch_owners();
               });
             },
             limits::kEtcdWatchIdle, settings_.etcd_security),
      keepalive_timer_(io),
      watch_timer_(io) {}

ClusterAgent::~ClusterAgent() {
  keepalive_timer_.cancel();
  watch_timer_.cancel();
  watch_.stop();
  routes_.remove_all();
}

std::string ClusterAgent::key(const std::string& kind, const std::string& id) const {
  return "/tund/" + settings_.name + "/" + kind + "/" + id;
}

void ClusterAgent::etcd_failed(const std::string& what, const std::string& error) {
  ++etcd_errors_;
  if (error != last_error_) log::warning("cluster: etcd " + what + ": " + error);
  last_error_ = error;
}

void ClusterAgent::refused(Refusal why, const std::string& k, const std::string& detail) {
  refusals_.add(why);
  refusal_log_.write(log::Level::kWarning, std::string("cluster: refused from etcd (") + refusal_name(why) +
                                               "): " + daemon::etcd::excerpt(k) + ": " + daemon::etcd::excerpt(detail));
}

daemon::etcd::Faults ClusterAgent::etcd_faults() const {
  daemon::etcd::Faults sum = watch_.faults();
  sum += etcd_.faults();
  sum += lease_etcd_.faults();
  return sum;
}

// --- VIPs -------------------------------------------------------------------

void ClusterAgent::allocate(std::vector<PublicKey> keys, Allocated done) {
  auto a = std::make_shared<Allocation>();
  a->keys = std::move(keys);
  a->vips.assign(a->keys.size(), 0);
  a->done = std::move(done);
  // What etcd holds, in one read (a txn of two ranges: one revision): every
  // client's address and every address taken, each mapping checked.
  const json both{{"success", {{{"request_range", range_of_prefix(key("client", ""), false)}},
                               {{"request_range", range_of_prefix(key("vip", ""), false)}}}}};
  etcd_.call("kv/txn", both, [this, a](const json* r, const std::string& e) {
    if (!r) return a->done({}, e);
    const auto& responses = etcd::field(*r, "responses");
    if (!responses.is_array() || responses.size() != 2) return a->done({}, "etcd's answer holds no two ranges");
    const auto m = check_mappings(etcd::kvs(etcd::field(responses[0], "response_range")),
                                  etcd::kvs(etcd::field(responses[1], "response_range")), key("client", ""),
                                  key("vip", ""), pool_);
    for (const auto& p : m.problems) refused(p.why, p.key, p.detail);
    for (std::size_t i = 0; i < a->keys.size(); ++i) {
      const std::string h = hex(a->keys[i]);
      // A refused mapping of ours is not replaced by a guess: the client key
      // exists, so no new one can be created either; an operator decides.
      if (const auto bad = m.refused.find(h); bad != m.refused.end())
        return a->done({}, "etcd's mapping for client " + h.substr(0, 16) + "... is refused (" +
                               refusal_name(bad->second) + "); fix or delete " + key("client", h));
      if (const auto it = m.clients.find(h); it != m.clients.end()) a->vips[i] = it->second;
    }
    a->taken = m.taken;
    allocate_batch(a);
  });
}

// Many clients in one transaction (each its first free candidate; both keys
// of each must be absent), as a fresh cluster's first member meets them. Any
// compare failing fails it all: the rest go one at a time (allocate_next),
// which sorts out who took what.
void ClusterAgent::allocate_batch(std::shared_ptr<Allocation> a) {
  json compares = json::array(), puts = json::array();
  std::vector<std::pair<std::size_t, std::uint32_t>> picked;
  std::set<std::uint32_t> taken = a->taken;
  for (std::size_t i = 0; i < a->keys.size() && puts.size() + 2 <= limits::kEtcdTxnOps; ++i) {
    if (a->vips[i]) continue;
    const std::uint32_t addr = first_free(a->keys[i], taken);
    if (!addr) break;  // the pool is full: allocate_next says so
    taken.insert(addr);
    picked.emplace_back(i, addr);
    const std::string ck = key("client", hex(a->keys[i])), vk = key("vip", config::ipv4_to_string(addr));
    compares.push_back(absent(ck));
    compares.push_back(absent(vk));
    puts.push_back(put(ck, config::ipv4_to_string(addr)));
    puts.push_back(put(vk, hex(a->keys[i])));
  }
  if (picked.size() < 2) return allocate_next(a);
  etcd_.call("kv/txn", json{{"compare", compares}, {"success", puts}},
             [this, a, picked](const json* r, const std::string& e) {
               if (!r) return a->done({}, e);
               if (!etcd::flag(*r, "succeeded")) return allocate_next(a);
               for (const auto& [i, addr] : picked) {
                 a->vips[i] = addr;
                 a->taken.insert(addr);
               }
               allocate_batch(a);
             });
}

void ClusterAgent::allocate_next(std::shared_ptr<Allocation> a) {
  while (a->next < a->keys.size() && a->vips[a->next]) ++a->next;
  if (a->next == a->keys.size()) {
    for (std::size_t i = 0; i < a->keys.size(); ++i) vips_[hex(a->keys[i])] = {a->keys[i], a->vips[i]};
    return a->done(a->vips, "");
  }
  const std::uint32_t addr = first_free(a->keys[a->next], a->taken);
  if (!addr) return a->done({}, "the pool " + pool_.to_string() + " has no free address left");
  const std::string client_key = key("client", hex(a->keys[a->next]));
  const std::string vip_key = key("vip", config::ipv4_to_string(addr));
  const json txn{{"compare", {absent(client_key), absent(vip_key)}},
                 {"success", {put(client_key, config::ipv4_to_string(addr)), put(vip_key, hex(a->keys[a->next]))}},
                 {"failure", {{{"request_range", {{"key", etcd::base64(client_key)}}}}}}};
  etcd_.call("kv/txn", txn, [this, a, addr](const json* r, const std::string& e) {
    if (!r) return a->done({}, e);
    if (etcd::flag(*r, "succeeded")) {
      a->vips[a->next] = addr;
      a->taken.insert(addr);
      return allocate_next(a);
    }
    // Another member allocated this client meanwhile (take its answer), or
    // the address went to someone else (try the next).
    const auto& responses = etcd::field(*r, "responses");
    if (responses.is_array() && !responses.empty())
      for (const auto& [k, v] : etcd::kvs(etcd::field(responses[0], "response_range"))) {
        // Checked as the first read was: usable, and no one else's already.
        const auto held = canonical_ipv4(v);
        std::optional<Refusal> bad;
        if (!held) {
          bad = Refusal::kValueShape;
        } else if (const auto unusable = check_vip(pool_, *held)) {
          bad = unusable;
        } else if (a->taken.count(*held)) {
          bad = Refusal::kDuplicateVip;
        }
        if (bad) {
          refused(*bad, k, "'" + v + "' for a client allocated meanwhile");
          return a->done({}, "etcd's mapping for client " + hex(a->keys[a->next]).substr(0, 16) + "... is refused (" +
                                 refusal_name(*bad) + ")");
        }
        a->vips[a->next] = *held;
        a->taken.insert(*held);
        return allocate_next(a);
      }
    a->taken.insert(addr);
    allocate_next(a);
  });
}

std::vector<std::uint32_t> ClusterAgent::allocate_now(std::vector<PublicKey> keys) {
  std::optional<std::vector<std::uint32_t>> out;
  std::string error;
  bool done = false;
  allocate(std::move(keys), [&](std::vector<std::uint32_t> v, const std::string& e) {
    if (e.empty()) out = std::move(v);
    error = e;
    done = true;
  });
  io_.restart();
  while (!done && io_.run_one() > 0) {
  }
  if (!out) throw std::runtime_error("cluster: etcd (" + etcd_.endpoint() + "): " + (error.empty() ? "no answer" : error));
  return *out;
}

// --- lease, claims, routes --------------------------------------------------

void ClusterAgent::start(int ifindex) {
  ifindex_ = ifindex;
  grant();
  watch_owners();
}

void ClusterAgent::grant() {
  if (granting_) return;
  granting_ = true;
  const auto sent = Clock::now();
  lease_etcd_.call("lease/grant", json{{"TTL", std::chrono::seconds(limits::kClusterLeaseTtl).count()}},
             [this, sent](const json* r, const std::string& e) {
               granting_ = false;
               const std::int64_t id = r ? etcd::integer(*r, "ID") : 0;
               if (!id) {
                 etcd_failed("lease grant", r ? "no lease in the answer" : e);
               } else {
                 lease_ = id;
                 lease_until_ = sent + limits::kClusterLeaseTtl;
                 serving_ = true;
                 if (!aggregate_) route(home_.network, home_.len, true);
                 aggregate_ = true;
                 for (const auto& h : here_) claim(h);
                 log::notice("cluster " + settings_.name + ": member " + settings_.member + " serving, lease " +
                             std::to_string(lease_) + ", home block " + config::Prefix{home_.network, home_.len}.to_string());
                 if (hooks_.serving) hooks_.serving(true);
               }
               keepalive_timer_.expires_after(limits::kClusterKeepalive);
               keepalive_timer_.async_wait([this](boost::system::error_code ec) {
                 if (!ec) keepalive();
               });
             });
}

void ClusterAgent::keepalive() {
  check_lease();
  if (!serving_) {
    if (hooks_.end_unanswering_sessions) hooks_.end_unanswering_sessions();
    return grant();
  }
  const auto sent = Clock::now();
  const std::int64_t lease = lease_;
  lease_etcd_.call("lease/keepalive", json{{"ID", std::to_string(lease)}}, [this, sent, lease](const json* r, const std::string& e) {
    if (lease != lease_) return;
    // etcd 3.4's gateway wraps a stream message in "result"; no TTL: the lease is gone.
    const json* result = r && etcd::field(*r, "result").is_object() ? &etcd::field(*r, "result") : r;
    if (result && etcd::integer(*result, "TTL") > 0) {
      lease_until_ = sent + limits::kClusterLeaseTtl;  // counted from the send: etcd's clock started no earlier
    } else if (result) {
      stop_serving("etcd says lease " + std::to_string(lease) + " has expired");
    } else {
      etcd_failed("lease keepalive", e);
    }
  });
  // The next keepalive, or the lease's end if that comes first: a member cut
  // off stops claiming at its end, not up to a keepalive interval later.
  keepalive_timer_.expires_at(std::min(Clock::now() + limits::kClusterKeepalive, lease_until_));
  keepalive_timer_.async_wait([this](boost::system::error_code ec) {
    if (!ec) keepalive();
  });
}

void ClusterAgent::check_lease() {
  if (serving_ && Clock::now() >= lease_until_) stop_serving("no keepalive answered within the lease's " +
                                                             std::to_string(std::chrono::seconds(limits::kClusterLeaseTtl).count()) + " s");
}

void ClusterAgent::stop_serving(const std::string& why) {
  if (!serving_) return;
  serving_ = false;
  lease_ = 0;
  ++lease_losses_;
  log::error("cluster " + settings_.name + ": member " + settings_.member + " stops claiming: " + why +
             "; no new sessions, live ones fail static while their clients answer");
  if (hooks_.serving) hooks_.serving(false);
}

void ClusterAgent::claim(const std::string& h) {
  if (!serving_) return;
  to_claim_.insert(h);
  send_claims();
}

// Claims go in transactions of up to kEtcdTxnOps puts, one at a time: a
// thousand handshakes at once cost a few etcd round trips (each an fsync),
// not a thousand.
void ClusterAgent::send_claims() {
  if (claiming_ || to_claim_.empty() || !serving_) return;
  json puts = json::array();
  while (!to_claim_.empty() && puts.size() < limits::kEtcdTxnOps) {
    const std::string h = *to_claim_.begin();
    to_claim_.erase(to_claim_.begin());
    if (!here_.count(h)) continue;  // ended meanwhile
    puts.push_back({{"request_put", {{"key", etcd::base64(key("owner", h))},
                                     {"value", etcd::base64(settings_.member)},
                                     {"lease", std::to_string(lease_)}}}});
  }
  if (puts.empty()) return;
  claiming_ = true;
  etcd_.call("kv/txn", json{{"success", puts}}, [this](const json* r, const std::string& e) {
    claiming_ = false;
    if (!r) etcd_failed("claim", e);  // the lease check decides what that means
    send_claims();
  });
}

void ClusterAgent::session_started(const PublicKey& k) {
  const std::string h = hex(k);
  const auto vip = vips_.find(h);
  if (vip == vips_.end() || !here_.insert(h).second) return;
  if (!home_.contains(vip->second.addr)) route(vip->second.addr, 32, true);
  claim(h);
}

void ClusterAgent::session_ended(const PublicKey& k) {
  const std::string h = hex(k);
  const auto vip = vips_.find(h);
  if (vip == vips_.end() || !here_.erase(h)) return;
  if (!home_.contains(vip->second.addr)) route(vip->second.addr, 32, false);
  if (!serving_) return;  // the lease (and the claim on it) is gone or going
  // Ours to delete only while it names this member: a takeover's claim stays.
  const std::string owner = key("owner", h);
  const json txn{{"compare", {{{"target", "VALUE"}, {"key", etcd::base64(owner)}, {"result", "EQUAL"},
                               {"value", etcd::base64(settings_.member)}}}},
                 {"success", {{{"request_delete_range", {{"key", etcd::base64(owner)}}}}}}};
  etcd_.call("kv/txn", txn, [this](const json* r, const std::string& e) {
    if (!r) etcd_failed("release", e);
  });
}

void ClusterAgent::route(std::uint32_t pool_addr, std::uint8_t len, bool add) {
  if (!ifindex_) return;
  std::vector<std::string> errors;
  const std::uint32_t dst = pool_addr & prefix_mask_v4(len);
  if (add) {
    if (auto e = routes_.add_route(ifindex_, dst, len, 0, settings_.table, limits::kClusterRouteProtocol); !e.empty()) errors.push_back(e);
  } else if (auto e = routes_.remove_route(ifindex_, dst, len); !e.empty()) {
    errors.push_back(e);
  }
  if (net6_) {
    // The IPv6 VIPs carry the pool address's host part (derived_vip6): the
    // same block, as many host bits.
    const auto dst6 = derived_vip6(*net6_, pool_, dst);
    const auto len6 = static_cast<std::uint8_t>(128 - (32 - len));
    if (add) {
      if (auto e = routes_.add_route6(ifindex_, dst6, len6, settings_.table, limits::kClusterRouteProtocol); !e.empty()) errors.push_back(e);
    } else if (auto e = routes_.remove_route6(ifindex_, dst6, len6); !e.empty()) {
      errors.push_back(e);
    }
  }
  for (const auto& e : errors) log::error("cluster: " + e);
}

// --- takeovers ----------------------------------------------------------------

void ClusterAgent::watch_owners() {
  const std::int64_t seen = std::max(watch_revision_, watch_.seen_revision());
  watch_.start(key("owner", ""), seen ? seen + 1 : 0);
}

void ClusterAgent::on_owner(const std::string& k, const std::string& value, bool deleted, std::int64_t revision) {
  watch_revision_ = std::max(watch_revision_, revision);
  const auto id = after_prefix(k, key("owner", ""));
  if (!id || !is_key_hex(*id)) return refused(Refusal::kKeyShape, k, "not " + key("owner", "") + "<64 hex digits>");
  if (deleted || value == settings_.member) return;
  if (std::find(settings_.members.begin(), settings_.members.end(), value) == settings_.members.end())
    return refused(Refusal::kUnknownMember, k, "'" + value + "' is no member of cluster " + settings_.name);
  const std::string& h = *id;
  const auto client = vips_.find(h);
  if (!here_.count(h) || client == vips_.end()) return;
  ++takeovers_;
  log::notice("cluster: member " + value + " took over client " + h.substr(0, 16) + "...; its session here ends");
  if (hooks_.taken_over) hooks_.taken_over(client->second.key);
}

json ClusterAgent::status() const {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(lease_until_ - Clock::now()).count();
  return json{{"name", settings_.name},
              {"member", settings_.member},
              {"members", settings_.members},
              {"serving", serving_},
              {"lease", std::to_string(lease_)},
              {"lease_left_ms", serving_ ? left : 0},
              {"home_block", config::Prefix{home_.network, home_.len}.to_string()},
              {"sessions_claimed", here_.size()},
              {"takeovers", takeovers_},
              {"lease_losses", lease_losses_},
              {"etcd_errors", etcd_errors_},
              {"etcd_faults", etcd_faults().to_json()},
              {"etcd_refused", refusals_.to_json()},
              {"etcd", etcd_.endpoint()}};
}

}  // namespace tund::hub
