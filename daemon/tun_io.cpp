#include "daemon/tun_io.hpp"

#include "tund/wire.hpp"

namespace tund::daemon {

std::size_t tx_stride(unsigned mtu) {
  return (mtu + wire::transport::kDataOverhead + 63) / 64 * 64;
}

TunReader::Read TunReader::read_into(TxBatch& b, std::size_t headroom, std::size_t tailroom) {
  if (!pending_) {
    const long n = tun_.read_packet(MutableBytes(buf_.data(), buf_.size()));
    if (n == 0) return {Status::kEmpty};
    if (n < 0) return {Status::kError};
    pending_ = static_cast<std::size_t>(n);
  }
  const std::size_t n = pending_;
  if (n < offload::kVnetHeaderSize) {
    pending_ = 0;
    ++drops_;
    return {Status::kDropped};
  }
  const auto header = offload::VnetHeader::read(buf_.data());
  if (lengths_.size() < b.slots()) lengths_.resize(b.slots());
  offload::SegmentSlots out{b.slot(b.count) + headroom, b.stride(), b.stride() - headroom - tailroom, b.free(),
                            lengths_.data()};
  const auto r = offload::gso_split(header, Bytes(buf_.data() + offload::kVnetHeaderSize, n - offload::kVnetHeaderSize), out);
  if (r.error == offload::SplitError::kTooManySegments && b.count > 0) return {Status::kNeedFlush};
  pending_ = 0;
  if (r.error != offload::SplitError::kNone) {
    ++drops_;
    return {Status::kDropped};
  }
  const std::size_t first = b.count;
  for (std::size_t i = 0; i < r.count; ++i) b.entry(first + i).len = lengths_[i];  // inner length for now
  b.count += r.count;
  return {Status::kPacket, first, r.count};
}

void TunWriter::add(Bytes inner) {
  if (gro_.add(inner)) return;
  flush();
  gro_.add(inner);
}

void TunWriter::flush() {
  if (gro_.empty()) return;
  gro_.finish();
  for (std::size_t i = 0; i < gro_.size(); ++i)
    if (!tun_.write_packet(gro_.item(i))) ++write_errors_;
  gro_.clear();
}

}  // namespace tund::daemon
