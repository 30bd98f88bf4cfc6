// gso_split with guard gaps between every output slot: a segment never
// spills past its slot's capacity, whatever the header and packet claim.
#include <cstring>

#include "fuzz.hpp"
#include "offload/gso_split.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace tund;
  if (size < offload::kVnetHeaderSize + 2) return 0;
  const auto h = offload::VnetHeader::read(data);
  const std::size_t capacity = 200 + (data[offload::kVnetHeaderSize] | data[offload::kVnetHeaderSize + 1] << 8) % 1400;
  constexpr std::size_t kSlots = 16, kGuard = 64;
  const std::size_t stride = capacity + kGuard;
  std::vector<std::uint8_t> area(stride * kSlots, 0xa5);
  std::size_t lengths[kSlots];
  const Bytes packet(data + offload::kVnetHeaderSize + 2, size - offload::kVnetHeaderSize - 2);
  const auto r = offload::gso_split(h, packet, offload::SegmentSlots{area.data(), stride, capacity, kSlots, lengths});
  if (r.error != offload::SplitError::kNone) fuzz::check(r.count == 0, "an error produces nothing");
  fuzz::check(r.count <= kSlots, "slot count");
  for (std::size_t i = 0; i < r.count; ++i) fuzz::check(lengths[i] <= capacity, "segment within capacity");
  for (std::size_t s = 0; s < kSlots; ++s)
    for (std::size_t g = capacity; g < stride; ++g) fuzz::check(area[s * stride + g] == 0xa5, "guard gap untouched");
  return 0;
}
