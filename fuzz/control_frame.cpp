// decode_control, then encode_control of what it accepted: the same bytes.
#include <cstring>

#include "fuzz.hpp"
#include "session/control.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace tund;
  const auto frame = session::decode_control(Bytes(data, size));
  if (!frame) return 0;
  std::uint8_t out[wire::control::kMaxSize];
  const std::size_t n = session::encode_control(*frame, out);
  fuzz::check(n <= sizeof out, "encoded size");
  const auto again = session::decode_control(Bytes(out, n));
  fuzz::check(again.has_value(), "re-decode");
  std::uint8_t out2[wire::control::kMaxSize];
  fuzz::check(session::encode_control(*again, out2) == n && std::memcmp(out, out2, n) == 0, "round trip");
  return 0;
}
