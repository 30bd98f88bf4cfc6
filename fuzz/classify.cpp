// wire::classify: any bytes; a type is returned only for the exact sizes.
#include "fuzz.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace tund;
  const auto t = wire::classify(Bytes(data, size));
  if (!t) return 0;
  fuzz::check(size >= 4 && data[1] == 0 && data[2] == 0 && data[3] == 0, "reserved bytes");
  switch (*t) {
    case wire::MessageType::kInitiation: fuzz::check(size == wire::initiation::kSize, "initiation size"); break;
    case wire::MessageType::kResponse: fuzz::check(size == wire::response::kSize, "response size"); break;
    case wire::MessageType::kCookieReply: fuzz::check(size == wire::cookie_reply::kSize, "cookie size"); break;
    case wire::MessageType::kData:
    case wire::MessageType::kDataCopy:
    case wire::MessageType::kDataBond:
      fuzz::check(size >= wire::transport::kMinSize + wire::transport::kSeqSize, "data size");
      break;
    case wire::MessageType::kControl:
      // Padded path MTU probes: control messages up to one datagram.
      fuzz::check(size >= wire::transport::kMinSize && size <= wire::control::kMaxDatagram, "control size");
      break;
  }
  return 0;
}
