#include "offload/checksum.hpp"

#include <cstring>

namespace tund::offload {

std::uint64_t checksum_add(Bytes data, std::uint64_t sum) {
  const std::uint8_t* p = data.data();
  std::size_t n = data.size();
  // Eight bytes at a time: the ones'-complement sum is byte-order independent
  // up to a final swap, so native 32-bit halves are summed and swapped once.
  std::uint64_t acc = 0;
  while (n >= 8) {
    std::uint64_t w;
    std::memcpy(&w, p, 8);
    acc += w & 0xffffffffu;
    acc += w >> 32;
    p += 8;
    n -= 8;
  }
  while (n >= 2) {
    std::uint16_t w;
    std::memcpy(&w, p, 2);
    acc += w;
    p += 2;
    n -= 2;
  }
  if (n) acc += *p;  // little-endian: the odd byte is the low half of a native word
  // Fold the native sum to 16 bits and convert to network order.
  while (acc >> 16) acc = (acc & 0xffff) + (acc >> 16);
  const auto native = static_cast<std::uint16_t>(acc);
  static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "checksum_add assumes a little-endian host");
  return sum + static_cast<std::uint16_t>((native >> 8) | (native << 8));
}

std::uint16_t checksum_fold(std::uint64_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(sum);
}

std::uint64_t pseudo_header_v4(const std::uint8_t* src, const std::uint8_t* dst, std::uint8_t proto,
                               std::uint32_t l4_len) {
  std::uint64_t s = checksum_add(Bytes(src, 4));
  s = checksum_add(Bytes(dst, 4), s);
  return s + proto + l4_len;
}

std::uint64_t pseudo_header_v6(const std::uint8_t* src, const std::uint8_t* dst, std::uint8_t proto,
                               std::uint32_t l4_len) {
  std::uint64_t s = checksum_add(Bytes(src, 16));
  s = checksum_add(Bytes(dst, 16), s);
  return s + proto + (l4_len >> 16) + (l4_len & 0xffff);
}

void fix_ipv4_header_checksum(std::uint8_t* ip, std::size_t ihl_bytes) {
  ip[10] = ip[11] = 0;
  store_be16(ip + 10, static_cast<std::uint16_t>(~checksum_fold(checksum_add(Bytes(ip, ihl_bytes)))));
}

void checksum_update_word(std::uint8_t* field, std::uint16_t old_word, std::uint16_t new_word) {
  // HC' = ~(~HC + ~m + m')
  std::uint32_t sum = static_cast<std::uint16_t>(~load_be16(field));
  sum += static_cast<std::uint16_t>(~old_word);
  sum += new_word;
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  store_be16(field, static_cast<std::uint16_t>(~sum));
}

}  // namespace tund::offload
