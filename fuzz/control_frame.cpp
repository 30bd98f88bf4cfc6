// decode_control, then encode_control of what it accepted: the same bytes
// (a probe's zero padding included).
#include <cstring>
#include <vector>

#include "fuzz.hpp"
#include "session/control.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace tund;
  const auto frame = session::decode_control(Bytes(data, size));
  if (!frame) return 0;
  const std::size_t n = session::encoded_size(*frame);
  fuzz::check(n == size, "encoded size");
  std::vector<std::uint8_t> out(n), out2(n);
  fuzz::check(session::encode_control(*frame, out.data()) == n, "encode");
  fuzz::check(std::memcmp(out.data(), data, n) == 0, "same bytes");
  const auto again = session::decode_control(out);
  fuzz::check(again.has_value(), "re-decode");
  fuzz::check(session::encode_control(*again, out2.data()) == n && out == out2, "round trip");
  return 0;
}
