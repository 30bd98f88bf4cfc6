// DNS messages for the daemon's own lookups of hub names, without sockets
// (sans-I/O: the fuzzer and the unit tests reach it directly): a query for a
// name's A or AAAA records, and the reading of an answer, which is network
// input. An answer is taken only when it is a response to exactly our
// question (transaction id, name, type and class) and every record it holds
// up to the last answer record lies within the message; anything else is
// refused with its reason (each counted by the caller) and changes nothing.
// Bounded: at most limits::kDnsMaxMessage bytes, kDnsMaxRecords records,
// kDnsMaxPointers compression pointers per name, kDnsMaxCnameHops CNAMEs.
// Nothing here throws or allocates beyond those bounds.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/reason_counts.hpp"
#include "tund/endpoint.hpp"
#include "tund/types.hpp"

namespace tund::daemon::dns {

inline constexpr std::uint16_t kTypeA = 1;
inline constexpr std::uint16_t kTypeCname = 5;
inline constexpr std::uint16_t kTypeAaaa = 28;
inline constexpr std::uint16_t kTypeOpt = 41;
inline constexpr std::uint16_t kClassIn = 1;
inline constexpr std::uint8_t kRcodeNoError = 0;
inline constexpr std::uint8_t kRcodeNxDomain = 3;

// Why an answer was refused.
enum class Drop : std::uint8_t {
  kTooShort,        // shorter than a header, or a question or record cut off
  kTooLong,         // over kDnsMaxMessage
  kNotAResponse,    // QR clear, or an opcode other than QUERY
  kWrongId,         // not the transaction id we sent
  kWrongQuestion,   // not exactly one question, or not ours (name, type, class)
  kTruncated,       // TC set: the server could not fit its answer
  kBadName,         // a label type that does not exist, a pointer loop or forward, a name over 255 bytes
  kBadRecord,       // an A not 4 bytes, an AAAA not 16, record data past the end
  kTooManyRecords,  // more answer records than kDnsMaxRecords
  kCount
};
const char* drop_name(Drop d);
// Refused answers by reason (status and metrics: add_to(drops, "dns_answer_")).
using Drops = ReasonCounts<Drop, drop_name>;

// A name in wire form ("\3hub\7example\3org\0"), lower case: nothing when a
// label is empty or over 63 bytes or the whole over 255 (a trailing dot is
// allowed; the root alone is not a name to ask for).
std::optional<std::vector<std::uint8_t>> encode_name(std::string_view name);

// A recursive query (RD) for `name`'s records of `type`, with an EDNS0 OPT
// record offering kDnsMaxMessage bytes. Nothing when the name cannot be encoded.
std::optional<std::vector<std::uint8_t>> build_query(std::uint16_t id, std::string_view name, std::uint16_t type);

// What a taken answer says.
struct Answer {
  std::uint8_t rcode = 0;           // kRcodeNoError, kRcodeNxDomain, or a failure of the server's
  std::vector<Endpoint> addresses;  // of the type asked, owned by the name or its CNAME chain; port 0
};

struct ParseResult {
  std::optional<Answer> answer;  // set: taken
  Drop why = Drop::kCount;       // otherwise: why not
};

// Reads `message` as the answer to query `id` for `name` (as given to
// build_query) and `type`.
ParseResult parse_answer(Bytes message, std::uint16_t id, std::string_view name, std::uint16_t type);

}  // namespace tund::daemon::dns
