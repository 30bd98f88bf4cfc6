// parse_inner (IPv4 and IPv6): never reads past the bytes given, and a length
// it reports fits them.
#include "fuzz.hpp"
#include "session/ip_packet.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace tund;
  const auto p = session::parse_inner(Bytes(data, size));
  if (!p) return 0;
  fuzz::check(p->version == 4 || p->version == 6, "version");
  fuzz::check(p->length <= size, "length within the bytes");
  if (p->version == 6) fuzz::check(p->src6 && p->dst6 && p->length >= 40, "IPv6 addresses");
  return 0;
}
