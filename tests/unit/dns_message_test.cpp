// The daemon's DNS reader and its resolver files: pure logic. Answers are
// built byte by byte in the shapes real servers send (the question echoed,
// answer names as compression pointers to it, a CNAME before its target's
// records, an SOA in the authority section of a negative answer, an OPT
// record in the additional section), then broken one way at a time: each
// refusal has its reason, and no input crashes the reader.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "daemon/config_check.hpp"
#include "daemon/dns_message.hpp"
#include "daemon/resolver_files.hpp"
#include "tund/limits.hpp"

namespace tund {
namespace {

namespace dns = daemon::dns;
using dns::Drop;
using Msg = std::vector<std::uint8_t>;

void u16(Msg& m, std::uint16_t v) {
  m.push_back(static_cast<std::uint8_t>(v >> 8));
  m.push_back(static_cast<std::uint8_t>(v));
}
void u32(Msg& m, std::uint32_t v) {
  u16(m, static_cast<std::uint16_t>(v >> 16));
  u16(m, static_cast<std::uint16_t>(v));
}
void name(Msg& m, const std::string& dotted) {
  const auto wire = dns::encode_name(dotted);
  m.insert(m.end(), wire->begin(), wire->end());
}
void header(Msg& m, std::uint16_t id, std::uint16_t flags, std::uint16_t qd, std::uint16_t an, std::uint16_t ns,
            std::uint16_t ar) {
  for (const auto v : {id, flags, qd, an, ns, ar}) u16(m, v);
}
// A record's fixed part after its owner name.
void rr(Msg& m, std::uint16_t type, std::uint16_t rdlength, std::uint32_t ttl = 300) {
  u16(m, type);
  u16(m, dns::kClassIn);
  u32(m, ttl);
  u16(m, rdlength);
}
void pointer(Msg& m, std::uint16_t to) { u16(m, static_cast<std::uint16_t>(0xC000 | to)); }

constexpr std::uint16_t kId = 0x4a1f;
constexpr std::uint16_t kAnswerFlags = 0x8180;  // QR, RD, RA, NOERROR
const std::string kName = "hub.example.org";

// What a recursive resolver sends back for hub.example.org A: two addresses,
// owners as pointers to the question (offset 12), and the OPT echoed.
Msg two_a_records(std::uint16_t flags = kAnswerFlags) {
  Msg m;
  header(m, kId, flags, 1, 2, 0, 1);
  name(m, kName);
  u16(m, dns::kTypeA);
  u16(m, dns::kClassIn);
  for (const std::uint8_t last : {7, 8}) {
    pointer(m, 12);
    rr(m, dns::kTypeA, 4);
    for (const std::uint8_t b : {std::uint8_t{192}, std::uint8_t{0}, std::uint8_t{2}, last}) m.push_back(b);
  }
  m.push_back(0);  // OPT: root
  u16(m, dns::kTypeOpt);
  u16(m, 1232);
  u32(m, 0);
  u16(m, 0);
  return m;
}

dns::ParseResult parse(const Msg& m, std::uint16_t type = dns::kTypeA, const std::string& n = kName) {
  return dns::parse_answer(Bytes(m.data(), m.size()), kId, n, type);
}

Drop refused(const Msg& m, std::uint16_t type = dns::kTypeA) {
  const auto r = parse(m, type);
  EXPECT_FALSE(r.answer);
  return r.answer ? Drop::kCount : r.why;
}

TEST(DnsMessage, QueryIsRecursiveWithOneQuestionAndAnEdnsOffer) {
  const auto q = dns::build_query(0x1234, "Hub.Example.org.", dns::kTypeAaaa);
  ASSERT_TRUE(q);
  Msg expect;
  header(expect, 0x1234, 0x0100, 1, 0, 0, 1);
  name(expect, "hub.example.org");
  u16(expect, dns::kTypeAaaa);
  u16(expect, dns::kClassIn);
  expect.push_back(0);
  u16(expect, dns::kTypeOpt);
  u16(expect, static_cast<std::uint16_t>(limits::kDnsMaxMessage));
  u32(expect, 0);
  u16(expect, 0);
  EXPECT_EQ(*q, expect);
}

TEST(DnsMessage, NamesThatCannotBeAskedAreRefused) {
  EXPECT_TRUE(dns::encode_name("a." + std::string(63, 'b') + ".c"));
  EXPECT_FALSE(dns::encode_name("a." + std::string(64, 'b') + ".c")) << "a label over 63 bytes";
  EXPECT_FALSE(dns::encode_name("a..c"));
  EXPECT_FALSE(dns::encode_name(""));
  EXPECT_FALSE(dns::encode_name("."));
  std::string long_name;
  for (int i = 0; i < 64; ++i) long_name += "abc.";  // 256 bytes on the wire
  EXPECT_FALSE(dns::encode_name(long_name));
  EXPECT_FALSE(dns::build_query(1, "a..c", dns::kTypeA));
}

TEST(DnsMessage, AnswersWithPointersToTheQuestionAreTaken) {
  const auto r = parse(two_a_records());
  ASSERT_TRUE(r.answer) << dns::drop_name(r.why);
  EXPECT_EQ(r.answer->rcode, dns::kRcodeNoError);
  ASSERT_EQ(r.answer->addresses.size(), 2u);
  EXPECT_EQ(r.answer->addresses[0].address_string(), "192.0.2.7");
  EXPECT_EQ(r.answer->addresses[1].address_string(), "192.0.2.8");
  EXPECT_EQ(r.answer->addresses[0].port, 0);
  // Names compare without case (a server may echo 0x20-mixed case).
  EXPECT_TRUE(parse(two_a_records(), dns::kTypeA, "HUB.example.ORG.").answer);
}

TEST(DnsMessage, AaaaAndACnameChainFollowedButStrangersIgnored) {
  // www.example.org AAAA: www CNAME hub.example.org; hub AAAA 2001:db8::5;
  // and an AAAA of another name, which must not be taken.
  Msg m;
  header(m, kId, kAnswerFlags, 1, 3, 0, 0);
  name(m, "www.example.org");  // offset 12: \3www\7example\3org\0 (17 bytes)
  u16(m, dns::kTypeAaaa);
  u16(m, dns::kClassIn);
  pointer(m, 12);
  rr(m, dns::kTypeCname, 6);
  const auto target = m.size();
  m.insert(m.end(), {3, 'h', 'u', 'b'});
  pointer(m, 16);  // "example.org" inside the question
  const auto aaaa = [&](std::uint8_t last) {
    rr(m, dns::kTypeAaaa, 16);
    const std::uint8_t b[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, last};
    m.insert(m.end(), b, b + 16);
  };
  pointer(m, static_cast<std::uint16_t>(target));
  aaaa(5);
  name(m, "evil.example.net");
  aaaa(6);
  const auto r = dns::parse_answer(Bytes(m.data(), m.size()), kId, "www.example.org", dns::kTypeAaaa);
  ASSERT_TRUE(r.answer) << dns::drop_name(r.why);
  ASSERT_EQ(r.answer->addresses.size(), 1u);
  EXPECT_EQ(r.answer->addresses[0].address_string(), "2001:db8::5");
  EXPECT_EQ(r.answer->addresses[0].family, 6);
  // The same message is no answer to an A question.
  EXPECT_EQ(dns::parse_answer(Bytes(m.data(), m.size()), kId, "www.example.org", dns::kTypeA).why, Drop::kWrongQuestion);
}

TEST(DnsMessage, NegativeAnswersAndServerFailuresAreAnswersWithoutAddresses) {
  // NXDOMAIN with the zone's SOA in the authority section.
  Msg m;
  header(m, kId, 0x8183, 1, 0, 1, 0);
  name(m, kName);
  u16(m, dns::kTypeA);
  u16(m, dns::kClassIn);
  pointer(m, 16);  // example.org
  rr(m, 6 /* SOA */, 22);
  for (int i = 0; i < 2; ++i) m.push_back(0);
  for (int i = 0; i < 20; ++i) m.push_back(1);
  auto r = parse(m);
  ASSERT_TRUE(r.answer);
  EXPECT_EQ(r.answer->rcode, dns::kRcodeNxDomain);
  EXPECT_TRUE(r.answer->addresses.empty());
  Msg fail;
  header(fail, kId, 0x8182, 1, 0, 0, 0);  // SERVFAIL
  name(fail, kName);
  u16(fail, dns::kTypeA);
  u16(fail, dns::kClassIn);
  r = parse(fail);
  ASSERT_TRUE(r.answer);
  EXPECT_EQ(r.answer->rcode, 2);
}

TEST(DnsMessage, EachBrokenAnswerIsRefusedForItsReason) {
  const Msg good = two_a_records();
  EXPECT_EQ(refused(Msg(good.begin(), good.begin() + 11)), Drop::kTooShort);
  Msg big = good;
  big.resize(limits::kDnsMaxMessage + 1);
  EXPECT_EQ(refused(big), Drop::kTooLong);
  EXPECT_EQ(refused(two_a_records(0x0100)), Drop::kNotAResponse) << "a query, not an answer";
  EXPECT_EQ(refused(two_a_records(0x8980)), Drop::kNotAResponse) << "opcode 1";
  Msg id = good;
  id[1] ^= 1;
  EXPECT_EQ(refused(id), Drop::kWrongId);
  EXPECT_EQ(refused(two_a_records(0x8380)), Drop::kTruncated);
  EXPECT_EQ(refused(good, dns::kTypeAaaa), Drop::kWrongQuestion) << "asked AAAA, answered A";
  EXPECT_EQ(dns::parse_answer(Bytes(good.data(), good.size()), kId, "other.example.org", dns::kTypeA).why,
            Drop::kWrongQuestion);
  Msg two_questions = good;
  two_questions[5] = 2;
  EXPECT_EQ(refused(two_questions), Drop::kWrongQuestion);
  Msg qclass = good;
  qclass[12 + 17 + 3] = 3;  // CHAOS
  EXPECT_EQ(refused(qclass), Drop::kWrongQuestion);

  const std::size_t first_owner = 12 + 17 + 4;  // after the question
  Msg self_pointer = good;
  self_pointer[first_owner] = 0xC0;
  self_pointer[first_owner + 1] = static_cast<std::uint8_t>(first_owner);
  EXPECT_EQ(refused(self_pointer), Drop::kBadName) << "a pointer to itself";
  Msg forward = good;
  forward[first_owner + 1] = static_cast<std::uint8_t>(first_owner + 20);
  EXPECT_EQ(refused(forward), Drop::kBadName) << "a pointer forward";
  Msg label_type = good;
  label_type[first_owner] = 0x40;
  EXPECT_EQ(refused(label_type), Drop::kBadName) << "label type 01";
  Msg a_length = good;
  a_length[first_owner + 2 + 9] = 5;  // RDLENGTH of an A
  EXPECT_EQ(refused(a_length), Drop::kBadRecord);
  Msg past_end = good;
  past_end[first_owner + 2 + 8] = 0x10;  // RDLENGTH 4096
  EXPECT_EQ(refused(past_end), Drop::kBadRecord);
  Msg many = good;
  many[6] = 0;
  many[7] = static_cast<std::uint8_t>(limits::kDnsMaxRecords + 1);
  EXPECT_EQ(refused(many), Drop::kTooManyRecords);
  Msg cut = good;
  cut.resize(first_owner + 2 + 5);  // inside the first record's fixed part
  EXPECT_EQ(refused(cut), Drop::kTooShort);
  Msg more = good;
  more[7] = 4;  // two answer records more than there are: the OPT is read as one, then nothing
  EXPECT_EQ(refused(more), Drop::kTooShort);
}

TEST(DnsMessage, APointerChainLongerThanTheBoundIsRefused) {
  // Each name is a pointer to the one before: the last needs more jumps
  // than kDnsMaxPointers to reach the question's name.
  Msg m;
  header(m, kId, kAnswerFlags, 1, 1, 0, 0);
  name(m, kName);
  u16(m, dns::kTypeA);
  u16(m, dns::kClassIn);
  // The answer's owner must be read; pad with a chain of pointers before it
  // is impossible in-place, so the chain sits in an unknown record's data.
  std::vector<std::uint16_t> at{12};
  Msg chain;
  const std::size_t base = m.size() + 2 + 10;  // after a pointer owner and the fixed part
  for (std::size_t i = 0; i <= limits::kDnsMaxPointers; ++i) {
    at.push_back(static_cast<std::uint16_t>(base + chain.size()));
    pointer(chain, at[at.size() - 2]);
  }
  m[7] = 2;
  pointer(m, 12);
  rr(m, 16 /* TXT */, static_cast<std::uint16_t>(chain.size()));
  m.insert(m.end(), chain.begin(), chain.end());
  pointer(m, at.back());  // owner of the second record: the longest chain
  rr(m, dns::kTypeA, 4);
  for (int i = 0; i < 4; ++i) m.push_back(1);
  EXPECT_EQ(refused(m), Drop::kBadName);
}

TEST(DnsMessage, NoPrefixOrFlippedByteCrashesTheReader) {
  const Msg good = two_a_records();
  for (std::size_t n = 0; n < good.size(); ++n) {
    const Msg prefix(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(n));
    (void)parse(prefix);  // refused or (for the OPT's bytes) still whole answers
  }
  for (std::size_t i = 0; i < good.size(); ++i)
    for (const std::uint8_t v : {0x00, 0x3F, 0x40, 0xC0, 0xFF}) {
      Msg m = good;
      m[i] = v;
      const auto r = parse(m);
      if (r.answer) {
        EXPECT_LE(r.answer->addresses.size(), limits::kDnsMaxRecords);
      }
    }
}

TEST(DnsMessage, DropsAreNamedForStatusAndMetrics) {
  dns::Drops d;
  d.add(Drop::kWrongId);
  d.add(Drop::kWrongId);
  d.add(Drop::kTruncated);
  nlohmann::json j = nlohmann::json::object();
  d.add_to(j, "dns_answer_");
  EXPECT_EQ(j, (nlohmann::json{{"dns_answer_wrong_id", 2}, {"dns_answer_truncated", 1}}));
  EXPECT_EQ(d.total(), 3u);
}

TEST(ResolverFiles, NameserversInOrderSkippingWhatIsNotAnAddress) {
  const auto s = daemon::resolv_conf_servers(
      "# Generated by NetworkManager\nsearch lan\nnameserver 192.168.1.1\n  nameserver\t2001:db8::53 # v6\n"
      "nameserver fe80::1%wlan0\nnameserver 192.168.1.1\nnameserver bogus\noptions edns0 trust-ad\n"
      "; nameserver 10.9.9.9\nnameserver 0.0.0.0\nnameserver 9.9.9.9");
  ASSERT_EQ(s.size(), 3u);
  EXPECT_EQ(s[0].to_string(), "192.168.1.1:53");
  EXPECT_EQ(s[1].to_string(), "[2001:db8::53]:53");
  EXPECT_EQ(s[2].to_string(), "9.9.9.9:53");
}

TEST(ResolverFiles, HostsGivesNamesAndAliasesWithoutCase) {
  const std::string hosts = "127.0.0.1 localhost\n10.3.0.2\thub.lab.test hub # the lab's hub\n"
                            "fd03::2 HUB.lab.test\n# 10.9.9.9 hub.lab.test\n10.3.0.2 hub.lab.test\n";
  const auto a = daemon::hosts_addresses(hosts, "hub.lab.test.");
  ASSERT_EQ(a.size(), 2u);
  EXPECT_EQ(a[0].address_string(), "10.3.0.2");
  EXPECT_EQ(a[1].address_string(), "fd03::2");
  EXPECT_EQ(daemon::hosts_addresses(hosts, "hub").size(), 1u);
  EXPECT_TRUE(daemon::hosts_addresses(hosts, "lab.test").empty());
}

class UpstreamFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("tund-upstream-test-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    paths_ = {(dir_ / "resolved.conf").string(), (dir_ / "resolv.conf").string()};
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  void put(const std::string& path, const std::string& text) { std::ofstream(path) << text; }
  static std::string list(const std::vector<Endpoint>& v) {
    std::string s;
    for (const auto& e : v) s += (s.empty() ? "" : " ") + e.address_string();
    return s;
  }
  std::filesystem::path dir_;
  daemon::UpstreamServers::Paths paths_;
};

TEST_F(UpstreamFiles, ResolvedsListWinsItsStubsNeverAndTheTunnelsServersNever) {
  daemon::UpstreamServers up(paths_);
  up.exclude({*config::parse_ip("10.4.0.53")});
  put(paths_.resolv_conf, "nameserver 127.0.0.53\noptions edns0\n");
  EXPECT_EQ(list(up.current()), "");  // only resolved's stub, and nothing learnt yet
  put(paths_.resolved, "nameserver 192.168.1.1\nnameserver 10.4.0.53\nnameserver 127.0.0.54\n"
                       "nameserver 1.1.1.1\nnameserver 8.8.8.8\nnameserver 9.9.9.9\n");
  EXPECT_EQ(list(up.current()), "192.168.1.1 1.1.1.1 8.8.8.8");  // at most kDnsMaxUpstreams
  EXPECT_EQ(up.source(), paths_.resolved);
  std::filesystem::remove(paths_.resolved);
  put(paths_.resolv_conf, "nameserver 10.9.0.53\n");
  EXPECT_EQ(list(up.current()), "10.9.0.53");
  // resolvconf -x left only the tunnel's server: the last list stands.
  put(paths_.resolv_conf, "nameserver 10.4.0.53\nsearch corp.test\n");
  EXPECT_EQ(list(up.current()), "10.9.0.53");
  EXPECT_NE(up.source().find("the last list seen"), std::string::npos) << up.source();
}

}  // namespace
}  // namespace tund
