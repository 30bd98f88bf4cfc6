#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace tund::test {

inline std::vector<std::uint8_t> from_hex(const std::string& s) {
  if (s.size() % 2) throw std::invalid_argument("odd hex length");
  std::vector<std::uint8_t> out(s.size() / 2);
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = static_cast<std::uint8_t>(std::stoul(s.substr(2 * i, 2), nullptr, 16));
  return out;
}

template <class Range>
std::string to_hex(const Range& r) {
  static const char* digits = "0123456789abcdef";
  std::string s;
  for (std::uint8_t b : r) {
    s += digits[b >> 4];
    s += digits[b & 15];
  }
  return s;
}

}  // namespace tund::test
