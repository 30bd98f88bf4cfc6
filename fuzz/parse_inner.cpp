// parse_inner (IPv4 and IPv6): never reads past the bytes given, and a length
// it reports fits them. The IPv4 fragmenter on the same bytes (the first two
// choose the inner MTU): every fragment fits the MTU and has a valid header,
// and joined they are the original's payload.
#include <cstring>
#include <vector>

#include "fuzz.hpp"
#include "offload/checksum.hpp"
#include "session/inner_mtu.hpp"
#include "session/ip_packet.hpp"

namespace {

void check_fragments(const std::uint8_t* data, std::size_t size) {
  using namespace tund;
  if (size < 2) return;
  const std::size_t mtu = 28 + (data[0] << 8 | data[1]) % 1500;
  const Bytes packet(data + 2, size - 2);
  const std::size_t n = session::ipv4_fragment_count(packet, mtu);
  std::vector<std::uint8_t> joined, out(mtu);
  for (std::size_t k = 0; k < n; ++k) {
    const std::size_t len = session::ipv4_fragment(packet, mtu, k, out);
    fuzz::check(len > 20 && len <= mtu, "a fragment fits the MTU");
    fuzz::check(offload::checksum_fold(offload::checksum_add(Bytes(out.data(), 20))) == 0xffff, "header checksum");
    fuzz::check(load_be16(out.data() + 2) == len, "total length");
    joined.insert(joined.end(), out.begin() + 20, out.begin() + static_cast<std::ptrdiff_t>(len));
  }
  fuzz::check(session::ipv4_fragment(packet, mtu, n, out) == 0, "no fragment past the count");
  if (n) fuzz::check(joined.size() == packet.size() - 20 && std::memcmp(joined.data(), packet.data() + 20, joined.size()) == 0,
                     "the fragments join to the payload");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace tund;
  check_fragments(data, size);
  const auto p = session::parse_inner(Bytes(data, size));
  if (!p) return 0;
  fuzz::check(p->version == 4 || p->version == 6, "version");
  fuzz::check(p->length <= size, "length within the bytes");
  if (p->version == 6) fuzz::check(p->src6 && p->dst6 && p->length >= 40, "IPv6 addresses");
  return 0;
}
