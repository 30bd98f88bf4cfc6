// GroTable::add + finish on fuzzed packets (the input is split into packets
// by 2-byte lengths). Every packet in is accounted for in the items out, each
// item is a sane vnet header + packet, and splitting each item again with
// gso_split gives back exactly the packets that went into it (less any
// padding past an IP total length).
#include <cstring>

#include "fuzz.hpp"
#include "offload/gro_table.hpp"
#include "offload/gso_split.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace tund;
  static offload::GroTable table(8);  // 8 x 64 KiB, allocated once
  table.clear();
  std::vector<std::vector<std::uint8_t>> in;
  std::size_t pos = 0;
  while (pos + 2 <= size && in.size() < 16) {
    const std::size_t len = std::min<std::size_t>((data[pos] | data[pos + 1] << 8) % 1600, size - pos - 2);
    in.emplace_back(data + pos + 2, data + pos + 2 + len);
    pos += 2 + len;
    if (!table.add(Bytes(in.back().data(), in.back().size()))) {
      in.pop_back();
      break;
    }
  }
  table.finish();
  std::vector<std::vector<std::uint8_t>> out;
  constexpr std::size_t kSlot = 2048, kSlots = 64;
  std::vector<std::uint8_t> area(kSlot * kSlots);
  std::size_t lengths[kSlots];
  for (std::size_t i = 0; i < table.size(); ++i) {
    const Bytes item = table.item(i);
    fuzz::check(item.size() >= offload::kVnetHeaderSize, "item has a vnet header");
    const auto h = offload::VnetHeader::read(item.data());
    const Bytes packet = item.subspan(offload::kVnetHeaderSize);
    if (h.gso_type == offload::kGsoNone) {
      out.emplace_back(packet.begin(), packet.end());
      continue;
    }
    const auto r = offload::gso_split(h, packet, offload::SegmentSlots{area.data(), kSlot, kSlot, kSlots, lengths});
    fuzz::check(r.error == offload::SplitError::kNone, "a merged item splits again");
    for (std::size_t k = 0; k < r.count; ++k) out.emplace_back(area.data() + k * kSlot, area.data() + k * kSlot + lengths[k]);
  }
  fuzz::check(out.size() == in.size(), "every packet accounted for");
  // Unmerged packets pass unchanged; merged ones come back byte for byte
  // (their checksums were verified before merging, so recomputing them is exact).
  for (std::size_t i = 0; i < in.size(); ++i) {
    // Bytes past the IP total length are padding and are not passed on.
    fuzz::check(out[i].size() <= in[i].size(), "never longer than what came in");
    fuzz::check(std::equal(out[i].begin(), out[i].end(), in[i].begin()), "split(coalesce(x)) == x");
  }
  return 0;
}
