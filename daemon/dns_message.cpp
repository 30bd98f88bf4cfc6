#include "daemon/dns_message.hpp"

#include <algorithm>

#include "tund/limits.hpp"

namespace tund::daemon::dns {

namespace {

constexpr std::size_t kHeader = 12;
constexpr std::uint16_t kFlagResponse = 0x8000;
constexpr std::uint16_t kFlagTruncated = 0x0200;
constexpr std::uint16_t kFlagRecursionDesired = 0x0100;

std::uint16_t be16(Bytes m, std::size_t at) { return static_cast<std::uint16_t>(m[at] << 8 | m[at + 1]); }

void put16(std::vector<std::uint8_t>& out, std::uint16_t v) {
  out.push_back(static_cast<std::uint8_t>(v >> 8));
  out.push_back(static_cast<std::uint8_t>(v));
}

std::uint8_t lower(std::uint8_t c) { return c >= 'A' && c <= 'Z' ? static_cast<std::uint8_t>(c + 32) : c; }

// A name in wire form, lower case, from `at`: the labels and any
// compression pointers (each strictly backwards, at most kDnsMaxPointers).
// `next` is where the name ends in the message (after its first pointer).
std::optional<Drop> read_name(Bytes m, std::size_t at, std::string& out, std::size_t& next) {
  out.clear();
  std::size_t p = at, jumps = 0;
  bool jumped = false;
  for (;;) {
    if (p >= m.size()) return Drop::kTooShort;
    const std::uint8_t len = m[p];
    if ((len & 0xC0) == 0xC0) {
      if (p + 1 >= m.size()) return Drop::kTooShort;
      const std::size_t target = static_cast<std::size_t>(len & 0x3F) << 8 | m[p + 1];
      if (!jumped) next = p + 2;
      jumped = true;
      if (target >= p || ++jumps > limits::kDnsMaxPointers) return Drop::kBadName;
      p = target;
      continue;
    }
    if (len & 0xC0) return Drop::kBadName;  // 01 and 10: label types that were never deployed
    if (len == 0) {
      out.push_back('\0');
      if (!jumped) next = p + 1;
      return std::nullopt;
    }
    if (p + 1 + len > m.size()) return Drop::kTooShort;
    if (out.size() + 1 + len + 1 > limits::kDnsMaxName) return Drop::kBadName;
    out.push_back(static_cast<char>(len));
    for (std::size_t i = 0; i < len; ++i) out.push_back(static_cast<char>(lower(m[p + 1 + i])));
    p += 1 + len;
  }
}

struct Record {
  std::string owner;
  std::uint16_t type = 0;
  std::size_t data = 0;     // offset of the record's data
  std::string target;       // a CNAME's
};

bool contains(const std::vector<std::string>& names, const std::string& n) {
  return std::find(names.begin(), names.end(), n) != names.end();
}

}  // namespace

const char* drop_name(Drop d) {
  switch (d) {
    case Drop::kTooShort: return "too_short";
    case Drop::kTooLong: return "too_long";
    case Drop::kNotAResponse: return "not_a_response";
    case Drop::kWrongId: return "wrong_id";
    case Drop::kWrongQuestion: return "wrong_question";
    case Drop::kTruncated: return "truncated";
    case Drop::kBadName: return "bad_name";
    case Drop::kBadRecord: return "bad_record";
    case Drop::kTooManyRecords: return "too_many_records";
    case Drop::kCount: break;
  }
  return "unknown";
}

std::optional<std::vector<std::uint8_t>> encode_name(std::string_view name) {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  if (name.empty()) return std::nullopt;
  std::vector<std::uint8_t> out;
  for (;;) {
    const auto dot = name.find('.');
    const auto label = name.substr(0, dot);
    if (label.empty() || label.size() > 63) return std::nullopt;
    out.push_back(static_cast<std::uint8_t>(label.size()));
    for (const char c : label) out.push_back(lower(static_cast<std::uint8_t>(c)));
    if (dot == std::string_view::npos) break;
    name.remove_prefix(dot + 1);
  }
  out.push_back(0);
  if (out.size() > limits::kDnsMaxName) return std::nullopt;
  return out;
}

std::optional<std::vector<std::uint8_t>> build_query(std::uint16_t id, std::string_view name, std::uint16_t type) {
  const auto qname = encode_name(name);
  if (!qname) return std::nullopt;
  std::vector<std::uint8_t> q;
  q.reserve(kHeader + qname->size() + 4 + 11);
  put16(q, id);
  put16(q, kFlagRecursionDesired);
  put16(q, 1);  // one question
  put16(q, 0);
  put16(q, 0);
  put16(q, 1);  // one additional record: OPT
  q.insert(q.end(), qname->begin(), qname->end());
  put16(q, type);
  put16(q, kClassIn);
  // OPT (RFC 6891): the root name, our UDP payload size as its class, no flags.
  q.push_back(0);
  put16(q, kTypeOpt);
  put16(q, static_cast<std::uint16_t>(limits::kDnsMaxMessage));
  put16(q, 0);
  put16(q, 0);
  put16(q, 0);
  return q;
}

ParseResult parse_answer(Bytes m, std::uint16_t id, std::string_view name, std::uint16_t type) {
  const auto refuse = [](Drop why) { return ParseResult{std::nullopt, why}; };
  if (m.size() < kHeader) return refuse(Drop::kTooShort);
  if (m.size() > limits::kDnsMaxMessage) return refuse(Drop::kTooLong);
  const std::uint16_t flags = be16(m, 2);
  if (!(flags & kFlagResponse) || (flags >> 11 & 0xF) != 0) return refuse(Drop::kNotAResponse);
  if (be16(m, 0) != id) return refuse(Drop::kWrongId);
  if (flags & kFlagTruncated) return refuse(Drop::kTruncated);
  if (be16(m, 4) != 1) return refuse(Drop::kWrongQuestion);
  const auto asked = encode_name(name);
  if (!asked) return refuse(Drop::kWrongQuestion);
  std::string qname;
  std::size_t pos = 0;
  if (const auto bad = read_name(m, kHeader, qname, pos)) return refuse(*bad);
  if (pos + 4 > m.size()) return refuse(Drop::kTooShort);
  if (qname != std::string(asked->begin(), asked->end()) || be16(m, pos) != type || be16(m, pos + 2) != kClassIn)
    return refuse(Drop::kWrongQuestion);
  pos += 4;
  const std::size_t count = be16(m, 6);
  if (count > limits::kDnsMaxRecords) return refuse(Drop::kTooManyRecords);

  std::vector<Record> records;
  records.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    Record r;
    if (const auto bad = read_name(m, pos, r.owner, pos)) return refuse(*bad);
    if (pos + 10 > m.size()) return refuse(Drop::kTooShort);
    r.type = be16(m, pos);
    const std::uint16_t rclass = be16(m, pos + 2);
    const std::size_t length = be16(m, pos + 8);
    r.data = pos + 10;
    if (r.data + length > m.size()) return refuse(Drop::kBadRecord);
    pos = r.data + length;
    if (rclass != kClassIn) continue;
    if ((r.type == kTypeA && length != 4) || (r.type == kTypeAaaa && length != 16)) return refuse(Drop::kBadRecord);
    if (r.type == kTypeCname) {
      std::size_t end = 0;
      if (const auto bad = read_name(m, r.data, r.target, end)) return refuse(*bad);
      if (end != pos) return refuse(Drop::kBadRecord);
    }
    if (r.type == kTypeA || r.type == kTypeAaaa || r.type == kTypeCname) records.push_back(std::move(r));
  }

  // The name asked and the names its CNAME chain leads to (never a loop: a
  // name is added once).
  std::vector<std::string> names{qname};
  for (std::size_t hop = 0; hop < limits::kDnsMaxCnameHops; ++hop) {
    bool added = false;
    for (const auto& r : records)
      if (r.type == kTypeCname && contains(names, r.owner) && !contains(names, r.target)) {
        names.push_back(r.target);
        added = true;
      }
    if (!added) break;
  }
  Answer answer;
  answer.rcode = static_cast<std::uint8_t>(flags & 0xF);
  for (const auto& r : records) {
    if (r.type != type || (type != kTypeA && type != kTypeAaaa) || !contains(names, r.owner)) continue;
    Endpoint e;
    e.family = type == kTypeA ? 4 : 6;
    std::copy_n(m.begin() + static_cast<std::ptrdiff_t>(r.data), type == kTypeA ? 4 : 16, e.addr.begin());
    answer.addresses.push_back(e);
  }
  return {std::move(answer), Drop::kCount};
}

}  // namespace tund::daemon::dns
