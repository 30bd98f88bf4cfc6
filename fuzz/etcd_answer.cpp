// What a hostile etcd can send a hub, without sockets: the first byte picks
//   0: a watch stream (etcd::WatchStream), cut into pieces of the second
//      byte's size (the cuts HTTP chunks and reads make);
//   1: an answer to a request (etcd::parse_answer), then read as a range and
//      as a txn's responses the way the cluster agent reads them;
//   2: the same answer's two ranges checked as client/ and vip/ mappings
//      (hub::check_mappings).
// Must hold: no crash, exception or deep recursion; error texts bounded;
// every mapping let through is a usable pool address held by one client.
#include <set>

#include "daemon/etcd.hpp"
#include "fuzz.hpp"
#include "hub/cluster_keys.hpp"
#include "tund/limits.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace tund;
  namespace etcd = daemon::etcd;
  if (size < 2) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data + 2), size - 2);
  const std::size_t bound = limits::kEtcdLogExcerpt + 200;  // an excerpt and our own words
  switch (data[0] % 3) {
    case 0: {
      etcd::WatchStream w;
      w.reset(data[1] & 1 ? 0 : 100);
      const std::size_t piece = 1 + data[1] % 64;
      for (std::size_t i = 0; i < text.size(); i += piece) {
        const auto step = w.feed(text.substr(i, piece));
        fuzz::check(step.error.size() <= bound, "watch error text bounded");
        for (const auto& e : step.events) fuzz::check(e.revision <= w.seen_revision() || e.revision <= 0, "seen revision");
        if (step.end) break;
      }
      break;
    }
    case 1: {
      etcd::Fault why{};
      std::string error;
      const auto j = etcd::parse_answer(data[1] % 2 ? 200 : 500, text, why, error);
      fuzz::check(j.has_value() == error.empty(), "an answer or an error");
      fuzz::check(error.size() <= bound, "answer error text bounded");
      if (!j) break;
      (void)etcd::kvs(*j);
      (void)etcd::integer(*j, "ID");
      (void)etcd::integer(etcd::field(*j, "result"), "TTL");
      (void)etcd::flag(*j, "succeeded");
      const auto& responses = etcd::field(*j, "responses");
      if (responses.is_array())
        for (const auto& r : responses) (void)etcd::kvs(etcd::field(r, "response_range"));
      break;
    }
    default: {
      etcd::Fault why{};
      std::string error;
      const auto j = etcd::parse_answer(200, text, why, error);
      if (!j) break;
      const auto& responses = etcd::field(*j, "responses");
      if (!responses.is_array() || responses.size() != 2) break;
      const config::Prefix pool{0x0a4d0001, 24};
      const auto m = hub::check_mappings(etcd::kvs(etcd::field(responses[0], "response_range")),
                                         etcd::kvs(etcd::field(responses[1], "response_range")), "/tund/t/client/",
                                         "/tund/t/vip/", pool);
      std::set<std::uint32_t> seen;
      for (const auto& [hex, addr] : m.clients) {
        fuzz::check(hub::is_key_hex(hex), "accepted keys are key hex");
        fuzz::check(!hub::check_vip(pool, addr), "accepted addresses are usable");
        fuzz::check(seen.insert(addr).second, "one client per address");
        fuzz::check(!m.refused.count(hex), "accepted or refused, not both");
      }
      break;
    }
  }
  return 0;
}
