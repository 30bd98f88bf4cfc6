// What a DNS server (or anyone who can reach the daemon's lookup socket)
// can send the daemon's own lookups of hub names, and what the local
// resolver files can hold:
//   byte 0: bit 0 the question's type (A or AAAA), bits 1-2 the name asked;
//   byte 1: 0-3 the answer as a DNS message (dns::parse_answer, the id its
//           first two bytes: a guessed one), 4 as resolv.conf, 5 as
//           /etc/hosts, 6 as dns_domains entries (one per line).
// Must hold: no crash or exception; an answer taken has only addresses of
// the type asked, no more than records could hold; a refusal has a reason.
#include <string>
#include <string_view>

#include "daemon/dns_message.hpp"
#include "daemon/resolver_files.hpp"
#include "fuzz.hpp"
#include "tund/dns_config.hpp"
#include "tund/limits.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace tund;
  namespace dns = daemon::dns;
  if (size < 2) return 0;
  static const char* const kNames[] = {"hub.example.org", "www.example.org", "HUB.example.ORG.", "a.b"};
  const std::uint16_t type = data[0] & 1 ? dns::kTypeAaaa : dns::kTypeA;
  const char* name = kNames[(data[0] >> 1) & 3];
  const Bytes rest(data + 2, size - 2);
  const std::string_view text(reinterpret_cast<const char*>(rest.data()), rest.size());
  switch (data[1] % 7) {
    case 4:
      for (const auto& s : daemon::resolv_conf_servers(text)) fuzz::check(s.port == 53 && s.valid(), "a server on port 53");
      break;
    case 5:
      for (const auto& a : daemon::hosts_addresses(text, name)) fuzz::check(a.valid(), "hosts gives addresses");
      break;
    case 6: {
      std::string_view lines = text;
      while (!lines.empty()) {
        const auto nl = lines.find('\n');
        const auto d = client::parse_dns_domain(lines.substr(0, nl));
        if (d) fuzz::check(!d->name.empty() && d->name.size() <= 253, "a domain of 1 to 253 bytes");
        if (nl == std::string_view::npos) break;
        lines.remove_prefix(nl + 1);
      }
      break;
    }
    default: {
      const std::uint16_t id = rest.size() >= 2 ? static_cast<std::uint16_t>(rest[0] << 8 | rest[1]) : 0;
      const auto r = dns::parse_answer(rest, id, name, type);
      if (!r.answer) {
        fuzz::check(r.why != dns::Drop::kCount, "a refusal has a reason");
        break;
      }
      fuzz::check(rest.size() <= limits::kDnsMaxMessage, "taken answers fit the offered size");
      fuzz::check(r.answer->addresses.size() <= limits::kDnsMaxRecords, "at most one address per record");
      for (const auto& a : r.answer->addresses) fuzz::check(a.family == (type == dns::kTypeA ? 4 : 6), "the type asked");
      break;
    }
  }
  return 0;
}
